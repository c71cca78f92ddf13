import Foundation

/// Global-norm gradient clipping over the trainable tensors, as `torch.nn.utils.clip_grad_norm_`.
public enum GradientClipping {
    /// The L2 norm of all trainable gradients. Partial sums are per fixed chunk and added in
    /// chunk order, so the result does not depend on the thread count.
    public static func globalNorm(of gradients: UnsafeBufferPointer<Float>, spans: TrainableSpans,
                                  threads: Int) -> Double {
        guard let g = gradients.baseAddress else { return 0 }
        let partial = UnsafeMutableBufferPointer<Double>.allocate(capacity: max(1, spans.chunkCount))
        defer { partial.deallocate() }
        partial.initialize(repeating: 0)
        spans.forEachChunk(threads: threads, SquaredNorms(g: g, partial: partial.baseAddress!))
        return partial.reduce(0, +).squareRoot()
    }

    /// Scales trainable gradients so their global norm is at most `maxNorm` (nothing when
    /// `maxNorm` is nil or not positive) and returns the norm before clipping.
    @discardableResult
    public static func clip(_ gradients: UnsafeMutableBufferPointer<Float>, spans: TrainableSpans,
                            maxNorm: Double?, threads: Int) -> Double {
        let norm = globalNorm(of: UnsafeBufferPointer(gradients), spans: spans, threads: threads)
        guard let maxNorm, maxNorm > 0 else { return norm }
        let coefficient = maxNorm / (norm + 1e-6)
        if coefficient < 1 {
            scale(gradients, by: Float(coefficient), spans: spans, threads: threads)
        }
        return norm
    }

    /// Multiplies the trainable gradients by `factor`.
    public static func scale(_ gradients: UnsafeMutableBufferPointer<Float>, by factor: Float,
                             spans: TrainableSpans, threads: Int) {
        guard let g = gradients.baseAddress else { return }
        spans.forEachChunk(threads: threads, Scale(g: g, factor: factor))
    }
}

/// Writes each chunk's sum of squares (a Float sum per piece, added in Double) to `partial[chunk]`.
private struct SquaredNorms: SpanChunkBody {
    let g: UnsafePointer<Float>, partial: UnsafeMutablePointer<Double>
    func run(chunk: Int, pieces: [TrainableSpans.Piece]) {
        var sum: Double = 0
        for piece in pieces {
            let gp = g + piece.arenaStart
            var s: Float = 0
            for i in 0..<piece.count { s += gp[i] * gp[i] }
            sum += Double(s)
        }
        partial[chunk] = sum
    }
}

private struct Scale: SpanChunkBody {
    let g: UnsafeMutablePointer<Float>, factor: Float
    func run(chunk: Int, pieces: [TrainableSpans.Piece]) {
        for piece in pieces {
            let gp = g + piece.arenaStart
            for i in 0..<piece.count { gp[i] *= factor }
        }
    }
}
