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
    private let coins: BernoulliBits

    public init(options: MaskingOptions, vocabulary: MaskingVocabulary) throws(MaskingError) {
        core = try MaskingCore(options: options, vocabulary: vocabulary)
        coins = BernoulliBits(probability: options.probability)
    }

    public func mask(_ batch: TokenBatch, seed: UInt64, epoch: Int, batchIndex: Int, into out: inout MaskedBatch) {
        core.run(self, batch: batch, seed: seed, epoch: epoch, batchIndex: batchIndex, into: &out)
    }

    func selectRow(_ row: RowView, scratch: RowScratch, rng: inout Xoshiro256StarStar, stats: inout MaskingStats) {
        let (tokens, words) = scratch.collectWordStarts(row)
        stats.eligibleTokens += tokens
        stats.eligibleWords += words
        let length = row.length, blocks = (length + 63) / 64
        let cap = core.rowCap
        var selected = 0
        switch core.options.budget {
        case .exact:
            let target = core.exactTarget(eligibleTokens: tokens)
            let candidates = scratch.candidateBits
            candidates.update(from: scratch.wordStartBits, count: blocks)
            var unvisited = words
            while selected < target && unvisited > 0 {
                // The next word of a random order: uniform among the words not visited yet.
                let start = unvisited * 4 >= length
                    ? randomCandidateByRejection(candidates, length: length, rng: &rng)
                    : nthCandidate(candidates, rng.below(unvisited))
                candidates[start >> 6] &= ~(1 << UInt64(start & 63))
                unvisited -= 1
                let end = scratch.wordEnd(from: start, length: length)
                let after = selected + end - start
                let fits = after <= target
                let closer = after - target < target - selected && after <= cap
                if fits || closer {
                    core.selectColumns(start..<end, fate: core.drawFate(&rng), scratch: scratch, rng: &rng)
                    selected = after
                }
            }
        case .bernoulli:
            // One Bernoulli bit per column, kept at word starts: each word independently.
            for block in 0..<blocks {
                var hits = scratch.wordStartBits[block] & coins.draw(&rng)
                while hits != 0 {
                    let start = block * 64 + hits.trailingZeroBitCount
                    hits &= hits - 1
                    let end = scratch.wordEnd(from: start, length: length)
                    if selected + end - start <= cap {
                        core.selectColumns(start..<end, fate: core.drawFate(&rng), scratch: scratch, rng: &rng)
                        selected += end - start
                    }
                }
            }
        }
    }

    /// A uniform column among the set bits, drawn by rejection (at least a quarter of columns are set).
    @inline(__always)
    private func randomCandidateByRejection(
        _ candidates: UnsafeMutablePointer<UInt64>, length: Int, rng: inout Xoshiro256StarStar
    ) -> Int {
        while true {
            let column = rng.below(length)
            if candidates[column >> 6] >> UInt64(column & 63) & 1 != 0 { return column }
        }
    }

    /// The column of the `index`-th set bit (counting from 0).
    @inline(__always)
    private func nthCandidate(_ candidates: UnsafeMutablePointer<UInt64>, _ index: Int) -> Int {
        var remaining = index, block = 0
        while true {
            var bits = candidates[block]
            let count = bits.nonzeroBitCount
            if remaining < count {
                for _ in 0..<remaining { bits &= bits - 1 }
                return block * 64 + bits.trailingZeroBitCount
            }
            remaining -= count
            block += 1
        }
    }
}
