import Foundation
import TensorKernels

/// Global-norm gradient clipping over the trainable tensors, as `torch.nn.utils.clip_grad_norm_`.
public enum GradientClipping {
    /// The L2 norm of all trainable gradients. Partial sums are per fixed chunk and added in
    /// chunk order, so the result does not depend on the thread count.
    public static func globalNorm(of gradients: UnsafeBufferPointer<Float>, spans: TrainableSpans,
                                  threads: Int) -> Double {
        let partial = UnsafeMutableBufferPointer<Double>.allocate(capacity: max(1, spans.chunkCount))
        defer { partial.deallocate() }
        partial.initialize(repeating: 0)
        squaredNorms(of: gradients, spans: spans, threads: threads, into: partial)
        return norm(ofSquaredNorms: UnsafeBufferPointer(partial))
    }

    /// Each chunk's sum of squares into `partial[chunk]` (`partial` holds `spans.chunkCount`), for `chunks`
    /// (default: all; a sharded optimizer's ranks fill their own chunks and sum the vectors).
    public static func squaredNorms(of gradients: UnsafeBufferPointer<Float>, spans: TrainableSpans,
                                    chunks: Range<Int>? = nil, threads: Int, into partial: UnsafeMutableBufferPointer<Double>) {
        guard let g = gradients.baseAddress, let base = partial.baseAddress, partial.count >= spans.chunkCount else { return }
        spans.forEachChunk(threads: threads, chunks: chunks, SquaredNorms(g: g, partial: base))
    }

    /// The global norm from the chunks' sums of squares, added in chunk order.
    public static func norm(ofSquaredNorms partial: UnsafeBufferPointer<Double>) -> Double {
        partial.reduce(0, +).squareRoot()
    }

    /// The global norm of the trainable gradients and the factor that clips it to `maxNorm` (1 when it is
    /// within, or `maxNorm` is nil or not positive), for `AdamW.update(gradientScale:)`: the optimizer scales
    /// each gradient as it reads it, which equals torch's in-place `clip_grad_norm_` before the step.
    public static func factor(of gradients: UnsafeBufferPointer<Float>, spans: TrainableSpans,
                              maxNorm: Double?, threads: Int) -> (norm: Double, factor: Float) {
        let norm = globalNorm(of: gradients, spans: spans, threads: threads)
        return (norm, Float(coefficient(norm: norm, maxNorm: maxNorm)))
    }

    /// Multiplies the trainable gradients (of `chunks`; default: all) by `factor`.
    public static func scale(_ gradients: UnsafeMutableBufferPointer<Float>, by factor: Float,
                             spans: TrainableSpans, chunks: Range<Int>? = nil, threads: Int) {
        guard let g = gradients.baseAddress else { return }
        spans.forEachChunk(threads: threads, chunks: chunks, Scale(g: g, factor: factor))
    }

    /// The clipping factor for a gradient of norm `norm`: 1 when it is within `maxNorm` (or nil/not positive),
    /// else maxNorm / (norm + 1e-6), as torch.
    public static func coefficient(norm: Double, maxNorm: Double?) -> Double {
        guard let maxNorm, maxNorm > 0 else { return 1 }
        return min(1, maxNorm / (norm + 1e-6))
    }
}

/// Writes each chunk's sum of squares (a Float sum per piece, added in Double) to `partial[chunk]`.
private struct SquaredNorms: SpanChunkBody {
    let g: UnsafePointer<Float>, partial: UnsafeMutablePointer<Double>
    func run(chunk: Int, pieces: [TrainableSpans.Piece]) {
        var sum: Double = 0
        for piece in pieces {
            sum += Double(OptimizerKernels.sumOfSquares(g + piece.arenaStart, count: piece.count))
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
