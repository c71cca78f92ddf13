/// What counts as one document: the unit that is hashed for the validation split, and that
/// `.packed(crossDocuments: false)` and `.lineByLine` never let share a sequence.
public enum CorpusMode: String, Codable, Sendable {
    /// Every non-blank line is a document.
    case lines
    /// Consecutive non-blank lines form a document (joined with "\n"); a blank line ends it.
    case documents
}

/// How token streams become `[CLS] … [SEP]` rows of `maxSeqLength`.
public enum CorpusPacking: Equatable, Codable, Sendable {
    /// Documents are concatenated and cut into full rows. With `crossDocuments`, a row may hold the
    /// end of one document and the start of the next, separated by `[SEP]`; without it, each row
    /// holds tokens of one document only (a long document fills several rows, the last is padded).
    case packed(crossDocuments: Bool)
    /// One row per document (per line in `.lines` mode), truncated to fit, then padded.
    case lineByLine
}

public enum CorpusSplit: String, Codable, Sendable {
    case train
    case validation
}

public struct CorpusOptions: Equatable, Codable, Sendable {
    /// Files (`.txt`, `.gz`), folders (searched recursively for `.txt`/`.gz`, sorted) and glob
    /// patterns (`*`, `?` within a path component, `**` for any number of folders).
    public var sources: [String]
    public var mode: CorpusMode
    public var maxSeqLength: Int
    public var packing: CorpusPacking
    /// Sequences held for shuffling; 0 or 1 streams in file order (and keeps the file order).
    public var shuffleBufferSize: Int
    public var seed: UInt64
    /// Fraction of documents (chosen by a hash of their bytes) held out for validation.
    public var validationFraction: Double
    public var split: CorpusSplit
    /// Text read and tokenized at once (split across cores). A resumed run re-tokenizes at most
    /// this much: the part of the interrupted chunk it had already consumed.
    public var tokenizationChunkBytes: Int
    /// The column (TSV/CSV header name, JSONL key) whose values are the documents of a table file
    /// (`.tsv`, `.csv`, `.jsonl`); nil means `defaultTextColumn`. Other files are plain text.
    public var textColumn: String?
    public static let defaultTextColumn = "text"

    public init(
        sources: [String],
        mode: CorpusMode = .lines,
        maxSeqLength: Int = 128,
        packing: CorpusPacking = .packed(crossDocuments: true),
        shuffleBufferSize: Int = 10_000,
        seed: UInt64 = 0,
        validationFraction: Double = 0.05,
        split: CorpusSplit = .train,
        tokenizationChunkBytes: Int = 1 << 20,
        textColumn: String? = nil
    ) {
        self.sources = sources
        self.mode = mode
        self.maxSeqLength = maxSeqLength
        self.packing = packing
        self.shuffleBufferSize = shuffleBufferSize
        self.seed = seed
        self.validationFraction = validationFraction
        self.split = split
        self.tokenizationChunkBytes = tokenizationChunkBytes
        self.textColumn = textColumn
    }

    /// Whether a document with this split hash (`DocumentReader.splitHash`) is held out for validation.
    func holdsOut(splitHash hash: UInt64) -> Bool {
        Double(hash >> 11) * 0x1p-53 < validationFraction
    }

    func validate() throws {
        if sources.isEmpty { throw CorpusError.invalidOptions("no corpus sources given") }
        if maxSeqLength < 3 {
            throw CorpusError.invalidOptions("maxSeqLength \(maxSeqLength) leaves no room for a token between [CLS] and [SEP]")
        }
        if maxSeqLength > Int(UInt16.max) {
            throw CorpusError.invalidOptions("maxSeqLength \(maxSeqLength) is above \(UInt16.max)")
        }
        if shuffleBufferSize < 0 { throw CorpusError.invalidOptions("shuffleBufferSize \(shuffleBufferSize) is negative") }
        if !(validationFraction >= 0 && validationFraction <= 1) {
            throw CorpusError.invalidOptions("validationFraction \(validationFraction) is not within 0...1")
        }
        if tokenizationChunkBytes < 1 {
            throw CorpusError.invalidOptions("tokenizationChunkBytes \(tokenizationChunkBytes) must be positive")
        }
    }
}
