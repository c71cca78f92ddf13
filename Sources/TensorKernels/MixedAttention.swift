import CTensorKernels

/// `Attention` as PyTorch's CPU autocast runs it: the four score and context products (and the four of the
/// backward pass) on bf16 copies of their operands with float accumulation, each as one batched GEMM over
/// every (sequence, head) pair; the masked softmax, dropout and the softmax backward in float between them.
/// Q, K and V are the column blocks of one fused `[tokens, 3·heads·headSize]` projection.
/// Scratch use: `first` holds the bf16 Q/K/V, `second` the bf16 probabilities (then the score gradient),
/// `third` the bf16 context gradient.
public enum MixedAttention {
    /// The scratch capacities this needs: `[T, 3H]` and `[B, heads, S, S]` bf16 values, and `[T, H]`.
    public static func scratchNeeds(batch: Int, seq: Int, heads: Int, width: Int) -> (operands: Int, context: Int) {
        (max(batch * seq * 3 * width, batch * heads * seq * seq), batch * seq * width)
    }

    /// As `Attention.forward`, with `qkv` the fused projection (`shape.qkvStride == 3 · width`); the weights
    /// after dropout exist only as the bf16 copy the context product reads.
    public static func forward(
        qkv: UnsafePointer<Float>, keyMask: UnsafePointer<UInt8>, shape: Attention.Shape, dropout: DropoutMask,
        probabilities: UnsafeMutablePointer<Float>, context: UnsafeMutablePointer<Float>, scratch: BF16Scratch,
        gemm: any BF16Gemm
    ) {
        let layout = Layout(shape, scratch: scratch)
        BFloat16.convert(qkv, into: scratch.first, count: layout.tokens * shape.qkvStride)
        // Scores = scale · Q · Kᵀ.
        gemm.multiply(
            layout.batch(a: layout.projection, b: layout.projection, c: layout.scores), transposeA: false,
            transposeB: true, m: shape.seq, n: shape.seq, k: shape.headSize, alpha: shape.scale,
            a: layout.query, lda: shape.qkvStride, b: layout.key, ldb: shape.qkvStride, accumulate: false,
            c: probabilities, ldc: shape.seq)
        Parallel.forEachRange(
            shape.pairs, grain: 1,
            SoftmaxPairs(
                probabilities: probabilities, keyMask: keyMask, shape: shape, dropout: dropout, weights: scratch.second))
        // Context = P' · V.
        gemm.multiply(
            layout.batch(a: layout.scores, b: layout.projection, c: layout.context), transposeA: false,
            transposeB: false, m: shape.seq, n: shape.headSize, k: shape.seq, alpha: 1, a: scratch.second,
            lda: shape.seq, b: layout.value, ldb: shape.qkvStride, accumulate: false, c: context, ldc: shape.width)
    }

    /// As `Attention.backward`, writing the Q, K and V gradients into the blocks of `qkvGradient`.
    public static func backward(
        contextGradient: UnsafePointer<Float>, qkv: UnsafePointer<Float>, probabilities: UnsafePointer<Float>,
        shape: Attention.Shape, dropout: DropoutMask, probabilityGradient: UnsafeMutablePointer<Float>, qkvGradient: UnsafeMutablePointer<Float>,
        scratch: BF16Scratch, gemm: any BF16Gemm
    ) {
        let layout = Layout(shape, scratch: scratch)
        let s = shape.seq, d = shape.headSize, q = shape.qkvStride
        BFloat16.convert(qkv, into: scratch.first, count: layout.tokens * q)
        BFloat16.convert(contextGradient, into: scratch.third, count: layout.tokens * shape.width)
        // dP' = dC · Vᵀ.
        gemm.multiply(
            layout.batch(a: layout.context, b: layout.projection, c: layout.scores), transposeA: false,
            transposeB: true, m: s, n: s, k: d, alpha: 1, a: scratch.third, lda: shape.width, b: layout.value,
            ldb: q, accumulate: false, c: probabilityGradient, ldc: s)
        // dV = P'ᵀ · dC, with P' (after dropout) converted again rather than kept from the forward pass.
        Parallel.forEachRange(
            shape.pairs, grain: 1,
            DroppedWeightPairs(probabilities: probabilities, shape: shape, dropout: dropout, weights: scratch.second))
        gemm.multiply(
            layout.batch(a: layout.scores, b: layout.context, c: layout.projection), transposeA: true,
            transposeB: false, m: s, n: d, k: s, alpha: 1, a: scratch.second, lda: s, b: scratch.third,
            ldb: shape.width, accumulate: false, c: qkvGradient + 2 * shape.width, ldc: q)
        Parallel.forEachRange(
            shape.pairs, grain: 1,
            SoftmaxBackwardPairs(
                probabilities: probabilities, gradient: probabilityGradient, shape: shape, dropout: dropout,
                scoreGradient: scratch.second))
        // dQ = scale · dS · K and dK = scale · dSᵀ · Q.
        gemm.multiply(
            layout.batch(a: layout.scores, b: layout.projection, c: layout.projection), transposeA: false,
            transposeB: false, m: s, n: d, k: s, alpha: shape.scale, a: scratch.second, lda: s, b: layout.key,
            ldb: q, accumulate: false, c: qkvGradient, ldc: q)
        gemm.multiply(
            layout.batch(a: layout.scores, b: layout.projection, c: layout.projection), transposeA: true,
            transposeB: false, m: s, n: d, k: s, alpha: shape.scale, a: scratch.second, lda: s, b: layout.query,
            ldb: q, accumulate: false, c: qkvGradient + shape.width, ldc: q)
    }

    /// Where each (sequence, head) matrix of the three kinds of operand lies.
    private struct Layout {
        let shape: Attention.Shape
        let tokens: Int
        let query, key, value: UnsafePointer<UInt16>
        /// A head's `[S, headSize]` block of the fused projection (or of its gradient).
        var projection: MatrixBatch.Strides { .init(outer: shape.seq * shape.qkvStride, inner: shape.headSize) }
        /// A pair's `[S, S]` scores.
        var scores: MatrixBatch.Strides { .init(outer: shape.heads * shape.seq * shape.seq, inner: shape.seq * shape.seq) }
        /// A head's `[S, headSize]` block of the context (or of its gradient).
        var context: MatrixBatch.Strides { .init(outer: shape.seq * shape.width, inner: shape.headSize) }

        init(_ shape: Attention.Shape, scratch: BF16Scratch) {
            precondition(shape.qkvStride == 3 * shape.width, "mixed-precision attention reads a fused Q/K/V projection")
            let needs = MixedAttention.scratchNeeds(batch: shape.batch, seq: shape.seq, heads: shape.heads, width: shape.width)
            precondition(
                needs.operands <= scratch.capacity && needs.context <= scratch.thirdCapacity,
                "BF16Scratch holds \(scratch.capacity) and \(scratch.thirdCapacity), need \(needs.operands) and \(needs.context)")
            self.shape = shape
            tokens = shape.batch * shape.seq
            query = UnsafePointer(scratch.first)
            key = query + shape.width
            value = query + 2 * shape.width
        }

        func batch(a: MatrixBatch.Strides, b: MatrixBatch.Strides, c: MatrixBatch.Strides) -> MatrixBatch {
            MatrixBatch(outer: shape.batch, inner: shape.heads, a: a, b: b, c: c)
        }
    }
}

/// Per pair: masked softmax of the scores in place (kept for the backward pass), then the weights after
/// dropout, in bf16 only (the product reads nothing else), as the context product reads them.
private struct SoftmaxPairs: ParallelBody {
    let probabilities: UnsafeMutablePointer<Float>, keyMask: UnsafePointer<UInt8>, shape: Attention.Shape
    let dropout: DropoutMask, weights: UnsafeMutablePointer<UInt16>

    func run(_ pairs: Range<Int>) {
        let s = shape.seq
        for pair in pairs {
            let p = probabilities + pair * s * s, mask = keyMask + (pair / shape.heads) * s
            for i in 0..<s { AttentionSoftmax.maskedRow(p + i * s, mask: mask, count: s) }
        }
        DroppedWeightPairs(probabilities: probabilities, shape: shape, dropout: dropout, weights: weights).run(pairs)
    }
}

/// Per pair: the bf16 weights after dropout, as the forward pass had them.
private struct DroppedWeightPairs: ParallelBody {
    let probabilities: UnsafePointer<Float>, shape: Attention.Shape, dropout: DropoutMask
    let weights: UnsafeMutablePointer<UInt16>

    func run(_ pairs: Range<Int>) {
        let area = shape.seq * shape.seq
        for pair in pairs {
            let source = probabilities + pair * area
            if dropout.isActive {
                dropout.applySerial(source, intoBFloat16: weights + pair * area, count: area, first: pair * area)
            } else {
                mlm_float_to_bf16(source, weights + pair * area, area)
            }
        }
    }
}

/// Per pair: dropout's backward on the probability gradient, the softmax backward (in float, in place),
/// and the bf16 score gradient the Q and K products read.
private struct SoftmaxBackwardPairs: ParallelBody {
    let probabilities: UnsafePointer<Float>, gradient: UnsafeMutablePointer<Float>, shape: Attention.Shape
    let dropout: DropoutMask, scoreGradient: UnsafeMutablePointer<UInt16>

    func run(_ pairs: Range<Int>) {
        let s = shape.seq, area = s * s
        for pair in pairs {
            let p = probabilities + pair * area, g = gradient + pair * area
            if dropout.isActive { dropout.applySerial(g, into: g, count: area, first: pair * area) }
            for i in 0..<s { AttentionSoftmax.backwardRow(p + i * s, gradient: g + i * s, count: s) }
            mlm_float_to_bf16(g, scoreGradient + pair * area, area)
        }
    }
}
