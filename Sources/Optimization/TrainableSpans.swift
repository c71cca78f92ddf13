import Model
import TensorKernels

/// The trainable tensors of a parameter arena, cut into fixed-size chunks (in arena order) for parallel
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
    /// Trainable elements per chunk (the last may hold fewer).
    public let chunkSize: Int
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
        // In arena order (a layer's query, key and value weights sit together, before their biases), so each
        // run of chunks covers one contiguous part of the arena, which a sharded optimizer's rank can own.
        for t in tensors.sorted(by: { $0.offset < $1.offset }) {
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
        self.chunkSize = chunkSize

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

    /// Runs `body` over `chunks` (default: all) on up to `threads` workers of the kernels' pool.
    func forEachChunk<Body: SpanChunkBody>(threads: Int, chunks: Range<Int>? = nil, _ body: Body) {
        let chunks = chunks ?? 0..<chunkCount
        Parallel.forEachRange(
            chunks.count, grain: 1, workers: threads,
            SpanChunks(piecesByChunk: piecesByChunk, first: chunks.lowerBound, body: body))
    }

    public var chunkCount: Int { piecesByChunk.count }

    /// The chunks rank `rank` of `ranks` updates when the optimizer is sharded: contiguous, in order, about
    /// equal in size (empty when there are fewer chunks than ranks).
    public func chunks(ofRank rank: Int, among ranks: Int) -> Range<Int> {
        rank * chunkCount / ranks..<(rank + 1) * chunkCount / ranks
    }

    /// The arena offset where chunk `chunk`'s first element lies (`end` past the last chunk).
    public func arenaStart(ofChunk chunk: Int, end: Int) -> Int {
        chunk < chunkCount ? piecesByChunk[chunk].first?.arenaStart ?? end : end
    }
}

/// Elementwise work on the pieces of one chunk; a struct rather than a closure, so a parallel call
/// allocates nothing (see `ParallelBody`).
protocol SpanChunkBody {
    func run(chunk: Int, pieces: [TrainableSpans.Piece])
}

private struct SpanChunks<Body: SpanChunkBody>: ParallelBody {
    let piecesByChunk: [[TrainableSpans.Piece]]
    let first: Int
    let body: Body
    func run(_ range: Range<Int>) {
        for index in range { body.run(chunk: first + index, pieces: piecesByChunk[first + index]) }
    }
}
