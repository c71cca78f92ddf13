import Foundation

/// Counts the words of texts as the tokenizer sees them: after the BERT normalizer (lowercasing and
/// accent stripping when uncased) and pre-tokenizer (split at whitespace and punctuation), before
/// WordPiece. Words over 100 scalars (always `[UNK]` when tokenizing) are not counted.
public struct WordCounts: Sendable {
    public let lowercase: Bool
    public private(set) var counts: [String: Int] = [:]
    private let tables = TokenizerTables(index: TokenIndex(tokens: []), unkId: 0, specialTokens: [])

    public init(lowercase: Bool) {
        self.lowercase = lowercase
    }

    public mutating func feed(_ text: Substring) {
        for (word, count) in Self.words(of: text, lowercase: lowercase, tables: tables) {
            counts[word, default: 0] += count
        }
    }

    /// The normalized words of `text` with their counts.
    public static func words(of text: Substring, lowercase: Bool) -> [String: Int] {
        words(of: text, lowercase: lowercase, tables: TokenizerTables(index: TokenIndex(tokens: []), unkId: 0, specialTokens: []))
    }

    private static func words(of text: Substring, lowercase: Bool, tables: TokenizerTables) -> [String: Int] {
        var sink = WordCollector()
        var text = text
        text.withUTF8 { utf8 in
            withUnsafeTemporaryAllocation(byteCount: WordScanner<WordCollector>.scratchByteCount, alignment: 16) { scratch in
                var scanner = WordScanner<WordCollector>(
                    tables: tables, lowercase: lowercase, scratch: scratch.baseAddress!, firstWordId: 0, sink: WordCollector())
                swap(&scanner.sink, &sink)
                scanner.scan(utf8)
                swap(&scanner.sink, &sink)
            }
        }
        return sink.counts
    }
}
