import Foundation
import TensorKernels

/// Element types of the safetensors format. Only the float types can fill parameters;
/// the others are recognised so their sizes validate (e.g. the I64 `embeddings.position_ids` buffer).
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    case F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL
    case F8_E4M3, F8_E5M2

    public var byteSize: Int {
        switch self {
        case .F64, .I64, .U64: return 8
        case .F32, .I32, .U32: return 4
        case .F16, .BF16, .I16, .U16: return 2
        case .I8, .U8, .BOOL, .F8_E4M3, .F8_E5M2: return 1
        }
    }

    /// Types converted exactly to Float when loading parameters.
    public var isLoadableAsFloat: Bool { self == .F32 || self == .F16 || self == .BF16 }
}

public struct SafeTensorsEntry: Sendable, Equatable {
    public let name: String
    public let dtype: SafeTensorsDType
    public let shape: [Int]
    /// Byte range relative to the start of the data section.
    public let dataRange: Range<Int>
    public var elementCount: Int { shape.reduce(1, *) }
}

/// A parsed safetensors file held in memory, validated as strictly as the reference
/// implementation: tensors must tile the data section exactly, in offset order.
public struct SafeTensorsFile: Sendable {
    /// Larger headers are refused (the reference implementation's limit).
    public static let maximumHeaderLength = 100_000_000
    public static let metadataKey = "__metadata__"

    public let source: String
    public let bytes: [UInt8]
    public let dataStart: Int
    /// Entries in data-offset order.
    public let entries: [SafeTensorsEntry]
    public let metadata: [String: String]
    private let indexByName: [String: Int]

    /// Reads just enough to check the header length, then the header, so that an
    /// oversized length is refused before anything is allocated.
    public init(bytes: [UInt8], source: String) throws {
        self.source = source
        self.bytes = bytes
        let header = try SafeTensorsHeader(prefix: bytes, source: source)
        dataStart = header.dataStart
        let dataLength = bytes.count - dataStart
        var expectedStart = 0
        for entry in header.entries {
            guard entry.dataRange.lowerBound == expectedStart else {
                let problem = entry.dataRange.lowerBound < expectedStart ? "overlaps the previous tensor" : "leaves a gap after the previous tensor"
                throw CheckpointError.invalidTensor(
                    file: source, tensor: entry.name,
                    reason: "data_offsets \(entry.dataRange.lowerBound)..<\(entry.dataRange.upperBound) \(problem) (expected start \(expectedStart))")
            }
            guard entry.dataRange.upperBound <= dataLength else {
                throw CheckpointError.invalidTensor(
                    file: source, tensor: entry.name,
                    reason: "data_offsets end \(entry.dataRange.upperBound) is past the \(dataLength)-byte data section (truncated?)")
            }
            expectedStart = entry.dataRange.upperBound
        }
        guard expectedStart == dataLength else {
            throw CheckpointError.invalidHeader(
                file: source, reason: "tensors cover \(expectedStart) bytes but the data section has \(dataLength)")
        }
        self.entries = header.entries
        self.metadata = header.metadata
        self.indexByName = Dictionary(uniqueKeysWithValues: header.entries.enumerated().map { ($1.name, $0) })
    }

    fileprivate static func parseEntry(name: String, value: Any, source: String) throws -> SafeTensorsEntry {
        func invalid(_ reason: String) -> CheckpointError { .invalidTensor(file: source, tensor: name, reason: reason) }
        guard let fields = value as? [String: Any] else { throw invalid("entry is not a JSON object") }
        guard let dtypeName = fields["dtype"] as? String else { throw invalid("missing dtype") }
        guard let dtype = SafeTensorsDType(rawValue: dtypeName) else { throw invalid("unknown dtype '\(dtypeName)'") }
        guard let shapeValues = fields["shape"] as? [Any] else { throw invalid("missing shape") }
        let shape = try shapeValues.map { item -> Int in
            guard let number = item as? NSNumber, let dim = Int(exactly: number.doubleValue), dim >= 0
            else { throw invalid("shape \(shapeValues) is not a list of non-negative integers") }
            return dim
        }
        guard let offsets = fields["data_offsets"] as? [Any], offsets.count == 2,
              let begin = (offsets[0] as? NSNumber).flatMap({ Int(exactly: $0.doubleValue) }),
              let end = (offsets[1] as? NSNumber).flatMap({ Int(exactly: $0.doubleValue) }),
              begin >= 0, end >= begin
        else { throw invalid("data_offsets must be two integers [begin, end] with begin <= end") }
        guard let elements = MemoryBudget.product(shape) else { throw invalid("shape \(shape) is too large") }
        guard let byteCount = MemoryBudget.product(elements, dtype.byteSize) else {
            throw invalid("shape \(shape) × \(dtype.rawValue) is too large")
        }
        guard byteCount == end - begin else {
            throw invalid("shape \(shape) × \(dtype.rawValue) needs \(byteCount) bytes but data_offsets span \(end - begin)")
        }
        return SafeTensorsEntry(name: name, dtype: dtype, shape: shape, dataRange: begin..<end)
    }

    public func entry(_ name: String) -> SafeTensorsEntry? {
        indexByName[name].map { entries[$0] }
    }

    /// Converts one tensor to Float (exactly, for F32/F16/BF16) into `destination`, which
    /// must hold `entry.elementCount` values.
    public func readFloats(_ entry: SafeTensorsEntry, into destination: UnsafeMutableBufferPointer<Float>) throws {
        guard destination.count == entry.elementCount else {
            throw CheckpointError.invalidTensor(
                file: source, tensor: entry.name,
                reason: "has \(entry.elementCount) elements, destination holds \(destination.count)")
        }
        guard let out = destination.baseAddress else { return }
        try bytes.withUnsafeBytes { raw in
            let data = UnsafeRawBufferPointer(rebasing: raw[(dataStart + entry.dataRange.lowerBound)..<(dataStart + entry.dataRange.upperBound)])
            switch entry.dtype {
            case .F32:
                // Safetensors is little-endian, as is every platform we run on; the copy
                // is bytewise because the data section need not be 4-byte aligned.
                UnsafeMutableRawPointer(out).copyMemory(from: data.baseAddress!, byteCount: data.count)
            case .F16:
                for i in 0..<entry.elementCount {
                    let bits = UInt16(littleEndian: data.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                    out[i] = Float(Float16(bitPattern: bits))
                }
            case .BF16:
                // bfloat16 is the upper half of a float32, so widening is exact.
                for i in 0..<entry.elementCount {
                    let bits = UInt16(littleEndian: data.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                    out[i] = Float(bitPattern: UInt32(bits) << 16)
                }
            default:
                throw CheckpointError.invalidTensor(
                    file: source, tensor: entry.name, reason: "dtype \(entry.dtype.rawValue) cannot be loaded as a float parameter")
            }
        }
        let nonFinite = destination.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
        guard nonFinite == 0 else {
            throw CheckpointError.invalidTensor(
                file: source, tensor: entry.name, reason: "holds \(nonFinite) non-finite value(s) (NaN or Inf); refused")
        }
    }

    /// A tensor as a new Float array (convenience for tests and small tensors).
    public func floats(_ name: String) throws -> [Float] {
        guard let entry = entry(name) else {
            throw CheckpointError.missingTensors(file: source, names: [name])
        }
        var values = [Float](repeating: 0, count: entry.elementCount)
        try values.withUnsafeMutableBufferPointer { try readFloats(entry, into: $0) }
        return values
    }
}

/// The length prefix and JSON header of a safetensors file, parsed from the file's first bytes.
/// It tells the whole file's size before the data is read, so a reader can bound what it allocates.
public struct SafeTensorsHeader: Sendable {
    /// Byte offset of the data section (8 + header length).
    public let dataStart: Int
    /// Entries in data-offset order.
    public let entries: [SafeTensorsEntry]
    public let metadata: [String: String]

    /// The file size the header implies: the data section ends where the last tensor ends.
    public var impliedFileSize: Int { dataStart + (entries.last?.dataRange.upperBound ?? 0) }

    /// Bytes needed to parse the header: the 8-byte length, then that many bytes.
    public static func requiredPrefix(lengthField: some Collection<UInt8>, source: String) throws -> Int {
        guard lengthField.count >= 8 else {
            throw CheckpointError.invalidHeader(file: source, reason: "file is \(lengthField.count) bytes, shorter than the 8-byte header length")
        }
        let headerLength = lengthField.prefix(8).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard headerLength <= UInt64(SafeTensorsFile.maximumHeaderLength) else {
            throw CheckpointError.invalidHeader(
                file: source, reason: "header length \(headerLength) exceeds the \(SafeTensorsFile.maximumHeaderLength)-byte limit")
        }
        return 8 + Int(headerLength)
    }

    /// Parses the header from `prefix`, which holds at least `requiredPrefix` bytes of the file.
    public init(prefix bytes: [UInt8], source: String) throws {
        dataStart = try Self.requiredPrefix(lengthField: bytes.prefix(8), source: source)
        guard dataStart <= bytes.count else {
            throw CheckpointError.invalidHeader(
                file: source, reason: "header length \(dataStart - 8) runs past the end of the \(bytes.count)-byte file (truncated?)")
        }
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(bytes[8..<dataStart]))
        } catch {
            throw CheckpointError.invalidHeader(file: source, reason: "header is not valid JSON (\(error.localizedDescription))")
        }
        guard let object = json as? [String: Any] else {
            throw CheckpointError.invalidHeader(file: source, reason: "header is not a JSON object")
        }
        var metadata: [String: String] = [:]
        var entries: [SafeTensorsEntry] = []
        for (name, value) in object {
            if name == SafeTensorsFile.metadataKey {
                guard let map = value as? [String: Any] else {
                    throw CheckpointError.invalidHeader(file: source, reason: "__metadata__ is not an object")
                }
                for (key, item) in map {
                    guard let text = item as? String else {
                        throw CheckpointError.invalidHeader(file: source, reason: "__metadata__ value '\(key)' is not a string")
                    }
                    metadata[key] = text
                }
                continue
            }
            entries.append(try SafeTensorsFile.parseEntry(name: name, value: value, source: source))
        }
        entries.sort { ($0.dataRange.lowerBound, $0.dataRange.upperBound) < ($1.dataRange.lowerBound, $1.dataRange.upperBound) }
        // impliedFileSize adds the data section's start to the last end: it must not overflow.
        if let last = entries.max(by: { $0.dataRange.upperBound < $1.dataRange.upperBound }),
           last.dataRange.upperBound > Int.max - dataStart {
            throw CheckpointError.invalidTensor(
                file: source, tensor: last.name, reason: "data_offsets end \(last.dataRange.upperBound) is past any possible file size")
        }
        self.entries = entries
        self.metadata = metadata
    }
}

/// A named F32 tensor to be written, viewing memory owned by the caller.
public struct TensorView: @unchecked Sendable {
    public let name: String
    public let shape: [Int]
    public let values: UnsafeBufferPointer<Float>
    public init(name: String, shape: [Int], values: UnsafeBufferPointer<Float>) {
        precondition(shape.reduce(1, *) == values.count, "TensorView \(name): shape does not match value count")
        self.name = name; self.shape = shape; self.values = values
    }
}

extension TensorView {
    /// Views of `(name, shape, values)` arrays, valid only inside `body`: for writing tensors that
    /// do not live in a model's arena (exports, test files).
    public static func withViews<R>(
        of tensors: [(String, [Int], [Float])], _ body: ([TensorView]) throws -> R
    ) rethrows -> R {
        let buffers = tensors.map { tensor -> UnsafeMutableBufferPointer<Float> in
            let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: tensor.2.count)
            _ = buffer.initialize(from: tensor.2)
            return buffer
        }
        defer { buffers.forEach { $0.deallocate() } }
        let views = zip(tensors, buffers).map { TensorView(name: $0.0, shape: $0.1, values: UnsafeBufferPointer($1)) }
        return try body(views)
    }
}

public enum SafeTensorsWriter {
    /// The complete file: header length, JSON header (metadata first, tensors in the given
    /// order, padded with spaces to 8 bytes as the reference writer does) and F32 data.
    public static func serialize(_ tensors: [TensorView], metadata: [String: String]) -> [UInt8] {
        var header = "{"
        // String.count walks the whole header (the vocab is in the metadata), so the separator is tracked instead.
        var empty = true
        if !metadata.isEmpty {
            header += "\(jsonString(SafeTensorsFile.metadataKey)):{"
            header += metadata.sorted { $0.key < $1.key }.map { "\(jsonString($0.key)):\(jsonString($0.value))" }
                .joined(separator: ",")
            header += "}"
            empty = false
        }
        var offset = 0
        for tensor in tensors {
            let byteCount = tensor.values.count * 4
            if !empty { header += "," }
            empty = false
            header += "\(jsonString(tensor.name)):{\"dtype\":\"F32\",\"shape\":[\(tensor.shape.map(String.init).joined(separator: ","))],"
            header += "\"data_offsets\":[\(offset),\(offset + byteCount)]}"
            offset += byteCount
        }
        header += "}"
        var headerBytes = Array(header.utf8)
        while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }
        var file = [UInt8](repeating: 0, count: 8 + headerBytes.count + offset)
        file.withUnsafeMutableBytes { out in
            out.storeBytes(of: UInt64(headerBytes.count).littleEndian, as: UInt64.self)
            headerBytes.withUnsafeBytes { out.baseAddress!.advanced(by: 8).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            var position = 8 + headerBytes.count
            for tensor in tensors {
                let raw = UnsafeRawBufferPointer(tensor.values)
                if let base = raw.baseAddress { out.baseAddress!.advanced(by: position).copyMemory(from: base, byteCount: raw.count) }
                position += raw.count
            }
        }
        return file
    }

    static func jsonString(_ text: String) -> String {
        // A top-level string fragment; JSONSerialization does the escaping.
        let data = (try? JSONSerialization.data(withJSONObject: text, options: [.fragmentsAllowed, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
