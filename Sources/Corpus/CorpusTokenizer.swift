import Tokenizer

/// What the streamer needs from a tokenizer: piece ids and word indices for a document, and the
/// ids of the special tokens it frames rows with. `WordPieceTokenizer` is the real one; tests may
/// use a toy. Called concurrently from several threads, hence `Sendable`.
public protocol CorpusTokenizer: Sendable {
    var clsId: Int32 { get }
    var sepId: Int32 { get }
    var padId: Int32 { get }
    /// Appends the pieces of `text` (no special tokens) and, per piece, the index of the word it
    /// came from, counting from `firstWordId`; returns the next unused word index.
    func appendPieces(of text: Substring, ids: inout [Int32], wordIds: inout [Int32], firstWordId: Int32) -> Int32
}

extension WordPieceTokenizer: CorpusTokenizer {
    public var clsId: Int32 { vocabulary.clsId }
    public var sepId: Int32 { vocabulary.sepId }
    public var padId: Int32 { vocabulary.padId }
}

/// Where something in the corpus is, for messages and stats.
public struct SourceLocation: Equatable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var description: String { "\(file):\(line)" }
}

/// What a streamer has done so far (this instance only; a resumed run starts from zero).
public struct CorpusStats: Equatable, Sendable {
    /// Documents of this split that were tokenized.
    public var documents = 0
    /// Documents skipped because they belong to the other split.
    public var otherSplitDocuments = 0
    /// Bytes of all documents read, both splits (line terminators and blank lines excluded).
    public var textBytes = 0
    /// Word pieces produced by the tokenizer.
    public var tokens = 0
    /// Rows produced (in `[CLS] … [SEP]` form).
    public var sequences = 0
    /// Pieces dropped because `.lineByLine` truncates documents to one row.
    public var truncatedTokens = 0
    /// Lines (of documents in this split) that held invalid UTF-8, decoded with U+FFFD.
    public var invalidUTF8Lines = 0
    public var firstInvalidUTF8: SourceLocation?
}
