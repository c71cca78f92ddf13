import Model
import TensorKernels

/// The trainable tensors of a parameter arena, cut into fixed-size chunks for parallel
/// elementwise work. The chunking does not depend on the thread count, so per-chunk partial
/// sums added in chunk order are bitwise the same at any thread count. Frozen tensors are
/// absent, so optimiser state and gradient norms never touch them. Positions are counted in a compact "state" index (trainable elements only,
/// in layout order); each piece maps a state range back to its arena offset. Each tensor carries the
/// factor by which its learning rate differs from the schedule's (parameter groups: head, encoder, layer decay).
public struct TrainableSpans: Sendable {
    struct Piece: Sendable {
        let arenaStart: Int
        let stateStart: Int
        let count: Int
        let decays: Bool
        let rateScale: Double
    }

    /// Trainable tensors in layout order.
    public let tensors: [ParameterTensor]
    /// Start of each trainable tensor in the compact state index, by name.
    public let stateOffsets: [String: Int]
    /// Total trainable elements.
    public let elementCount: Int
    /// Each trainable tensor's learning-rate factor, by name.
    public let rateScales: [String: Double]
    let piecesByChunk: [[Piece]]

    /// `rateScale` gives a tensor's learning rate as a multiple of the schedule's (1: the schedule's own).
    public init(layout: ParameterLayout, isTrainable: (ParameterTensor) -> Bool,
                rateScale: (ParameterTensor) -> Double = { _ in 1 }) {
        self.init(tensors: layout.tensors.filter(isTrainable), rateScale: rateScale)
    }

    init(tensors: [ParameterTensor], chunkSize: Int = 1 << 15, rateScale: (ParameterTensor) -> Double = { _ in 1 }) {
        self.tensors = tensors
        var offsets: [String: Int] = [:]
        var scales: [String: Double] = [:]
        var pieces: [Piece] = []
        var state = 0
        for t in tensors {
            offsets[t.name] = state
            let scale = rateScale(t)
            scales[t.name] = scale
            pieces.append(Piece(arenaStart: t.offset, stateStart: state, count: t.count, decays: t.decays, rateScale: scale))
            state += t.count
        }
        rateScales = scales
        stateOffsets = offsets
        elementCount = state
        let chunkSize = max(1, chunkSize)

        // Cut the tensor pieces at chunk boundaries.
        var byChunk = [[Piece]](repeating: [], count: (state + chunkSize - 1) / chunkSize)
        for p in pieces {
            var start = p.stateStart
            let end = p.stateStart + p.count
            while start < end {
                let chunk = start / chunkSize
                let stop = min(end, (chunk + 1) * chunkSize)
                byChunk[chunk].append(Piece(
                    arenaStart: p.arenaStart + (start - p.stateStart), stateStart: start,
                    count: stop - start, decays: p.decays, rateScale: p.rateScale))
                start = stop
            }
        }
        piecesByChunk = byChunk
    }

    /// Runs `body` over every chunk on up to `threads` workers of the kernels' pool.
    func forEachChunk<Body: SpanChunkBody>(threads: Int, _ body: Body) {
        Parallel.forEachRange(chunkCount, grain: 1, workers: threads, SpanChunks(piecesByChunk: piecesByChunk, body: body))
    }

    var chunkCount: Int { piecesByChunk.count }
}

/// Elementwise work on the pieces of one chunk; a struct rather than a closure, so a parallel call
/// allocates nothing (see `ParallelBody`).
protocol SpanChunkBody {
    func run(chunk: Int, pieces: [TrainableSpans.Piece])
}

private struct SpanChunks<Body: SpanChunkBody>: ParallelBody {
    let piecesByChunk: [[TrainableSpans.Piece]]
    let body: Body
    func run(_ range: Range<Int>) {
        for chunk in range { body.run(chunk: chunk, pieces: piecesByChunk[chunk]) }
    }
}
