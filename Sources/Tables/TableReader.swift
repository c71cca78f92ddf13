import Foundation

/// The table files both corpora (`--corpus train.tsv --text-column text`) and task files read.
public enum TableFormat: String, CaseIterable, Sendable {
    case tsv, csv, jsonl

    /// The format a file's extension names (`.tsv`, `.csv`, `.jsonl`/`.json`/`.ndjson`), nil for others.
    public static func named(by url: URL) -> TableFormat? {
        switch url.pathExtension.lowercased() {
        case "tsv": return .tsv
        case "csv": return .csv
        case "jsonl", "json", "ndjson": return .jsonl
        default: return nil
        }
    }
}

/// A bad table, with the file and line it is about.
public struct TableError: Error, CustomStringConvertible, Equatable {
    public let description: String
    init(_ path: String, line: Int? = nil, _ message: String) {
        description = line.map { "\(path):\($0): \(message)" } ?? "\(path): \(message)"
    }
}

/// One record: its fields (TSV/CSV) or object (JSONL), the line it starts on (1-based) and its byte offset.
public struct TableRecord {
    public var fields: [String]
    public var object: [String: Any]?
    public var line: Int
    public var offset: Int
}

/// Whole-file readers: TSV (header row, tab-separated, no quoting), CSV (header row, RFC 4180 quoting)
/// and JSONL (one object per line). A leading UTF-8 byte-order mark is skipped; blank lines are no records.
public enum TableReader {
    public static func records(_ bytes: [UInt8], format: TableFormat, path: String) throws -> [TableRecord] {
        switch format {
        case .tsv: return tsvRecords(bytes)
        case .csv: return try csvRecords(bytes, path: path)
        case .jsonl: return try jsonlRecords(bytes, path: path)
        }
    }

    /// The values of `names` in every data record of `bytes`: for TSV and CSV the first record is the
    /// header naming the columns, for JSONL each object's keys. A name nothing provides is an error that
    /// lists what there is; `optional` names may be absent from a table (their values are nil).
    public static func columns(
        _ names: [String], optional: Set<String> = [], in bytes: [UInt8], format: TableFormat, path: String
    ) throws -> [(values: [String?], record: TableRecord)] {
        let all = try records(bytes, format: format, path: path)
        if format == .jsonl {
            return try all.map { record in
                let object = record.object ?? [:]
                let values = try names.map { name -> String? in
                    switch object[name] {
                    case let value as String: return value
                    // Integer labels (0, 1, ...) are common in JSONL exports; keep them as their decimal text.
                    case let value as NSNumber: return value.stringValue
                    case nil, is NSNull:
                        if optional.contains(name) { return nil }
                        throw TableError(path, line: record.line, "no field '\(name)'")
                    default: throw TableError(path, line: record.line, "field '\(name)' is neither a string nor a number")
                    }
                }
                return (values, record)
            }
        }
        guard let header = all.first else { throw TableError(path, "empty file (expected a header row)") }
        let indices = try names.map { name -> Int? in
            if let index = header.fields.firstIndex(of: name) { return index }
            if optional.contains(name) { return nil }
            throw TableError(path, line: header.line,
                             "no column '\(name)' in the header (columns: \(header.fields.joined(separator: ", ")))")
        }
        return try all.dropFirst().map { record in
            guard record.fields.count == header.fields.count else {
                throw TableError(path, line: record.line, "\(record.fields.count) fields, but the header has \(header.fields.count)")
            }
            return (indices.map { $0.map { record.fields[$0] } }, record)
        }
    }

    static func bodyStart(_ bytes: [UInt8]) -> Int { bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0 }

    static func tsvRecords(_ bytes: [UInt8]) -> [TableRecord] {
        var records: [TableRecord] = []
        var lineNumber = 0
        var offset = bodyStart(bytes)
        for rawLine in bytes[offset...].split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            defer { offset += rawLine.count + 1 }
            let line = rawLine.last == UInt8(ascii: "\r") ? rawLine.dropLast() : rawLine
            if line.isEmpty { continue }
            let fields = line.split(separator: UInt8(ascii: "\t"), omittingEmptySubsequences: false)
                .map { String(decoding: $0, as: UTF8.self) }
            records.append(TableRecord(fields: fields, line: lineNumber, offset: offset))
        }
        return records
    }

    /// RFC 4180: fields separated by commas, records by CRLF or LF; a field in double quotes may hold
    /// commas, newlines and `""` for a quote. Stray quotes inside an unquoted field are kept as text.
    static func csvRecords(_ bytes: [UInt8], path: String) throws -> [TableRecord] {
        let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), lf = UInt8(ascii: "\n"), cr = UInt8(ascii: "\r")
        var records: [TableRecord] = []
        var fields: [String] = []
        var field: [UInt8] = []
        var index = bodyStart(bytes)
        var line = 1
        var recordLine = 1
        var recordOffset = index
        var atFieldStart = true

        func endRecord() {
            fields.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
            // A blank line is no record.
            if !(fields.count == 1 && fields[0].isEmpty) {
                records.append(TableRecord(fields: fields, line: recordLine, offset: recordOffset))
            }
            fields.removeAll()
            atFieldStart = true
        }

        while index < bytes.count {
            let byte = bytes[index]
            if atFieldStart && byte == quote {
                // Quoted field: read to the closing quote.
                index += 1
                var closed = false
                while index < bytes.count {
                    let b = bytes[index]
                    if b == quote {
                        if index + 1 < bytes.count && bytes[index + 1] == quote {
                            field.append(quote); index += 2; continue
                        }
                        index += 1; closed = true; break
                    }
                    if b == lf { line += 1 }
                    field.append(b); index += 1
                }
                guard closed else { throw TableError(path, line: recordLine, "quoted field is never closed") }
                atFieldStart = false
                if index < bytes.count {
                    let next = bytes[index]
                    let endsLine = next == lf || (next == cr && (index + 1 == bytes.count || bytes[index + 1] == lf))
                    guard next == comma || endsLine else {
                        throw TableError(path, line: line,
                                         "unexpected character after a closing quote (a quote inside a quoted field must be doubled)")
                    }
                }
                continue
            }
            atFieldStart = false
            if byte == comma {
                fields.append(String(decoding: field, as: UTF8.self))
                field.removeAll(keepingCapacity: true)
                atFieldStart = true
                index += 1
            } else if byte == lf || (byte == cr && index + 1 < bytes.count && bytes[index + 1] == lf) {
                endRecord()
                index += byte == cr ? 2 : 1
                line += 1
                recordLine = line
                recordOffset = index
            } else {
                field.append(byte)
                index += 1
            }
        }
        if !(fields.isEmpty && field.isEmpty && atFieldStart) { endRecord() }
        return records
    }

    static func jsonlRecords(_ bytes: [UInt8], path: String) throws -> [TableRecord] {
        var records: [TableRecord] = []
        var offset = bodyStart(bytes)
        for (index, rawLine) in bytes[offset...].split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            defer { offset += rawLine.count + 1 }
            let lineNumber = index + 1
            if rawLine.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            let parsed: Any
            do { parsed = try JSONSerialization.jsonObject(with: Data(rawLine)) } catch {
                throw TableError(path, line: lineNumber, "not valid JSON (\(error.localizedDescription))")
            }
            guard let object = parsed as? [String: Any] else { throw TableError(path, line: lineNumber, "expected a JSON object") }
            records.append(TableRecord(fields: [], object: object, line: lineNumber, offset: offset))
        }
        return records
    }
}
