import Model

/// The trainable tensors of a parameter arena, cut into fixed-size chunks for parallel
/// elementwise work. Frozen tensors are absent, so optimiser state and gradient norms never
/// touch them. Positions are counted in a compact "state" index (trainable elements only,
/// in layout order); each piece maps a state range back to its arena offset.
public struct TrainableSpans: Sendable {
    struct Piece: Sendable {
        let arenaStart: Int
        let stateStart: Int
        let count: Int
        let decays: Bool
    }

    /// Trainable tensors in layout order.
    public let tensors: [ParameterTensor]
    /// Start of each trainable tensor in the compact state index, by name.
    public let stateOffsets: [String: Int]
    /// Total trainable elements.
    public let elementCount: Int
    let chunks: ParallelChunks
    let piecesByChunk: [[Piece]]

    public init(layout: ParameterLayout, isTrainable: (ParameterTensor) -> Bool) {
        self.init(tensors: layout.tensors.filter(isTrainable))
    }

    init(tensors: [ParameterTensor], chunkSize: Int = 1 << 15) {
        self.tensors = tensors
        var offsets: [String: Int] = [:]
        var pieces: [Piece] = []
        var state = 0
        for t in tensors {
            offsets[t.name] = state
            pieces.append(Piece(arenaStart: t.offset, stateStart: state, count: t.count, decays: t.decays))
            state += t.count
        }
        stateOffsets = offsets
        elementCount = state
        chunks = ParallelChunks(count: state, chunkSize: chunkSize)

        // Cut the tensor pieces at chunk boundaries.
        var byChunk = [[Piece]](repeating: [], count: chunks.chunkCount)
        for p in pieces {
            var start = p.stateStart
            let end = p.stateStart + p.count
            while start < end {
                let chunk = start / chunks.chunkSize
                let stop = min(end, (chunk + 1) * chunks.chunkSize)
                byChunk[chunk].append(Piece(
                    arenaStart: p.arenaStart + (start - p.stateStart), stateStart: start,
                    count: stop - start, decays: p.decays))
                start = stop
            }
        }
        piecesByChunk = byChunk
    }

    /// Runs `body(chunk, pieces)` over every chunk on up to `threads` workers.
    func forEachChunk(threads: Int, _ body: (Int, [Piece]) -> Void) {
        chunks.run(threads: threads) { chunk, _ in body(chunk, piecesByChunk[chunk]) }
    }

    var chunkCount: Int { chunks.chunkCount }
}
