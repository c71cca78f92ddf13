import Foundation

/// Extending a WordPiece vocabulary with a domain's words: every old token keeps its id, the new ones
/// are appended. `rank` chooses the words, `check` validates an extension file against the vocabulary it
/// extends, and `basePieces` gives the old pieces each new token replaces (the model starts the token's
/// embedding from them).
public enum VocabularyExtension {
    /// At most as many new tokens as the base vocabulary has. Each new row starts as an average of old
    /// rows, and the tied MLM decoder scores every row at every masked token; a list longer than the
    /// vocabulary it extends is a new vocabulary, trained from scratch (`--vocab`/`--config`) instead.
    public static func maximumAddedTokens(base: Int) -> Int { base }

    /// A word worth adding: how often it occurs and how many pieces the base vocabulary cuts it into.
    public struct Candidate: Equatable, Sendable {
        public let word: String
        public let count: Int
        public let basePieces: Int
        /// Pieces saved over the counted text if the word were one token: `count × (basePieces − 1)`.
        public var saving: Int { count * (basePieces - 1) }
    }

    /// Words of `counts` (normalized, pre-tokenized: see `WordCounts`) that the base tokenizer splits
    /// into two or more pieces, none `[UNK]`, occurring at least `minCount` times; best first by pieces
    /// saved, then count, then bytes. Words the vocabulary already holds come out as one piece and are
    /// skipped; every candidate is a word the normalizer and pre-tokenizer produce, so it can occur.
    public static func rank(_ counts: [String: Int], base tokenizer: WordPieceTokenizer, minCount: Int = 2) -> [Candidate] {
        var candidates: [Candidate] = []
        var ids: [Int32] = [], wordIds: [Int32] = []
        let unk = tokenizer.vocabulary.unkId
        for (word, count) in counts where count >= minCount {
            ids.removeAll(keepingCapacity: true)
            wordIds.removeAll(keepingCapacity: true)
            tokenizer.appendPieces(of: word[...], ids: &ids, wordIds: &wordIds, firstWordId: 0)
            guard ids.count > 1, !ids.contains(unk) else { continue }
            candidates.append(Candidate(word: word, count: count, basePieces: ids.count))
        }
        candidates.sort { a, b in
            if a.saving != b.saving { return a.saving > b.saving }
            if a.count != b.count { return a.count > b.count }
            return Array(a.word.utf8).lexicographicallyPrecedes(Array(b.word.utf8))
        }
        return candidates
    }

    /// Refuses an `extended` token list that is not `base` followed by new tokens: a dropped, changed or
    /// moved old token (named by its line in `file`, 1-based), more new tokens than
    /// `maximumAddedTokens`, or a new token the tokenizer can never produce. Returns the number added.
    @discardableResult
    public static func check(extended: [String], base: [String], lowercase: Bool, file: String,
                             baseSource: String) throws -> Int {
        if let index = (0..<min(extended.count, base.count)).first(where: { extended[$0] != base[$0] }) {
            throw VocabularyError(
                file: file, line: index + 1,
                message: "'\(extended[index])' where the vocabulary it extends (\(baseSource)) has '\(base[index])' (id \(index)); "
                    + "an extension keeps every old token at its id and appends new ones after them")
        }
        if extended.count < base.count {
            throw VocabularyError(
                file: file, line: extended.count + 1,
                message: "ends after \(extended.count) tokens, but the vocabulary it extends (\(baseSource)) has \(base.count): "
                    + "'\(base[extended.count])' (id \(extended.count)) and the rest are missing")
        }
        let added = extended.count - base.count
        let limit = maximumAddedTokens(base: base.count)
        if added > limit {
            throw VocabularyError(
                file: file, line: nil,
                message: "adds \(added) tokens to the \(base.count) of \(baseSource); at most \(limit) may be added "
                    + "(as many as the vocabulary it extends)")
        }
        for index in base.count..<extended.count where !producible(extended[index], lowercase: lowercase) {
            throw VocabularyError(
                file: file, line: index + 1,
                message: "'\(extended[index])' can never be produced by the \(lowercase ? "uncased" : "cased") tokenizer "
                    + "(its normalizer\(lowercase ? " lowercases and strips accents," : "") splits at whitespace and "
                    + "punctuation, and words over \(WordScanner<IdSink>.maxCharsPerWord) characters are [UNK])")
        }
        return added
    }

    /// Whether WordPiece can ever emit `token`: a word-start token must be one whole normalized word, a
    /// `##` continuation a part of one.
    public static func producible(_ token: String, lowercase: Bool) -> Bool {
        let text = token.hasPrefix(continuationPrefix) && token.count > continuationPrefix.count
            ? String(token.dropFirst(continuationPrefix.count)) : token
        return WordCounts.words(of: text[...], lowercase: lowercase) == [text: 1]
    }

    static let continuationPrefix = WordPieceTrainer.continuationPrefix

    /// The pieces the base tokenizer gives `token`: WordPiece of the word, or for a `##` token, the
    /// greedy longest-match continuation pieces of its text, as WordPiece splits a word's tail.
    public static func basePieces(of token: String, tokenizer: WordPieceTokenizer) -> [Int32] {
        let vocabulary = tokenizer.vocabulary
        guard token.hasPrefix(continuationPrefix), token.count > continuationPrefix.count else {
            var ids: [Int32] = [], wordIds: [Int32] = []
            tokenizer.appendPieces(of: token[...], ids: &ids, wordIds: &wordIds, firstWordId: 0)
            return ids
        }
        let scalars = Array(token.unicodeScalars.dropFirst(continuationPrefix.count))
        var pieces: [Int32] = []
        var start = 0
        while start < scalars.count {
            var end = scalars.count
            var matched: Int32?
            while end > start, matched == nil {
                var piece = continuationPrefix
                piece.unicodeScalars.append(contentsOf: scalars[start..<end])
                matched = vocabulary.id(of: piece)
                if matched == nil { end -= 1 }
            }
            guard let id = matched else { return [vocabulary.unkId] }
            pieces.append(id)
            start = end
        }
        return pieces
    }
}

/// Pieces per word of texts under one tokenizer: the fragmentation a vocabulary extension lowers.
public struct Fragmentation: Sendable {
    public private(set) var words = 0
    public private(set) var pieces = 0
    /// Reused from text to text.
    private var ids: [Int32] = []
    private var wordIds: [Int32] = []

    public init() {}

    public var piecesPerWord: Double { words == 0 ? 0 : Double(pieces) / Double(words) }

    public mutating func add(_ text: Substring, tokenizer: WordPieceTokenizer) {
        ids.removeAll(keepingCapacity: true)
        wordIds.removeAll(keepingCapacity: true)
        words += Int(tokenizer.appendPieces(of: text, ids: &ids, wordIds: &wordIds, firstWordId: 0))
        pieces += ids.count
    }
}
