import SeededRandom
import TensorKernels

/// Two training examples (indices) and the cosine their embeddings should have: 1 for the same class, 0 otherwise.
public struct ContrastivePair: Equatable, Sendable {
    public var first: Int
    public var second: Int
    public var target: Float
}

/// Positive and negative pairs as setfit's `ContrastiveDataset` (`num_iterations` mode) makes them: every
/// unordered combination of examples, an example with itself included, in a seeded random order, split
/// into same-class (positive) and different-class (negative) pairs; then `iterations × n` of each, cycling
/// through its list when it is shorter, interleaved positive, negative, positive, … So there are
/// `2 · iterations · n` pairs, half of them positive, and each combination occurs as often as any other of
/// its kind, give or take one.
public enum ContrastivePairs {
    /// Throws `MemoryBudgetError` when the pairs would not fit in memory (`--num-iterations` too large).
    public static func generate(labels: [Int32], iterations: Int, seed: UInt64) throws -> [ContrastivePair] {
        let n = labels.count
        guard n > 0, iterations > 0 else { return [] }
        // The interleaved list, and the positive and negative lists it cycles through: up to 4 · iterations · n pairs.
        try MemoryBudget.check(
            MemoryBudget.product(4, iterations, n, MemoryLayout<ContrastivePair>.stride),
            for: "the contrastive pairs of --num-iterations \(iterations) × \(n) train examples",
            hint: "lower --num-iterations")
        let quota = iterations * n
        var positives: [ContrastivePair] = [], negatives: [ContrastivePair] = []
        // A prefix of a uniform random permutation of the n(n+1)/2 combinations, drawn lazily (a sparse
        // Fisher–Yates), stopping once both quotas are met: for large sets only that prefix is ever made.
        let total = n * (n + 1) / 2
        var swapped: [Int: Int] = [:]
        var generator = SplitMix64(afterOneDrawFrom: seed)
        var drawn = 0
        while drawn < total, positives.count < quota || negatives.count < quota {
            let pick = drawn + Int(generator.next() % UInt64(total - drawn))
            let combination = swapped[pick] ?? pick
            swapped[pick] = swapped[drawn] ?? drawn
            drawn += 1
            let (i, j) = Self.combination(combination, n: n)
            let same = labels[i] == labels[j]
            let pair = ContrastivePair(first: i, second: j, target: same ? 1 : 0)
            if same { if positives.count < quota { positives.append(pair) } } else if negatives.count < quota { negatives.append(pair) }
        }
        var pairs: [ContrastivePair] = []
        pairs.reserveCapacity(2 * quota)
        for k in 0..<quota {
            if !positives.isEmpty { pairs.append(positives[k % positives.count]) }
            if !negatives.isEmpty { pairs.append(negatives[k % negatives.count]) }
        }
        return pairs
    }

    /// The `index`-th pair (i, j), i ≤ j, of the upper triangle of an n × n matrix in row order.
    static func combination(_ index: Int, n: Int) -> (Int, Int) {
        // Row i starts at i·n − i(i−1)/2; find the last row starting at or before index.
        var low = 0, high = n - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if mid * n - mid * (mid - 1) / 2 <= index { low = mid } else { high = mid - 1 }
        }
        let start = low * n - low * (low - 1) / 2
        return (low, low + index - start)
    }
}
