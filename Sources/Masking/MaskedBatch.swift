import Corpus

/// A masked batch, row-major `[batchSize, seqLength]`, ready for the MLM forward pass.
/// Allocate once and pass to every `mask(...)` call: buffers are reused, not reallocated.
public struct MaskedBatch: Sendable {
    public private(set) var batchSize: Int
    public private(set) var seqLength: Int
    /// Rows filled from the source batch; the rest is padding.
    public internal(set) var rowCount: Int
    /// Input ids after replacement (`[MASK]`, a random token, or unchanged).
    public internal(set) var inputIds: [Int32]
    /// The original id where a token is predicted, -100 elsewhere (HF's ignore index). Read-only
    /// outside the module, so masking resets just the previous batch's positions, not every label.
    public internal(set) var labels: [Int32]
    /// Flat `row * seqLength + column` of every predicted token, ascending.
    public internal(set) var maskedPositions: [Int32]
    /// Original ids at `maskedPositions`, in the same order.
    public internal(set) var maskedLabels: [Int32]
    /// Counts for this batch; add them up (`+=`) to report realised rates.
    public internal(set) var stats: MaskingStats

    public static let ignoreIndex: Int32 = -100
    /// Bytes of the buffers above per token (the position and label lists are reserved for every token).
    public static let bytesPerToken = 4 * MemoryLayout<Int32>.stride

    public init(batchSize: Int, seqLength: Int) {
        self.batchSize = batchSize
        self.seqLength = seqLength
        rowCount = 0
        inputIds = [Int32](repeating: 0, count: batchSize * seqLength)
        labels = [Int32](repeating: Self.ignoreIndex, count: batchSize * seqLength)
        maskedPositions = []
        maskedPositions.reserveCapacity(batchSize * seqLength)
        maskedLabels = []
        maskedLabels.reserveCapacity(batchSize * seqLength)
        stats = MaskingStats()
    }

    /// Becomes rows `rows` of `source` (at most `batchSize` of them, the same sequence length): a
    /// data-parallel rank's share of a batch masked whole. Positions count from the share's first row;
    /// `stats` stay the whole batch's. Allocates nothing once the buffers have their capacity.
    public mutating func copyRows(_ rows: Range<Int>, of source: MaskedBatch) {
        precondition(source.seqLength == seqLength && rows.count <= batchSize && rows.upperBound <= source.batchSize,
                     "copyRows: \(rows) of a \(source.batchSize)×\(source.seqLength) batch into \(batchSize)×\(seqLength)")
        let s = seqLength, first = rows.lowerBound * s, end = rows.upperBound * s
        inputIds.withUnsafeMutableBufferPointer { out in
            source.inputIds.withUnsafeBufferPointer { out.baseAddress!.update(from: $0.baseAddress! + first, count: end - first) }
        }
        labels.withUnsafeMutableBufferPointer { out in
            source.labels.withUnsafeBufferPointer { out.baseAddress!.update(from: $0.baseAddress! + first, count: end - first) }
        }
        maskedPositions.removeAll(keepingCapacity: true)
        maskedLabels.removeAll(keepingCapacity: true)
        for (index, position) in source.maskedPositions.enumerated() where position >= first && position < end {
            maskedPositions.append(position - Int32(first))
            maskedLabels.append(source.maskedLabels[index])
        }
        rowCount = rows.count
        stats = source.stats
    }

    /// Matches the shape of `batch`; allocates only when the shape changes.
    mutating func reshape(like batch: TokenBatch) {
        if batch.batchSize != batchSize || batch.seqLength != seqLength {
            self = MaskedBatch(batchSize: batch.batchSize, seqLength: batch.seqLength)
        }
    }
}

/// What a masking pass selected, so the trainer can report realised rates.
public struct MaskingStats: Sendable, Equatable, Codable {
    /// Non-special, non-padding tokens: the ones that could be selected.
    public var eligibleTokens = 0
    public var selectedTokens = 0
    /// Selected tokens replaced by `[MASK]`, by a random token, or left unchanged.
    public var maskTokens = 0
    public var randomTokens = 0
    public var keptTokens = 0
    /// Word counts below are kept by whole-word and span masking; token masking leaves them 0.
    /// Words (runs of one word id) among the eligible tokens.
    public var eligibleWords = 0
    /// Words with every piece selected.
    public var selectedWords = 0
    /// Words with some but not all pieces selected: always 0, the whole-word guarantee, checked.
    public var partlySelectedWords = 0
    /// Selected words whose pieces did not all get the same replacement (only with per-piece replacement).
    public var mixedReplacementWords = 0
    /// Span masking: spans placed and the words they cover.
    public var spans = 0
    public var spanWords = 0

    public init() {}

    public var selectionRate: Double { ratio(selectedTokens, eligibleTokens) }
    public var maskFraction: Double { ratio(maskTokens, selectedTokens) }
    public var randomFraction: Double { ratio(randomTokens, selectedTokens) }
    public var keepFraction: Double { ratio(keptTokens, selectedTokens) }
    public var meanSpanWords: Double { ratio(spanWords, spans) }

    private func ratio(_ part: Int, _ whole: Int) -> Double { whole == 0 ? 0 : Double(part) / Double(whole) }

    public static func += (total: inout MaskingStats, batch: MaskingStats) {
        total.eligibleTokens += batch.eligibleTokens
        total.selectedTokens += batch.selectedTokens
        total.maskTokens += batch.maskTokens
        total.randomTokens += batch.randomTokens
        total.keptTokens += batch.keptTokens
        total.eligibleWords += batch.eligibleWords
        total.selectedWords += batch.selectedWords
        total.partlySelectedWords += batch.partlySelectedWords
        total.mixedReplacementWords += batch.mixedReplacementWords
        total.spans += batch.spans
        total.spanWords += batch.spanWords
    }
}

extension MaskedBatch {
    /// Words with at least one predicted piece, a word being a run of one word id in a row of `source`
    /// (the batch this one masked), as whole-word masking sees it. `maskedPositions` ascend and a word's
    /// pieces are adjacent, so a word is counted where its row or word id differs from the previous
    /// predicted position's. A word cut by a row boundary counts once in each row.
    public func maskedWordCount(wordsOf source: TokenBatch) -> Int {
        precondition(source.batchSize == batchSize && source.seqLength == seqLength,
                     "maskedWordCount: a \(source.batchSize)×\(source.seqLength) source for a \(batchSize)×\(seqLength) masked batch")
        var count = 0
        var previous: (row: Int, word: Int32) = (-1, -1)
        for position in maskedPositions {
            let flat = Int(position), row = flat / seqLength, word = source.wordIds[flat]
            // A predicted special token (never selected by the strategies) has no word: it counts alone.
            if word < 0 || row != previous.row || word != previous.word { count += 1 }
            previous = (row, word)
        }
        return count
    }
}
