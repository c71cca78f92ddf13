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
        Parallel.forEachRange(rows, grain: Parallel.rowGrain(columns: n)) { range in
            for r in range {
                var x = input + r * n
                if let residual, let sum {
                    let s = sum + r * n, res = residual + r * n
                    if let dropout, dropout.isActive {
                        for j in 0..<n { s[j] = res[j] + x[j] * dropout.factor(r * n + j) }
                    } else {
                        for j in 0..<n { s[j] = res[j] + x[j] }
                    }
                    x = UnsafePointer(s)
                }
                var total: Float = 0
                for j in 0..<n { total += x[j] }
                let mu = total / Float(n)
                var squares: Float = 0
                for j in 0..<n {
                    let d = x[j] - mu
                    squares += d * d
                }
                let inv = 1 / (squares / Float(n) + eps).squareRoot()
                mean[r] = mu
                rstd[r] = inv
                let y = output + r * n
                for j in 0..<n { y[j] = (x[j] - mu) * inv * gamma[j] + beta[j] }
            }
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
            for r in range {
                let dy = outputGradient + r * n, x = input + r * n, dx = inputGradient + r * n
                let mu = mean[r], inv = rstd[r]
                var sumG: Float = 0, sumGX: Float = 0
                for j in 0..<n {
                    let g = dy[j] * gamma[j]
                    sumG += g
                    sumGX += g * (x[j] - mu) * inv
                }
                let meanG = sumG / Float(n), meanGX = sumGX / Float(n)
                if accumulate {
                    for j in 0..<n { dx[j] += inv * (dy[j] * gamma[j] - meanG - (x[j] - mu) * inv * meanGX) }
                } else {
                    for j in 0..<n { dx[j] = inv * (dy[j] * gamma[j] - meanG - (x[j] - mu) * inv * meanGX) }
                }
            }
        }
        // Parameter gradients are column sums: each worker owns a slice of columns.
        Parallel.forEachRange(n, grain: max(16, 65_536 / max(1, rows))) { range in
            for r in 0..<rows {
                let dy = outputGradient + r * n, x = input + r * n
                let mu = mean[r], inv = rstd[r]
                for j in range {
                    gammaGradient[j] += dy[j] * (x[j] - mu) * inv
                    betaGradient[j] += dy[j]
                }
            }
        }
    }
}
