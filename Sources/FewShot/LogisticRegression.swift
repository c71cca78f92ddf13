import Foundation

/// L2-regularised logistic regression as scikit-learn's `LogisticRegression` (lbfgs, `C`, intercept not
/// penalised): binomial for 2 classes (one weight vector, as sklearn's `coef_` of shape (1, d)), multinomial
/// softmax for more. Minimises `C · Σᵢ lossᵢ + ½‖W‖²` with L-BFGS in double precision, to convergence: the
/// largest gradient component of the mean-scaled objective (`mean loss + ‖W‖² / (2Cn)`, sklearn's scaling)
/// below `tolerance`. The multinomial intercepts are defined up to a common shift (the objective does not
/// penalise them); starting from zero, the solver returns the ones that sum to zero.
public struct LogisticRegression: Sendable {
    /// sklearn's default inverse regularisation strength, which setfit keeps.
    public static let defaultC = 1.0

    /// Logit rows: 1 for a binary problem, else one per class; `[rows, dimension]` row-major.
    public var coefficients: [Double]
    public var intercepts: [Double]
    public let classes: Int
    public let dimension: Int
    /// L-BFGS iterations taken, and whether the gradient met the tolerance.
    public var iterations = 0
    public var converged = false

    var rows: Int { classes == 2 ? 1 : classes }

    /// Fits on `features` (`[n, dimension]` row-major) with class ids `labels` in `0..<classes`.
    public static func fit(
        features: [Float], labels: [Int32], classes: Int, dimension: Int, c: Double = defaultC,
        tolerance: Double = 1e-8, maxIterations: Int = 10_000
    ) throws -> LogisticRegression {
        let n = labels.count
        guard classes >= 2 else { throw FewShotError("logistic regression needs at least 2 classes, not \(classes)") }
        guard n > 0, features.count == n * dimension else {
            throw FewShotError("logistic regression: \(features.count) feature values for \(n) examples of dimension \(dimension)")
        }
        guard c > 0, c.isFinite else { throw FewShotError("logistic regression: C must be positive, not \(c)") }
        if let bad = labels.first(where: { $0 < 0 || Int($0) >= classes }) {
            throw FewShotError("logistic regression: label id \(bad) outside 0..<\(classes)")
        }
        var model = LogisticRegression(
            coefficients: [], intercepts: [], classes: classes, dimension: dimension)
        let rows = model.rows
        let x = features.map(Double.init)
        let objective = Objective(x: x, labels: labels, n: n, d: dimension, rows: rows, c: c)
        var parameters = [Double](repeating: 0, count: rows * (dimension + 1))
        let (iterations, converged) = LBFGS.minimize(
            &parameters, gradientTolerance: tolerance * c * Double(n), maxIterations: maxIterations, evaluate: objective.evaluate)
        model.coefficients = Array(parameters[0..<(rows * dimension)])
        model.intercepts = Array(parameters[(rows * dimension)...])
        model.iterations = iterations
        model.converged = converged
        return model
    }

    init(coefficients: [Double], intercepts: [Double], classes: Int, dimension: Int) {
        self.coefficients = coefficients; self.intercepts = intercepts; self.classes = classes; self.dimension = dimension
    }

    /// The same classifier as one softmax layer `[classes, dimension]` + `[classes]`: for a binary model the
    /// rows (0, w) and biases (0, b), since softmax(0, z) = (1 − σ(z), σ(z)).
    public var softmaxWeights: (weights: [Float], bias: [Float]) {
        if classes == 2 {
            return ([Float](repeating: 0, count: dimension) + coefficients.map { Float($0) }, [0, Float(intercepts[0])])
        }
        return (coefficients.map { Float($0) }, intercepts.map { Float($0) })
    }

    /// Class probabilities of one feature vector, as sklearn's `predict_proba`.
    public func probabilities(_ feature: UnsafePointer<Float>) -> [Double] {
        var logits = (0..<rows).map { r in
            var z = intercepts[r]
            for i in 0..<dimension { z += coefficients[r * dimension + i] * Double(feature[i]) }
            return z
        }
        if classes == 2 { logits = [0, logits[0]] }
        let top = logits.max()!
        let exps = logits.map { exp($0 - top) }
        let sum = exps.reduce(0, +)
        return exps.map { $0 / sum }
    }

    /// `C · Σ loss + ½‖W‖²` and its gradient over the packed parameters (weights then intercepts).
    struct Objective {
        let x: [Double]
        let labels: [Int32]
        let n, d, rows: Int
        let c: Double

        func evaluate(_ parameters: [Double], _ gradient: inout [Double]) -> Double {
            let biasStart = rows * d
            var value = 0.0
            for i in 0..<gradient.count { gradient[i] = 0 }
            var logits = [Double](repeating: 0, count: rows)
            var residual = [Double](repeating: 0, count: rows)
            for example in 0..<n {
                let xi = example * d
                for r in 0..<rows {
                    var z = parameters[biasStart + r]
                    let w = r * d
                    for i in 0..<d { z += parameters[w + i] * x[xi + i] }
                    logits[r] = z
                }
                let label = Int(labels[example])
                if rows == 1 {
                    // Binomial: loss = log(1 + e^z) − y z, d/dz = σ(z) − y.
                    let z = logits[0], y = Double(label)
                    value += (z > 0 ? z + log1p(exp(-z)) : log1p(exp(z))) - y * z
                    residual[0] = (z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z))) - y
                } else {
                    let top = logits.max()!
                    var sum = 0.0
                    for r in 0..<rows { residual[r] = exp(logits[r] - top); sum += residual[r] }
                    value += top + log(sum) - logits[label]
                    for r in 0..<rows { residual[r] = residual[r] / sum - (r == label ? 1 : 0) }
                }
                for r in 0..<rows {
                    let g = c * residual[r], w = r * d
                    guard g != 0 else { continue }
                    for i in 0..<d { gradient[w + i] += g * x[xi + i] }
                    gradient[biasStart + r] += g
                }
            }
            value *= c
            for i in 0..<biasStart {
                value += 0.5 * parameters[i] * parameters[i]
                gradient[i] += parameters[i]
            }
            return value
        }
    }
}

/// Limited-memory BFGS (Nocedal & Wright, algorithm 7.4) with a backtracking Armijo line search; a
/// curvature pair is kept only when sᵀy > 0, so the inverse-Hessian estimate stays positive definite.
enum LBFGS {
    /// Minimises in place; stops when the largest gradient component is at most `gradientTolerance`.
    /// - Returns: iterations taken and whether the tolerance was met.
    static func minimize(
        _ x: inout [Double], gradientTolerance: Double, maxIterations: Int, memory: Int = 10,
        evaluate: ([Double], inout [Double]) -> Double
    ) -> (Int, Bool) {
        let count = x.count
        var gradient = [Double](repeating: 0, count: count)
        var value = evaluate(x, &gradient)
        var history: [(s: [Double], y: [Double], rho: Double)] = []
        var candidate = x, candidateGradient = gradient
        for iteration in 0..<maxIterations {
            if gradient.map(abs).max() ?? 0 <= gradientTolerance { return (iteration, true) }
            // Two-loop recursion: direction = −H·g.
            var q = gradient
            var alphas = [Double](repeating: 0, count: history.count)
            for k in stride(from: history.count - 1, through: 0, by: -1) {
                alphas[k] = history[k].rho * dot(history[k].s, q)
                for i in 0..<count { q[i] -= alphas[k] * history[k].y[i] }
            }
            if let last = history.last {
                let scale = dot(last.s, last.y) / dot(last.y, last.y)
                for i in 0..<count { q[i] *= scale }
            } else {
                let norm = dot(gradient, gradient).squareRoot()
                for i in 0..<count { q[i] /= max(norm, 1) }
            }
            for k in 0..<history.count {
                let beta = history[k].rho * dot(history[k].y, q)
                for i in 0..<count { q[i] += (alphas[k] - beta) * history[k].s[i] }
            }
            var direction = q.map { -$0 }
            var slope = dot(direction, gradient)
            if slope >= 0 {  // not a descent direction (numerical trouble): restart from steepest descent
                history.removeAll()
                direction = gradient.map { -$0 }
                slope = -dot(gradient, gradient)
            }
            var step = 1.0, accepted = false
            var candidateValue = value
            for _ in 0..<60 {
                for i in 0..<count { candidate[i] = x[i] + step * direction[i] }
                candidateValue = evaluate(candidate, &candidateGradient)
                if candidateValue <= value + 1e-4 * step * slope { accepted = true; break }
                step *= 0.5
            }
            guard accepted else { return (iteration, false) }  // no decrease is representable: as good as it gets
            var s = [Double](repeating: 0, count: count), y = s
            for i in 0..<count { s[i] = candidate[i] - x[i]; y[i] = candidateGradient[i] - gradient[i] }
            let sy = dot(s, y)
            if sy > 1e-12 * dot(y, y).squareRoot() * dot(s, s).squareRoot() {
                history.append((s, y, 1 / sy))
                if history.count > memory { history.removeFirst() }
            }
            swap(&x, &candidate)
            swap(&gradient, &candidateGradient)
            value = candidateValue
        }
        return (maxIterations, gradient.map(abs).max() ?? 0 <= gradientTolerance)
    }

    static func dot(_ a: [Double], _ b: [Double]) -> Double {
        var sum = 0.0
        for i in a.indices { sum += a[i] * b[i] }
        return sum
    }
}
