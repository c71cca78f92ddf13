import CTensorKernels

/// LayerNorm over the last dimension, saving per-row mean and 1/σ for the backward pass.
public enum LayerNorm {
    /// `output = γ · (x − μ)/σ + β` with `x = input`, or, when `residual` is given,
    /// `x = residual + dropout(input)` (the BERT "add & norm"), stored to `sum` for the backward pass.
    public static func forward(
        input: UnsafePointer<Float>, residual: UnsafePointer<Float>? = nil, dropout: DropoutMask? = nil,
        sum: UnsafeMutablePointer<Float>? = nil,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
        mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>, rows: Int, columns: Int, eps: Float
    ) {
        let n = columns
        let mask = dropout ?? DropoutMask(probability: 0, seed: 0, stream: 0)
        Parallel.forEachRange(rows, grain: Parallel.rowGrain(columns: n)) { range in
            let r = range.lowerBound
            var residualRows: UnsafePointer<Float>? = nil, sumRows: UnsafeMutablePointer<Float>? = nil
            if let residual, let sum {
                residualRows = residual + r * n
                sumRows = sum + r * n
            }
            mlm_layer_norm_rows(
                input + r * n, residualRows, sumRows,
                range.count, r, n, mask.key, mask.threshold, mask.scale, mask.isActive ? 1 : 0,
                gamma, beta, eps, output + r * n, mean + r, rstd + r)
        }
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
        Parallel.forEachRange(rows, grain: Parallel.rowGrain(columns: n)) { range in
            let r = range.lowerBound
            mlm_layer_norm_backward_rows(
                outputGradient + r * n, input + r * n, gamma, mean + r, rstd + r, inputGradient + r * n,
                accumulate ? 1 : 0, range.count, n)
        }
        // Parameter gradients are column sums: each worker owns a slice of columns.
        Parallel.forEachRange(n, grain: max(16, 65_536 / max(1, rows))) { range in
            mlm_layer_norm_parameter_gradients(
                outputGradient, input, mean, rstd, gammaGradient, betaGradient, rows, n, range.lowerBound,
                range.upperBound)
        }
    }
}
