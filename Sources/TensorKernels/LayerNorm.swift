import CTensorKernels

/// LayerNorm over the last dimension, saving per-row mean and 1/σ for the backward pass.
public enum LayerNorm {
    /// `output = γ · (x − μ)/σ + β` with `x = input`, or, when `residual` is given,
    /// `x = residual + dropout(input + inputBias)` (the BERT "add & norm", with the dense layer's bias
    /// folded in so it costs no pass of its own), stored to `sum` for the backward pass.
    public static func forward(
        input: UnsafePointer<Float>, inputBias: UnsafePointer<Float>? = nil, residual: UnsafePointer<Float>? = nil,
        dropout: DropoutMask? = nil, sum: UnsafeMutablePointer<Float>? = nil,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
        mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>, rows: Int, columns: Int, eps: Float
    ) {
        precondition(inputBias == nil || (residual != nil && sum != nil), "LayerNorm: inputBias needs residual and sum")
        let n = columns
        Parallel.forEachRange(
            rows, grain: Parallel.rowGrain(columns: n),
            LayerNormRows(
                input: input, inputBias: inputBias, residual: residual, sum: sum, dropout: dropout ?? DropoutMask(probability: 0, seed: 0, stream: 0),
                gamma: gamma, beta: beta, output: output, mean: mean, rstd: rstd, columns: n, eps: eps))
    }

    /// Writes (or adds, with `accumulate`) `dx`, and accumulates `dγ`, `dβ`.
    public static func backward(
        outputGradient: UnsafePointer<Float>, input: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
        mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
        inputGradient: UnsafeMutablePointer<Float>, accumulate: Bool,
        gammaGradient: UnsafeMutablePointer<Float>, betaGradient: UnsafeMutablePointer<Float>,
        rows: Int, columns: Int
    ) {
        let n = columns
        Parallel.forEachRange(
            rows, grain: Parallel.rowGrain(columns: n),
            LayerNormBackwardRows(
                outputGradient: outputGradient, input: input, gamma: gamma, mean: mean, rstd: rstd,
                inputGradient: inputGradient, accumulate: accumulate, columns: n))
        Parallel.forEachRange(
            n, grain: max(16, 65_536 / max(1, rows)),
            LayerNormParameterColumns(
                outputGradient: outputGradient, input: input, mean: mean, rstd: rstd, gammaGradient: gammaGradient,
                betaGradient: betaGradient, rows: rows, columns: n))
    }
}

private struct LayerNormRows: ParallelBody {
    let input: UnsafePointer<Float>, inputBias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?
    let sum: UnsafeMutablePointer<Float>?
    let dropout: DropoutMask
    let gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>
    let mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>, columns: Int, eps: Float

    func run(_ range: Range<Int>) {
        let r = range.lowerBound, n = columns
        var residualRows: UnsafePointer<Float>? = nil, sumRows: UnsafeMutablePointer<Float>? = nil
        if let residual, let sum {
            residualRows = residual + r * n
            sumRows = sum + r * n
        }
        mlm_layer_norm_rows(
            // The mask's first index is a whole number of rows (a data-parallel rank's first row).
            input + r * n, inputBias, residualRows, sumRows, range.count, r + dropout.firstIndex / n, n, dropout.key, dropout.threshold, dropout.scale,
            dropout.isActive ? 1 : 0, gamma, beta, eps, output + r * n, mean + r, rstd + r)
    }
}

private struct LayerNormBackwardRows: ParallelBody {
    let outputGradient: UnsafePointer<Float>, input: UnsafePointer<Float>, gamma: UnsafePointer<Float>
    let mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>
    let accumulate: Bool, columns: Int

    func run(_ range: Range<Int>) {
        let r = range.lowerBound, n = columns
        mlm_layer_norm_backward_rows(
            outputGradient + r * n, input + r * n, gamma, mean + r, rstd + r, inputGradient + r * n,
            accumulate ? 1 : 0, range.count, n)
    }
}

/// dγ and dβ are column sums: each worker owns a slice of columns.
private struct LayerNormParameterColumns: ParallelBody {
    let outputGradient: UnsafePointer<Float>, input: UnsafePointer<Float>
    let mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>
    let gammaGradient: UnsafeMutablePointer<Float>, betaGradient: UnsafeMutablePointer<Float>
    let rows: Int, columns: Int

    func run(_ range: Range<Int>) {
        mlm_layer_norm_parameter_gradients(
            outputGradient, input, mean, rstd, gammaGradient, betaGradient, rows, columns, range.lowerBound,
            range.upperBound)
    }
}
