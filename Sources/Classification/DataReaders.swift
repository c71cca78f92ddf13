import Foundation

/// One labelled text (or text pair) from a task file; `line` is where its record starts (1-based).
public struct TextExample: Equatable, Sendable {
    public var text: String
    public var pair: String?
    public var label: String?
    public var line: Int

    public init(text: String, pair: String? = nil, label: String?, line: Int) {
        self.text = text; self.pair = pair; self.label = label; self.line = line
    }
}

/// One sentence of a CoNLL-style file: a word and its BIO tag per line.
public struct TaggedSentence: Equatable, Sendable {
    public var words: [String]
    public var tags: [String]
    /// Line of the sentence's first word (1-based).
    public var line: Int

    public init(words: [String], tags: [String], line: Int) {
        self.words = words; self.tags = tags; self.line = line
    }
}

/// Which columns of a table hold the text, the optional second text and the label.
public struct TextColumns: Equatable, Sendable {
    public var text: String
    public var pair: String?
    public var label: String

    public init(text: String = "text", pair: String? = nil, label: String = "label") {
        self.text = text; self.pair = pair; self.label = label
    }
}

public enum TableFormat: String, CaseIterable, Sendable {
    case tsv, csv, jsonl

    /// The format named by the file's extension (`.tsv`, `.csv`, `.jsonl`/`.json`).
    public static func inferred(from url: URL) throws -> TableFormat {
        switch url.pathExtension.lowercased() {
        case "tsv": return .tsv
        case "csv": return .csv
        case "jsonl", "json", "ndjson": return .jsonl
        default:
            throw ClassificationError.invalidData(
                "\(url.path): cannot tell the format from the extension '.\(url.pathExtension)' (use .tsv, .csv or .jsonl)")
        }
    }
}

public enum DataReader {
    /// Reads labelled examples from a TSV (header row, tab-separated, no quoting), CSV (header row,
    /// RFC 4180 quoting) or JSONL (one object per line) file. With `requireLabels` false, a missing
    /// label column is allowed and every label is nil.
    public static func readExamples(
        from url: URL, columns: TextColumns = TextColumns(), format: TableFormat? = nil, requireLabels: Bool = true
    ) throws -> [TextExample] {
        let bytes = try readBytes(url)
        switch try format ?? TableFormat.inferred(from: url) {
        case .tsv: return try examples(fromRows: tsvRows(bytes), columns: columns, path: url.path, requireLabels: requireLabels)
        case .csv: return try examples(fromRows: csvRows(bytes, path: url.path), columns: columns, path: url.path, requireLabels: requireLabels)
        case .jsonl: return try jsonlExamples(bytes, columns: columns, path: url.path, requireLabels: requireLabels)
        }
    }

    /// Reads a CoNLL-style file: `word<TAB>tag` per line (extra columns between are ignored, the tag is
    /// the last one), sentences separated by blank lines. Lines starting with `-DOCSTART-` are skipped.
    public static func readTaggedSentences(from url: URL) throws -> [TaggedSentence] {
        let text = try decodeUTF8(readBytes(url), path: url.path)
        var sentences: [TaggedSentence] = []
        var words: [String] = [], tags: [String] = []
        var start = 0
        var lineNumber = 0
        func flush() {
            if !words.isEmpty { sentences.append(TaggedSentence(words: words, tags: tags, line: start)) }
            words = []; tags = []
        }
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { flush(); continue }
            if line.hasPrefix("-DOCSTART-") { flush(); continue }
            let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
            guard fields.count >= 2 else {
                throw ClassificationError.invalidData("\(url.path):\(lineNumber): expected 'word<TAB>tag', got '\(line)'")
            }
            if words.isEmpty { start = lineNumber }
            words.append(String(fields[0]))
            tags.append(String(fields[fields.count - 1]))
        }
        flush()
        return sentences
    }

    /// Reads one text per line, blank lines included (for prediction on new text: output line i answers input line i).
    public static func readLines(from url: URL) throws -> [TextExample] {
        let text = try decodeUTF8(readBytes(url), path: url.path)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }  // the newline that ends the file
        return lines.enumerated().map { index, rawLine in
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            return TextExample(text: String(line), label: nil, line: index + 1)
        }
    }

    // MARK: - Rows

    /// A table row: its fields and the line it starts on.
    struct Row { var fields: [String]; var line: Int }

    static func readBytes(_ url: URL) throws -> [UInt8] {
        do { return [UInt8](try Data(contentsOf: url)) } catch {
            throw ClassificationError.invalidData("\(url.path): cannot read (\(error.localizedDescription))")
        }
    }

    static func decodeUTF8(_ bytes: [UInt8], path: String) throws -> String {
        var body = bytes[...]
        if body.starts(with: [0xEF, 0xBB, 0xBF]) { body = body.dropFirst(3) }
        guard let text = String(validating: body, as: UTF8.self) else {
            throw ClassificationError.invalidData("\(path): not valid UTF-8")
        }
        return text
    }

    static func tsvRows(_ bytes: [UInt8]) throws -> [Row] {
        var body = bytes[...]
        if body.starts(with: [0xEF, 0xBB, 0xBF]) { body = body.dropFirst(3) }
        var rows: [Row] = []
        var lineNumber = 0
        for rawLine in body.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = rawLine.last == UInt8(ascii: "\r") ? rawLine.dropLast() : rawLine
            if line.isEmpty { continue }
            let fields = line.split(separator: UInt8(ascii: "\t"), omittingEmptySubsequences: false)
                .map { String(decoding: $0, as: UTF8.self) }
            rows.append(Row(fields: fields, line: lineNumber))
        }
        return rows
    }

    /// RFC 4180: fields separated by commas, records by CRLF or LF; a field in double quotes may hold
    /// commas, newlines and `""` for a quote. Stray quotes inside an unquoted field are kept as text.
    static func csvRows(_ bytes: [UInt8], path: String) throws -> [Row] {
        let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), lf = UInt8(ascii: "\n"), cr = UInt8(ascii: "\r")
        var rows: [Row] = []
        var fields: [String] = []
        var field: [UInt8] = []
        var index = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        var line = 1
        var recordLine = 1
        var atFieldStart = true

        func endRecord() {
            fields.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
            // A blank line is no record.
            if !(fields.count == 1 && fields[0].isEmpty) { rows.append(Row(fields: fields, line: recordLine)) }
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
                guard closed else {
                    throw ClassificationError.invalidData("\(path):\(recordLine): quoted field is never closed")
                }
                atFieldStart = false
                if index < bytes.count {
                    let next = bytes[index]
                    let endsLine = next == lf || (next == cr && (index + 1 == bytes.count || bytes[index + 1] == lf))
                    guard next == comma || endsLine else {
                        throw ClassificationError.invalidData(
                            "\(path):\(line): unexpected character after a closing quote (a quote inside a quoted field must be doubled)")
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
            } else {
                field.append(byte)
                index += 1
            }
        }
        if !(fields.isEmpty && field.isEmpty && atFieldStart) { endRecord() }
        return rows
    }

    static func examples(fromRows rows: [Row], columns: TextColumns, path: String, requireLabels: Bool) throws
        -> [TextExample]
    {
        guard let header = rows.first else { throw ClassificationError.invalidData("\(path): empty file (expected a header row)") }
        func column(_ name: String) throws -> Int {
            guard let index = header.fields.firstIndex(of: name) else {
                throw ClassificationError.invalidData(
                    "\(path):\(header.line): no column '\(name)' in the header (columns: \(header.fields.joined(separator: ", ")))")
            }
            return index
        }
        let textIndex = try column(columns.text)
        let pairIndex = try columns.pair.map(column)
        let labelIndex: Int? = requireLabels ? try column(columns.label) : header.fields.firstIndex(of: columns.label)
        var examples: [TextExample] = []
        examples.reserveCapacity(rows.count - 1)
        for row in rows.dropFirst() {
            guard row.fields.count == header.fields.count else {
                throw ClassificationError.invalidData(
                    "\(path):\(row.line): \(row.fields.count) fields, but the header has \(header.fields.count)")
            }
            let label = labelIndex.map { row.fields[$0] }
            if requireLabels, label?.isEmpty ?? true {
                throw ClassificationError.invalidData("\(path):\(row.line): empty label")
            }
            examples.append(
                TextExample(text: row.fields[textIndex], pair: pairIndex.map { row.fields[$0] }, label: label, line: row.line))
        }
        return examples
    }

    static func jsonlExamples(_ bytes: [UInt8], columns: TextColumns, path: String, requireLabels: Bool) throws
        -> [TextExample]
    {
        var body = bytes[...]
        if body.starts(with: [0xEF, 0xBB, 0xBF]) { body = body.dropFirst(3) }
        var examples: [TextExample] = []
        for (index, rawLine) in body.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            let lineNumber = index + 1
            if rawLine.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            let object: [String: Any]
            do {
                guard let parsed = try JSONSerialization.jsonObject(with: Data(rawLine)) as? [String: Any] else {
                    throw ClassificationError.invalidData("\(path):\(lineNumber): expected a JSON object")
                }
                object = parsed
            } catch let error as ClassificationError { throw error } catch {
                throw ClassificationError.invalidData("\(path):\(lineNumber): not valid JSON (\(error.localizedDescription))")
            }
            func string(_ key: String, required: Bool) throws -> String? {
                switch object[key] {
                case let value as String: return value
                case let value as NSNumber:
                    // Integer labels (0, 1, ...) are common in JSONL exports; keep them as their decimal text.
                    return value.stringValue
                case nil, is NSNull:
                    if required { throw ClassificationError.invalidData("\(path):\(lineNumber): no field '\(key)'") }
                    return nil
                default:
                    throw ClassificationError.invalidData("\(path):\(lineNumber): field '\(key)' is neither a string nor a number")
                }
            }
            guard let text = try string(columns.text, required: true) else { continue }
            let pair = try columns.pair.flatMap { try string($0, required: true) }
            let label = try string(columns.label, required: requireLabels)
            examples.append(TextExample(text: text, pair: pair, label: label, line: lineNumber))
        }
        return examples
    }
}
