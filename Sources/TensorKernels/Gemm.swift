import CBLAS
import CTensorKernels

/// Row-major single-precision matrix products on OpenBLAS. OpenBLAS runs single-threaded and large
/// products are split across `Parallel.workerCount` workers here, so one thread pool serves both the
/// GEMMs and the elementwise kernels (OpenBLAS's own workers spin in `sched_yield` between calls and
/// would compete with ours for the cores).
public enum Gemm {
    /// Products below this many multiply-adds run on the calling thread.
    public static let splitThreshold = 1 << 20

    private static let singleThreadedBLAS: Void = { openblas_set_num_threads(1) }()

    /// `C[m,n] = alpha · op(A) · op(B) + beta · C`, with `op(A)` of shape `[m,k]` and `op(B)` of `[k,n]`.
    /// The rows (or columns) of C are split between workers.
    @inline(__always)
    public static func multiply(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        _ = singleThreadedBLAS
        let workers = Parallel.workerCount
        if workers == 1 || m * n * k < splitThreshold {
            multiplySerial(
                transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }
        let slice = GemmSlice(
            splitRows: m >= n, transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
            a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        Parallel.forEachRange(m >= n ? m : n, grain: 16, slice)
    }

    /// One OpenBLAS call on the calling thread.
    @inline(__always)
    public static func multiplySerial(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        _ = singleThreadedBLAS
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// The same product for `count` matrix triples placed at fixed strides (e.g. one per attention head);
    /// the products are spread over the workers, each running serially.
    @inline(__always)
    public static func multiplyBatched(
        count: Int, transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, strideA: Int, b: UnsafePointer<Float>, ldb: Int, strideB: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, strideC: Int
    ) {
        let batch = GemmBatch(
            transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
            strideA: strideA, b: b, ldb: ldb, strideB: strideB, beta: beta, c: c, ldc: ldc, strideC: strideC)
        Parallel.forEachRange(count, grain: max(1, splitThreshold / max(1, m * n * k)), batch)
    }
}

/// A block of C's rows (or columns) of one product.
private struct GemmSlice: ParallelBody {
    let splitRows, transposeA, transposeB: Bool
    let m, n, k: Int
    let alpha: Float
    let a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int
    let beta: Float
    let c: UnsafeMutablePointer<Float>, ldc: Int

    func run(_ range: Range<Int>) {
        let first = range.lowerBound
        if splitRows {
            Gemm.multiplySerial(
                transposeA: transposeA, transposeB: transposeB, m: range.count, n: n, k: k, alpha: alpha,
                a: transposeA ? a + first : a + first * lda, lda: lda, b: b, ldb: ldb, beta: beta,
                c: c + first * ldc, ldc: ldc)
        } else {
            Gemm.multiplySerial(
                transposeA: transposeA, transposeB: transposeB, m: m, n: range.count, k: k, alpha: alpha,
                a: a, lda: lda, b: transposeB ? b + first * ldb : b + first, ldb: ldb, beta: beta, c: c + first,
                ldc: ldc)
        }
    }
}

private struct GemmBatch: ParallelBody {
    let transposeA, transposeB: Bool
    let m, n, k: Int
    let alpha: Float
    let a: UnsafePointer<Float>, lda: Int, strideA: Int
    let b: UnsafePointer<Float>, ldb: Int, strideB: Int
    let beta: Float
    let c: UnsafeMutablePointer<Float>, ldc: Int, strideC: Int

    func run(_ range: Range<Int>) {
        for i in range {
            Gemm.multiplySerial(
                transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                a: a + i * strideA, lda: lda, b: b + i * strideB, ldb: ldb, beta: beta, c: c + i * strideC, ldc: ldc)
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

    /// Accumulates `dW += dyᵀ·x` (when `weightGradient` is given) and `db += Σ dy`; writes (or adds, when
    /// `accumulateInputGradient`) `dx = dy·W` if `inputGradient` is given.
    public static func backward(
        outputGradient: UnsafePointer<Float>, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        inputGradient: UnsafeMutablePointer<Float>?, accumulateInputGradient: Bool,
        weightGradient: UnsafeMutablePointer<Float>?, biasGradient: UnsafeMutablePointer<Float>?,
        rows: Int, inFeatures: Int, outFeatures: Int
    ) {
        if let weightGradient {
            Gemm.multiply(
                transposeA: true, transposeB: false, m: outFeatures, n: inFeatures, k: rows,
                a: outputGradient, lda: outFeatures, b: input, ldb: inFeatures, beta: 1,
                c: weightGradient, ldc: inFeatures)
        }
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
        Parallel.forEachRange(rows, grain: Parallel.rowGrain(columns: columns), BiasRows(bias: bias, output: output, columns: columns))
    }

    /// `sums[j] += Σ_r matrix[r, j]`; each worker owns a slice of columns, so no reduction is needed.
    public static func accumulateColumnSums(
        _ matrix: UnsafePointer<Float>, rows: Int, columns: Int, into sums: UnsafeMutablePointer<Float>
    ) {
        let grain = max(16, 65_536 / max(1, rows))
        Parallel.forEachRange(columns, grain: grain, ColumnSums(matrix: matrix, rows: rows, columns: columns, sums: sums))
    }
}

private struct BiasRows: ParallelBody {
    let bias: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, columns: Int
    func run(_ range: Range<Int>) {
        for r in range { (output + r * columns).update(from: bias, count: columns) }
    }
}

private struct ColumnSums: ParallelBody {
    let matrix: UnsafePointer<Float>, rows: Int, columns: Int, sums: UnsafeMutablePointer<Float>
    func run(_ range: Range<Int>) { mlm_column_sums(matrix, rows, columns, sums, range.lowerBound, range.upperBound) }
}
