import CBLAS

/// Row-major single-precision matrix products on OpenBLAS.
public enum Gemm {
    /// `C[m,n] = alpha · op(A) · op(B) + beta · C`, with `op(A)` of shape `[m,k]` and `op(B)` of `[k,n]`.
    @inline(__always)
    public static func multiply(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// The same product for `count` matrix triples placed at fixed strides (e.g. one per attention head).
    @inline(__always)
    public static func multiplyBatched(
        count: Int, transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, strideA: Int, b: UnsafePointer<Float>, ldb: Int, strideB: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, strideC: Int
    ) {
        for i in 0..<count {
            multiply(
                transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                a: a + i * strideA, lda: lda, b: b + i * strideB, ldb: ldb, beta: beta,
                c: c + i * strideC, ldc: ldc)
        }
    }
}

/// A dense layer with HF/PyTorch weight layout `[out, in]`: `y = x · Wᵀ + b`.
public enum Linear {
    public static func forward(
        input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        output: UnsafeMutablePointer<Float>, rows: Int, inFeatures: Int, outFeatures: Int
    ) {
        var beta: Float = 0
        if let bias {
            Bias.broadcastRows(bias, into: output, rows: rows, columns: outFeatures)
            beta = 1
        }
        Gemm.multiply(
            transposeA: false, transposeB: true, m: rows, n: outFeatures, k: inFeatures,
            a: input, lda: inFeatures, b: weight, ldb: inFeatures, beta: beta, c: output, ldc: outFeatures)
    }

    /// Accumulates `dW += dyᵀ·x` and `db += Σ dy`; writes (or adds, when `accumulateInputGradient`)
    /// `dx = dy·W` if `inputGradient` is given.
    public static func backward(
        outputGradient: UnsafePointer<Float>, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        inputGradient: UnsafeMutablePointer<Float>?, accumulateInputGradient: Bool,
        weightGradient: UnsafeMutablePointer<Float>, biasGradient: UnsafeMutablePointer<Float>?,
        rows: Int, inFeatures: Int, outFeatures: Int
    ) {
        Gemm.multiply(
            transposeA: true, transposeB: false, m: outFeatures, n: inFeatures, k: rows,
            a: outputGradient, lda: outFeatures, b: input, ldb: inFeatures, beta: 1,
            c: weightGradient, ldc: inFeatures)
        if let biasGradient {
            Bias.accumulateColumnSums(outputGradient, rows: rows, columns: outFeatures, into: biasGradient)
        }
        if let inputGradient {
            Gemm.multiply(
                transposeA: false, transposeB: false, m: rows, n: inFeatures, k: outFeatures,
                a: outputGradient, lda: outFeatures, b: weight, ldb: inFeatures,
                beta: accumulateInputGradient ? 1 : 0, c: inputGradient, ldc: inFeatures)
        }
    }
}

/// Bias broadcast (forward) and column sums (its gradient).
public enum Bias {
    public static func broadcastRows(
        _ bias: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, rows: Int, columns: Int
    ) {
        Parallel.forEachRange(rows, grain: Parallel.rowGrain(columns: columns)) { range in
            for r in range {
                (output + r * columns).update(from: bias, count: columns)
            }
        }
    }

    /// `sums[j] += Σ_r matrix[r, j]`; each worker owns a slice of columns, so no reduction is needed.
    public static func accumulateColumnSums(
        _ matrix: UnsafePointer<Float>, rows: Int, columns: Int, into sums: UnsafeMutablePointer<Float>
    ) {
        let grain = max(16, 65_536 / max(1, rows))
        Parallel.forEachRange(columns, grain: grain) { range in
            let width = range.count
            let out = sums + range.lowerBound
            for r in 0..<rows {
                let row = matrix + r * columns + range.lowerBound
                for j in 0..<width { out[j] += row[j] }
            }
        }
    }
}
