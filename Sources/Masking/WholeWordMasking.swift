import Corpus

/// Whole-word masking for any tokenizer: words come from `TokenBatch.wordIds`, not from `##`
/// prefixes, and a word is selected with all its pieces or not at all.
///
/// Exact budget: words are visited in random order and taken while they fit the row's target of
/// round(p·n) tokens. A word that would overshoot is taken only if it brings the count strictly
/// closer to the target (ending the row); otherwise it is skipped and smaller words are tried. So a
/// row lands within half a word of its target, and the realised rate is reported in `MaskingStats`.
/// Bernoulli budget: each word independently with probability p (expected token rate p).
/// By default all pieces of a word share one replacement; `perPieceReplacement` draws one per piece,
/// as Google's whole-word BERT does.
public final class WholeWordMasking: MaskingStrategy, RowSelector {
    let core: MaskingCore
    public var options: MaskingOptions { core.options }
    public var vocabulary: MaskingVocabulary { core.vocabulary }

    public init(options: MaskingOptions, vocabulary: MaskingVocabulary) throws(MaskingError) {
        core = try MaskingCore(options: options, vocabulary: vocabulary)
    }

    public func mask(_ batch: TokenBatch, seed: UInt64, epoch: Int, batchIndex: Int, into out: inout MaskedBatch) {
        core.run(self, batch: batch, seed: seed, epoch: epoch, batchIndex: batchIndex, into: &out)
    }

    func selectRow(_ row: RowView, scratch: RowScratch, rng: inout Xoshiro256StarStar, stats: inout MaskingStats) {
        let (tokens, words) = scratch.collectWords(row)
        stats.eligibleTokens += tokens
        stats.eligibleWords += words
        let lengths = scratch.wordLength, order = scratch.wordOrder
        let cap = core.rowCap
        var selected = 0
        switch core.options.budget {
        case .exact:
            let target = core.exactTarget(eligibleTokens: tokens)
            for index in 0..<words { order[index] = Int32(truncatingIfNeeded: index) }
            var index = 0
            while selected < target && index < words {
                // Lazy Fisher-Yates: draw the next word of a random order only when it is needed.
                let pick = index + rng.below(words - index)
                let word = Int(order[pick])
                order[pick] = order[index]
                order[index] = Int32(truncatingIfNeeded: word)
                index += 1
                let after = selected + Int(lengths[word])
                let fits = after <= target
                let closer = after - target < target - selected && after <= cap
                if fits || closer {
                    core.selectWord(word, scratch: scratch, rng: &rng)
                    selected = after
                }
            }
        case .bernoulli:
            var coins = CoinFlips(probability: core.options.probability)
            for word in 0..<words where coins.flip(&rng) {
                let after = selected + Int(lengths[word])
                if after <= cap {
                    core.selectWord(word, scratch: scratch, rng: &rng)
                    selected = after
                }
            }
        }
    }
}
