/// A packed batch of token sequences, row-major `[batchSize, seqLength]`, as the corpus
/// streamer hands it to masking. Buffers are reused from batch to batch.
public struct TokenBatch: Sendable {
    public let batchSize: Int
    public let seqLength: Int
    /// Token ids, padded with the vocab's `[PAD]` id.
    public var inputIds: [Int32]
    /// Segment ids (0 for a single segment).
    public var tokenTypeIds: [Int32]
    /// 1 for a real token, 0 for padding.
    public var attentionMask: [UInt8]
    /// 1 for `[CLS]`, `[SEP]` and `[PAD]`; such tokens are never masked.
    public var specialTokensMask: [UInt8]
    /// Which word each token belongs to, counted from 0 within its row; -1 for special tokens
    /// and padding. All pieces of one word share an id, so whole-word masking needs no `##`.
    public var wordIds: [Int32]
    /// Rows actually filled (the last batch of an epoch may be short); the rest is padding.
    public var rowCount: Int

    /// Bytes of the buffers above per token.
    public static let bytesPerToken = 3 * MemoryLayout<Int32>.stride + 2 * MemoryLayout<UInt8>.stride

    public init(batchSize: Int, seqLength: Int, padId: Int32) {
        self.batchSize = batchSize
        self.seqLength = seqLength
        let n = batchSize * seqLength
        inputIds = [Int32](repeating: padId, count: n)
        tokenTypeIds = [Int32](repeating: 0, count: n)
        attentionMask = [UInt8](repeating: 0, count: n)
        specialTokensMask = [UInt8](repeating: 1, count: n)
        wordIds = [Int32](repeating: -1, count: n)
        rowCount = 0
    }
}
