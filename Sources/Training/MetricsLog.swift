import Foundation

/// A JSON value with the few kinds metrics need; numbers that are not finite become `null`.
public enum MetricValue: Sendable, Equatable {
    case int(Int)
    case double(Double)
    case string(String)
    case bool(Bool)

    var json: String {
        switch self {
        case .bool(let v): return v ? "true" : "false"
        case .int(let v): return String(v)
        case .double(let v): return v.isFinite ? String(v) : "null"
        case .string(let s): return jsonQuoted(s)
        }
    }
}

/// One line of `metrics.jsonl`: keys keep their order so lines diff cleanly.
public struct MetricRecord: Sendable, Equatable {
    public var fields: [(String, MetricValue)]

    public init(_ fields: [(String, MetricValue)]) { self.fields = fields }

    public var jsonLine: String {
        "{" + fields.map { jsonQuoted($0.0) + ":" + $0.1.json }.joined(separator: ",") + "}"
    }

    public static func == (a: MetricRecord, b: MetricRecord) -> Bool {
        a.fields.map(\.0) == b.fields.map(\.0) && a.fields.map(\.1) == b.fields.map(\.1)
    }
}

func jsonQuoted(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}

/// Appends records to `metrics.jsonl`, one JSON object per line, flushed after each line.
public final class MetricsLog {
    public let url: URL
    private let handle: FileHandle

    /// Opens (creating if needed) the log. When resuming at `resumeStep`, lines of later steps
    /// (written after the checkpoint being resumed) are dropped, so the log reads as one run.
    public init(url: URL, resumeStep: Int? = nil) throws {
        self.url = url
        let fm = FileManager.default
        if let resumeStep, fm.fileExists(atPath: url.path) {
            let text = try String(contentsOf: url, encoding: .utf8)
            let kept = text.split(separator: "\n").filter { line in
                guard let data = line.data(using: .utf8),
                      let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                      let step = object["step"] as? Int else { return false }
                return step <= resumeStep
            }
            try (kept.map { $0 + "\n" }.joined()).write(to: url, atomically: true, encoding: .utf8)
        } else if !fm.fileExists(atPath: url.path) || resumeStep == nil {
            guard fm.createFile(atPath: url.path, contents: nil) else {
                throw TrainingError.io("cannot create \(url.path)")
            }
        }
        do { handle = try FileHandle(forWritingTo: url) } catch {
            throw TrainingError.io("cannot open \(url.path) for writing: \(error.localizedDescription)")
        }
        handle.seekToEndOfFile()
    }

    deinit { try? handle.close() }

    public func append(_ record: MetricRecord) {
        handle.write(Data((record.jsonLine + "\n").utf8))
    }

    /// Reads a metrics file back as dictionaries, one per line.
    public static func read(_ url: URL) throws -> [[String: Any]] {
        let text = try String(contentsOf: url, encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw TrainingError.io("\(url.path): a line is not a JSON object")
            }
            return object
        }
    }
}
