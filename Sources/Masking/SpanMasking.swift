import Corpus

/// SpanBERT's span masking over whole words.
///
/// Span lengths in words follow a geometric distribution (`spanGeometricP`) truncated to
/// 1...`maxSpanLength` and renormalised, as SpanBERT does. A span starts at a random unselected
/// word and grows to the right, then to the left, over adjacent unselected words of the same segment
/// (it never crosses `[SEP]`). Spans are placed whole until the row reaches its token target, so the
/// last span usually overshoots; the overshoot is subtracted from the next row's target, which keeps
/// the batch rate on p without cutting spans short (cutting them would shrink the mean span length).
/// Rows get p·n (exact) or Binomial(n, p) (bernoulli) tokens plus that carry; the per-row cap, if
/// set, is never exceeded. All pieces of a span share one replacement unless `perPieceReplacement`.
public final class SpanMasking: MaskingStrategy, RowSelector {
    let core: MaskingCore
    public var options: MaskingOptions { core.options }
    public var vocabulary: MaskingVocabulary { core.vocabulary }
    /// Cumulative span-length probabilities as `unit53` thresholds; the last is 2^53.
    private let lengthThresholds: [UInt64]
    /// Tokens the rows so far selected beyond their targets (≤ 0), owed by the next row.
    private var carry = 0.0
    private let coins: BernoulliBits

    public init(options: MaskingOptions, vocabulary: MaskingVocabulary) throws(MaskingError) {
        core = try MaskingCore(options: options, vocabulary: vocabulary)
        coins = BernoulliBits(probability: options.probability)
        var weights = [Double]()
        var weight = options.spanGeometricP
        for _ in 1...options.maxSpanLength {
            weights.append(weight)
            weight *= 1 - options.spanGeometricP
        }
        let total = weights.reduce(0, +)
        var cumulative = 0.0
        lengthThresholds = weights.indices.map { index in
            cumulative += weights[index]
            return index == weights.count - 1 ? probabilityThreshold(1) : probabilityThreshold(cumulative / total)
        }
    }

    public func mask(_ batch: TokenBatch, seed: UInt64, epoch: Int, batchIndex: Int, into out: inout MaskedBatch) {
        core.run(self, batch: batch, seed: seed, epoch: epoch, batchIndex: batchIndex, into: &out)
    }

    func beginBatch() { carry = 0 }

    @inline(__always)
    private func drawSpanLength(_ rng: inout Xoshiro256StarStar) -> Int {
        let u = rng.unit53()
        var length = 1
        while u >= lengthThresholds[length - 1] { length += 1 }
        return length
    }

    func selectRow(_ row: RowView, scratch: RowScratch, rng: inout Xoshiro256StarStar, stats: inout MaskingStats) {
        let (tokens, words) = scratch.collectWords(row)
        stats.eligibleTokens += tokens
        stats.eligibleWords += words
        guard words > 0 else { return }
        let starts = scratch.wordStart, lengths = scratch.wordLength, taken = scratch.wordTaken
        taken.update(repeating: 0, count: words)

        var base = core.options.probability * Double(tokens)
        if core.options.budget == .bernoulli {
            // Binomial(n, p): the count of n independent Bernoulli bits.
            var hits = 0, remaining = tokens
            while remaining > 0 {
                let bits = coins.draw(&rng)
                hits += (remaining >= 64 ? bits : bits & ((1 << UInt64(remaining)) - 1)).nonzeroBitCount
                remaining -= 64
            }
            base = Double(hits)
        }
        let target = base + carry
        let cap = core.rowCap
        var selected = 0, free = words

        @inline(__always) func adjacent(_ left: Int, _ right: Int) -> Bool {
            starts[left] + lengths[left] == starts[right]
        }

        while Double(selected) < target && free > 0 && selected < cap {
            let spanLength = drawSpanLength(&rng)
            // A few uniform draws find a free anchor almost always; the scan is the fallback.
            var anchor = rng.below(words)
            var tries = 1
            while taken[anchor] != 0 && tries < 8 {
                anchor = rng.below(words)
                tries += 1
            }
            while taken[anchor] != 0 { anchor = anchor + 1 == words ? 0 : anchor + 1 }

            var first = anchor, last = anchor
            while last - first + 1 < spanLength && last + 1 < words && taken[last + 1] == 0 && adjacent(last, last + 1) {
                last += 1
            }
            while last - first + 1 < spanLength && first > 0 && taken[first - 1] == 0 && adjacent(first - 1, first) {
                first -= 1
            }

            var spanWords = 0, spanTokens = 0
            for word in first...last {
                let after = selected + spanTokens + Int(lengths[word])
                if after > cap { break }
                taken[word] = 1
                spanTokens += Int(lengths[word])
                spanWords += 1
            }
            guard spanWords > 0 else { break }
            // The span's words are adjacent, so its pieces are one run of columns sharing one fate.
            let start = Int(starts[first])
            core.selectColumns(start..<(start + spanTokens), fate: core.drawFate(&rng), scratch: scratch, rng: &rng)
            selected += spanTokens
            free -= spanWords
            stats.spans += 1
            stats.spanWords += spanWords
        }
        // Overshoot is owed by the next row; a shortfall (cap reached, row full) is not carried.
        carry = min(target - Double(selected), 0)
    }
}
