/// Everything needed to continue a stream exactly where it stopped (between two batches). A
/// checkpoint stores it; `CorpusStreamer(options:tokenizer:resumeFrom:)` continues from it.
///
/// Reading restarts at `position` of file `fileIndex` (in the epoch's file order): the start of
/// the tokenization chunk that was being packed. That one chunk (at most
/// `CorpusOptions.tokenizationChunkBytes` of text) is read and tokenized again and its first
/// `documentsToSkip` documents and `tokensToSkip` pieces dropped; nothing before it is re-read
/// or re-tokenized (a gzip file is re-inflated from the start of the member holding `position`,
/// see `FilePosition`). Sequences already in the shuffle buffer travel inside the cursor.
public struct CorpusCursor: Codable, Equatable, Sendable {
    public static let currentFormatVersion = 1

    public var formatVersion: Int
    /// Options and file list this cursor belongs to; resuming with others is refused.
    public var optionsFingerprint: String
    public var epoch: Int
    /// Index into the epoch's file order; equal to the file count once all files are read.
    public var fileIndex: Int
    public var position: FilePosition
    public var documentsToSkip: Int
    public var tokensToSkip: Int
    /// All files of this epoch read; only the shuffle buffer remains.
    public var sourceExhausted: Bool
    /// Sequences produced so far in this epoch (an epoch with none means an empty corpus).
    public var epochSequences: Int
    public var shuffleRandomState: UInt64
    public var pendingSequences: PendingSequences
}
