/// Scaled dot-product self-attention over `[tokens, heads·headSize]` Q/K/V matrices (heads side by side,
/// as the projections produce them), one (sequence, head) pair per task: its scores, masked softmax,
/// dropout and context stay in cache, and the small GEMMs run serially inside each task. Q, K and V
/// (and their gradients) may be column blocks of one wider matrix, as a fused QKV projection writes them:
/// `qkvStride` is their row stride; the context keeps rows of `heads·headSize`.
public enum Attention {
    public struct Shape: Sendable {
        public var batch: Int, heads: Int, seq: Int, headSize: Int
        /// Row stride of Q, K, V and their gradients (`heads·headSize` when they are separate matrices).
        public var qkvStride: Int
        public init(batch: Int, heads: Int, seq: Int, headSize: Int, qkvStride: Int? = nil) {
            self.batch = batch; self.heads = heads; self.seq = seq; self.headSize = headSize
            self.qkvStride = qkvStride ?? heads * headSize
        }
        var width: Int { heads * headSize }
        var pairs: Int { batch * heads }
        var scale: Float { 1 / Float(headSize).squareRoot() }
    }

    /// Saves the softmax probabilities `[batch, heads, seq, seq]` (before dropout) for the backward pass;
    /// `dropped` receives the probabilities after dropout when dropout is active.
    public static func forward(
        query: UnsafePointer<Float>, key: UnsafePointer<Float>, value: UnsafePointer<Float>,
        keyMask: UnsafePointer<UInt8>, shape: Shape, dropout: DropoutMask,
        probabilities: UnsafeMutablePointer<Float>, dropped: UnsafeMutablePointer<Float>,
        context: UnsafeMutablePointer<Float>
    ) {
        Parallel.forEachRange(
            shape.pairs, grain: 1,
            AttentionForwardPairs(
                query: query, key: key, value: value, keyMask: keyMask, shape: shape, dropout: dropout,
                probabilities: probabilities, dropped: dropped, context: context))
    }

    /// Writes dQ, dK, dV from dContext. `dropped` and `probabilityGradient` are `[batch, heads, seq, seq]` scratch.
    public static func backward(
        contextGradient: UnsafePointer<Float>, query: UnsafePointer<Float>, key: UnsafePointer<Float>,
        value: UnsafePointer<Float>, probabilities: UnsafePointer<Float>, shape: Shape, dropout: DropoutMask,
        dropped: UnsafeMutablePointer<Float>, probabilityGradient: UnsafeMutablePointer<Float>,
        queryGradient: UnsafeMutablePointer<Float>, keyGradient: UnsafeMutablePointer<Float>,
        valueGradient: UnsafeMutablePointer<Float>
    ) {
        Parallel.forEachRange(
            shape.pairs, grain: 1,
            AttentionBackwardPairs(
                contextGradient: contextGradient, query: query, key: key, value: value, probabilities: probabilities,
                shape: shape, dropout: dropout, dropped: dropped, probabilityGradient: probabilityGradient,
                queryGradient: queryGradient, keyGradient: keyGradient, valueGradient: valueGradient))
    }
}

/// One (sequence, head) pair per index: scores, masked softmax, dropout, context.
private struct AttentionForwardPairs: ParallelBody {
    let query: UnsafePointer<Float>, key: UnsafePointer<Float>, value: UnsafePointer<Float>
    let keyMask: UnsafePointer<UInt8>, shape: Attention.Shape, dropout: DropoutMask
    let probabilities: UnsafeMutablePointer<Float>, dropped: UnsafeMutablePointer<Float>
    let context: UnsafeMutablePointer<Float>

    func run(_ pairs: Range<Int>) {
        let s = shape.seq, d = shape.headSize, w = shape.width, q = shape.qkvStride
        for pair in pairs {
            let b = pair / shape.heads, h = pair % shape.heads
            let rows = b * s * w + h * d, qkvRows = b * s * q + h * d
            let p = probabilities + pair * s * s
            Gemm.multiplySerial(
                transposeA: false, transposeB: true, m: s, n: s, k: d, alpha: shape.scale, a: query + qkvRows, lda: q,
                b: key + qkvRows, ldb: q, beta: 0, c: p, ldc: s)
            let mask = keyMask + b * s
            for i in 0..<s { AttentionSoftmax.maskedRow(p + i * s, mask: mask, count: s) }
            var weights = UnsafePointer(p)
            if dropout.isActive {
                let q = dropped + pair * s * s
                dropout.applySerial(p, into: q, count: s * s, first: pair * s * s)
                weights = UnsafePointer(q)
            }
            Gemm.multiplySerial(
                transposeA: false, transposeB: false, m: s, n: d, k: s, a: weights, lda: s, b: value + qkvRows,
                ldb: q, beta: 0, c: context + rows, ldc: w)
        }
    }
}

private struct AttentionBackwardPairs: ParallelBody {
    let contextGradient: UnsafePointer<Float>, query: UnsafePointer<Float>, key: UnsafePointer<Float>
    let value: UnsafePointer<Float>, probabilities: UnsafePointer<Float>, shape: Attention.Shape
    let dropout: DropoutMask, dropped: UnsafeMutablePointer<Float>
    let probabilityGradient: UnsafeMutablePointer<Float>, queryGradient: UnsafeMutablePointer<Float>
    let keyGradient: UnsafeMutablePointer<Float>, valueGradient: UnsafeMutablePointer<Float>

    func run(_ pairs: Range<Int>) {
        let s = shape.seq, d = shape.headSize, w = shape.width, q = shape.qkvStride
        for pair in pairs {
            let b = pair / shape.heads, h = pair % shape.heads
            let rows = b * s * w + h * d, qkvRows = b * s * q + h * d
            let base = pair * s * s
            let p = probabilities + base, g = probabilityGradient + base
            var weights = p
            if dropout.isActive {
                dropout.applySerial(p, into: dropped + base, count: s * s, first: base)
                weights = UnsafePointer(dropped + base)
            }
            // dP' = dC · Vᵀ and dV = P'ᵀ · dC.
            Gemm.multiplySerial(
                transposeA: false, transposeB: true, m: s, n: s, k: d, a: contextGradient + rows, lda: w,
                b: value + qkvRows, ldb: q, beta: 0, c: g, ldc: s)
            Gemm.multiplySerial(
                transposeA: true, transposeB: false, m: s, n: d, k: s, a: weights, lda: s,
                b: contextGradient + rows, ldb: w, beta: 0, c: valueGradient + qkvRows, ldc: q)
            if dropout.isActive {
                dropout.applySerial(g, into: g, count: s * s, first: base)
            }
            for i in 0..<s { AttentionSoftmax.backwardRow(p + i * s, gradient: g + i * s, count: s) }
            // dQ = scale · dS · K and dK = scale · dSᵀ · Q.
            Gemm.multiplySerial(
                transposeA: false, transposeB: false, m: s, n: d, k: s, alpha: shape.scale, a: g, lda: s,
                b: key + qkvRows, ldb: q, beta: 0, c: queryGradient + qkvRows, ldc: q)
            Gemm.multiplySerial(
                transposeA: true, transposeB: false, m: s, n: d, k: s, alpha: shape.scale, a: g, lda: s,
                b: query + qkvRows, ldb: q, beta: 0, c: keyGradient + qkvRows, ldc: q)
        }
    }
}
