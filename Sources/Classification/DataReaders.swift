import Foundation
import Tables

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

extension TableFormat {
    /// The format named by the file's extension (`.tsv`, `.csv`, `.jsonl`/`.json`).
    public static func inferred(from url: URL) throws -> TableFormat {
        guard let format = named(by: url) else {
            throw ClassificationError.invalidData(
                "\(url.path): cannot tell the format from the extension '.\(url.pathExtension)' (use .tsv, .csv or .jsonl)")
        }
        return format
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
        let names = [columns.text] + (columns.pair.map { [$0] } ?? []) + [columns.label]
        let rows: [(values: [String?], record: TableRecord)]
        do {
            rows = try TableReader.columns(
                names, optional: requireLabels ? [] : [columns.label], in: bytes,
                format: try format ?? TableFormat.inferred(from: url), path: url.path)
        } catch let error as TableError {
            throw ClassificationError.invalidData(error.description)
        }
        return try rows.map { values, record in
            let label = values[names.count - 1]
            if requireLabels, label?.isEmpty ?? true {
                throw ClassificationError.invalidData("\(url.path):\(record.line): empty label")
            }
            return TextExample(text: values[0] ?? "", pair: columns.pair == nil ? nil : values[1], label: label, line: record.line)
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
}
