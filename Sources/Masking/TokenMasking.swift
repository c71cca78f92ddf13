import Corpus

/// BERT's token masking: word pieces are selected independently of their words.
///
/// Exact budget: a uniform sample of round(p·n) of the row's n eligible tokens (at least 1, at most
/// `maxPredictionsPerSeq`), as Google BERT does. Bernoulli budget: each eligible token with
/// probability p, as HF does (tokens past the cap are not selected). Each selected token then draws
/// its replacement on its own: `[MASK]`, a random non-special token, or unchanged.
public final class TokenMasking: MaskingStrategy, RowSelector {
    let core: MaskingCore
    public var options: MaskingOptions { core.options }
    public var vocabulary: MaskingVocabulary { core.vocabulary }

    public init(options: MaskingOptions, vocabulary: MaskingVocabulary) throws(MaskingError) {
        core = try MaskingCore(options: options, vocabulary: vocabulary)
    }

    public func mask(_ batch: TokenBatch, seed: UInt64, epoch: Int, batchIndex: Int, into out: inout MaskedBatch) {
        core.run(self, batch: batch, seed: seed, epoch: epoch, batchIndex: batchIndex, into: &out)
    }

    func selectRow(_ row: RowView, rng: inout Xoshiro256StarStar) {
        let eligible = core.eligible, fates = core.fates
        let count = core.collectEligible(row)
        switch core.options.budget {
        case .exact:
            // Partial Fisher-Yates: the first `target` entries become a uniform sample.
            let target = core.exactTarget(eligibleTokens: count)
            for index in 0..<target {
                let pick = index + rng.below(count - index)
                let column = eligible[pick]
                eligible[pick] = eligible[index]
                eligible[index] = column
                fates[Int(column)] = core.drawFate(&rng)
            }
        case .bernoulli:
            var selected = 0
            for index in 0..<count where rng.unit53() < core.selectThreshold && selected < core.rowCap {
                fates[Int(eligible[index])] = core.drawFate(&rng)
                selected += 1
            }
        }
    }
}
