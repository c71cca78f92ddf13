import Foundation

/// Minimal reader for the committed `.safetensors` fixtures (F32 and I32 only), so these tests do not
/// depend on the Checkpoint module: 8-byte little-endian header length, JSON header, raw data.
struct SafeTensorsFixture {
    struct Entry {
        let dtype: String
        let shape: [Int]
        let start: Int
        let end: Int
    }

    enum ReadError: Error, CustomStringConvertible {
        case malformed(String)
        var description: String {
            switch self { case .malformed(let m): return m }
        }
    }

    let url: URL
    let entries: [String: Entry]
    private let data: Data
    private let dataStart: Int

    init(_ url: URL) throws {
        self.url = url
        data = try Data(contentsOf: url)
        guard data.count >= 8 else { throw ReadError.malformed("\(url.path): shorter than 8 bytes") }
        let headerLength = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        guard 8 + headerLength <= data.count,
            let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + headerLength)))
                as? [String: Any]
        else { throw ReadError.malformed("\(url.path): bad header") }
        var entries: [String: Entry] = [:]
        for (name, value) in header where name != "__metadata__" {
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int], offsets.count == 2
            else { throw ReadError.malformed("\(url.path): bad entry \(name)") }
            entries[name] = Entry(dtype: dtype, shape: shape, start: offsets[0], end: offsets[1])
        }
        self.entries = entries
        dataStart = 8 + headerLength
    }

    var names: [String] { entries.keys.sorted() }

    func shape(_ name: String) throws -> [Int] {
        guard let entry = entries[name] else { throw ReadError.malformed("\(url.path): no tensor \(name)") }
        return entry.shape
    }

    func floats(_ name: String) throws -> [Float] {
        try values(name, dtype: "F32", as: Float.self)
    }

    func ints(_ name: String) throws -> [Int32] {
        try values(name, dtype: "I32", as: Int32.self)
    }

    private func values<T>(_ name: String, dtype: String, as type: T.Type) throws -> [T] {
        guard let entry = entries[name] else { throw ReadError.malformed("\(url.path): no tensor \(name)") }
        guard entry.dtype == dtype else { throw ReadError.malformed("\(url.path): \(name) is \(entry.dtype), not \(dtype)") }
        let count = (entry.end - entry.start) / MemoryLayout<T>.stride
        return data.withUnsafeBytes { raw in
            (0..<count).map { i in
                raw.loadUnaligned(fromByteOffset: dataStart + entry.start + i * MemoryLayout<T>.stride, as: T.self)
            }
        }
    }
}

enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/bert")
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
}

/// max |a − b|
func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

/// ‖a − b‖₂ / ‖b‖₂ in Double.
func relativeL2Error(_ a: [Float], _ b: [Float]) -> Double {
    var difference = 0.0, norm = 0.0
    for (x, y) in zip(a, b) {
        difference += Double(x - y) * Double(x - y)
        norm += Double(y) * Double(y)
    }
    return (difference / max(norm, 1e-30)).squareRoot()
}
