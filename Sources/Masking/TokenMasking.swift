import Corpus

/// BERT's token masking: word pieces are selected independently of their words.
///
/// Exact budget: a uniform sample of round(p·n) of the row's n eligible tokens (at least 1, at most
/// `maxPredictionsPerSeq`), as Google BERT does. Bernoulli budget: each eligible token with
/// probability p (p taken to 20 binary digits), as HF does; past the cap, tokens later in the row
/// are not selected. Each selected token then draws its replacement on its own: `[MASK]`, a random
/// non-special token, or unchanged. Token masking does not count words: the word fields of
/// `MaskingStats` stay 0.
public final class TokenMasking: MaskingStrategy, RowSelector {
    let core: MaskingCore
    public var options: MaskingOptions { core.options }
    public var vocabulary: MaskingVocabulary { core.vocabulary }
    private let coins: BernoulliBits
    static var countsWords: Bool { false }

    public init(options: MaskingOptions, vocabulary: MaskingVocabulary) throws(MaskingError) {
        core = try MaskingCore(options: options, vocabulary: vocabulary)
        coins = BernoulliBits(probability: options.probability)
    }

    public func mask(_ batch: TokenBatch, seed: UInt64, epoch: Int, batchIndex: Int, into out: inout MaskedBatch) {
        core.run(self, batch: batch, seed: seed, epoch: epoch, batchIndex: batchIndex, into: &out)
    }

    func selectRow(_ row: RowView, scratch: RowScratch, rng: inout Xoshiro256StarStar, stats: inout MaskingStats) {
        let count = scratch.collectEligibleBits(row)
        stats.eligibleTokens += count
        switch core.options.budget {
        case .exact:
            let target = core.exactTarget(eligibleTokens: count)
            if (count - target) * 2 >= row.length {
                // Plenty of unselected eligible tokens stay: rejection sampling over columns picks a
                // uniform sample in about two draws per token, without listing the eligible columns.
                var selected = 0
                while selected < target {
                    let column = rng.below(row.length)
                    if scratch.isEligibleBit(column) && !scratch.isSelected(column) {
                        scratch.select(column, fate: core.drawFate(&rng))
                        selected += 1
                    }
                }
            } else {
                // Partial Fisher-Yates over the listed eligible columns.
                let eligible = scratch.eligible
                var listed = 0
                for column in 0..<row.length where scratch.isEligibleBit(column) {
                    eligible[listed] = Int32(truncatingIfNeeded: column)
                    listed += 1
                }
                for index in 0..<target {
                    let pick = index + rng.below(count - index)
                    let column = eligible[pick]
                    eligible[pick] = eligible[index]
                    eligible[index] = column
                    scratch.select(Int(column), fate: core.drawFate(&rng))
                }
            }
        case .bernoulli:
            var selected = 0
            blocks: for block in 0..<((row.length + 63) / 64) {
                var hits = scratch.eligibleBits[block] & coins.draw(&rng)
                while hits != 0 {
                    guard selected < core.rowCap else { break blocks }
                    scratch.select(block * 64 + hits.trailingZeroBitCount, fate: core.drawFate(&rng))
                    hits &= hits - 1
                    selected += 1
                }
            }
        }
    }
}
