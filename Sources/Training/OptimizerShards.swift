import DataParallel
import Optimization

/// How the ranks of a data-parallel run share the optimizer (as ZeRO stage 1 does): rank r owns a
/// contiguous run of the trainable spans' chunks. Each step reduce-scatters the gradients so that each
/// rank holds the sums of its own block, clips and updates only its block, and all-gathers the updated
/// weights: the bytes of one ring allreduce, with the AdamW work divided among the ranks. Every rank holds
/// every moment buffer, but keeps only its own block current; `gatherMoments` completes them for a checkpoint.
struct OptimizerShards {
    let rank: Int
    /// The chunks of the spans this rank clips and updates.
    let chunks: Range<Int>
    /// Arena offset of rank 0's block; the blocks tile `base..<base + counts.sum`.
    let base: Int
    let counts: [Int32], offsets: [Int32]
    /// The same blocks in the optimizer's compact moment index.
    let stateCounts: [Int32], stateOffsets: [Int32]

    /// `arena` (the span of the trainable tensors) holds at most 2^31 − 1 floats (`Adaptation` checks).
    init(spans: TrainableSpans, arena: Range<Int>, rank: Int, ranks: Int) {
        self.rank = rank
        chunks = spans.chunks(ofRank: rank, among: ranks)
        base = arena.lowerBound
        let firstChunks = (0..<ranks).map { spans.chunks(ofRank: $0, among: ranks).lowerBound }
        let arenaBounds = firstChunks.map { spans.arenaStart(ofChunk: $0, end: arena.upperBound) } + [arena.upperBound]
        let stateBounds = firstChunks.map { min($0 * spans.chunkSize, spans.elementCount) } + [spans.elementCount]
        func blocks(_ bounds: [Int], from origin: Int) -> (counts: [Int32], offsets: [Int32]) {
            ((0..<ranks).map { Int32(bounds[$0 + 1] - bounds[$0]) }, (0..<ranks).map { Int32(bounds[$0] - origin) })
        }
        (counts, offsets) = blocks(arenaBounds, from: base)
        (stateCounts, stateOffsets) = blocks(stateBounds, from: 0)
    }

    /// This rank's block of the arena.
    var ownBlock: Range<Int> {
        let start = base + Int(offsets[rank])
        return start..<start + Int(counts[rank])
    }

    var coveredArena: Range<Int> { base..<base + counts.reduce(0) { $0 + Int($1) } }
}
