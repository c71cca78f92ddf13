import Foundation
import Testing

@testable import TensorKernels

@Suite struct LayerNormTests {
    /// Residual + dropout + LayerNorm forward, checked against central differences for x, residual, γ, β.
    @Test(arguments: [false, true]) func backwardMatchesFiniteDifferences(withResidualDropout: Bool) {
        let rows = 3, columns = 8
        var data = TestData(seed: 4)
        var x = data.normal(rows * columns), residual = data.normal(rows * columns)
        var gamma = data.normal(columns, scale: 0.3).map { $0 + 1 }, beta = data.normal(columns, scale: 0.3)
        let probe = data.normal(rows * columns)
        let dropout = withResidualDropout ? DropoutMask(probability: 0.3, seed: 5, stream: 1) : nil
        var sum = [Float](repeating: 0, count: rows * columns), y = sum
        var mean = [Float](repeating: 0, count: rows), rstd = mean
        func forward(_ x: [Float], _ residual: [Float], _ gamma: [Float], _ beta: [Float]) {
            if withResidualDropout {
                LayerNorm.forward(
                    input: x, residual: residual, dropout: dropout, sum: &sum, gamma: gamma, beta: beta, output: &y,
                    mean: &mean, rstd: &rstd, rows: rows, columns: columns, eps: 1e-12)
            } else {
                LayerNorm.forward(
                    input: x, gamma: gamma, beta: beta, output: &y, mean: &mean, rstd: &rstd, rows: rows,
                    columns: columns, eps: 1e-12)
            }
        }
        func loss(_ x: [Float], _ residual: [Float], _ gamma: [Float], _ beta: [Float]) -> Double {
            forward(x, residual, gamma, beta)
            return weightedSum(y, probe)
        }
        forward(x, residual, gamma, beta)
        var dSum = [Float](repeating: 0, count: rows * columns)
        var dGamma = [Float](repeating: 0, count: columns), dBeta = dGamma
        LayerNorm.backward(
            outputGradient: probe, input: withResidualDropout ? sum : x, gamma: gamma, mean: mean, rstd: rstd,
            inputGradient: &dSum, accumulate: false, gammaGradient: &dGamma, betaGradient: &dBeta, rows: rows,
            columns: columns)
        var dx = dSum
        dropout?.apply(&dx, count: dx.count)
        for i in x.indices {
            let numeric = centralDifference(&x, i, step: 1e-3) { loss($0, residual, gamma, beta) }
            #expect(isClose(Double(dx[i]), numeric, absolute: 2e-3, relative: 1e-2), "dx[\(i)]")
            if withResidualDropout {
                let numericResidual = centralDifference(&residual, i, step: 1e-3) { loss(x, $0, gamma, beta) }
                #expect(isClose(Double(dSum[i]), numericResidual, absolute: 2e-3, relative: 1e-2), "dresidual[\(i)]")
            }
        }
        for j in 0..<columns {
            let numericGamma = centralDifference(&gamma, j, step: 1e-3) { loss(x, residual, $0, beta) }
            let numericBeta = centralDifference(&beta, j, step: 1e-3) { loss(x, residual, gamma, $0) }
            #expect(isClose(Double(dGamma[j]), numericGamma, absolute: 2e-3, relative: 1e-2), "dγ[\(j)]")
            #expect(isClose(Double(dBeta[j]), numericBeta, absolute: 2e-3, relative: 1e-2), "dβ[\(j)]")
        }
    }

    @Test func forwardNormalisesEachRow() {
        let rows = 64, columns = 384
        var data = TestData(seed: 1)
        let x = data.normal(rows * columns, scale: 3).map { $0 + 5 }
        let gamma = [Float](repeating: 1, count: columns), beta = [Float](repeating: 0, count: columns)
        var y = [Float](repeating: 0, count: rows * columns), mean = [Float](repeating: 0, count: rows), rstd = mean
        LayerNorm.forward(
            input: x, gamma: gamma, beta: beta, output: &y, mean: &mean, rstd: &rstd, rows: rows, columns: columns,
            eps: 1e-12)
        for r in 0..<rows {
            let row = y[(r * columns)..<((r + 1) * columns)]
            let m = row.reduce(0.0) { $0 + Double($1) } / Double(columns)
            let v = row.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(columns) - m * m
            #expect(abs(m) < 1e-5 && abs(v - 1) < 1e-4)
        }
    }
}

@Suite struct ActivationTests {
    @Test func geluMatchesExactErfDefinitionAndDerivative() {
        var data = TestData(seed: 3)
        var x = data.normal(200, scale: 3) + [0, -8, 8, 1e-4, -1e-4, 20, -20]
        var y = [Float](repeating: 0, count: x.count)
        GELU.forward(x, into: &y, count: x.count)
        for i in x.indices {
            let v = Double(x[i])
            let expected = 0.5 * v * (1 + erf(v / 2.0.squareRoot()))
            #expect(abs(Double(y[i]) - expected) <= 2e-7 * max(1, abs(expected)), "gelu(\(v))")
        }
        let probe = [Float](repeating: 1, count: x.count)
        var dx = [Float](repeating: 0, count: x.count)
        GELU.backward(outputGradient: probe, input: x, inputGradient: &dx, count: x.count)
        for i in 0..<50 {
            let numeric = centralDifference(&x, i, step: 1e-3) { values in
                var out = [Float](repeating: 0, count: values.count)
                GELU.forward(values, into: &out, count: values.count)
                return Double(out[i])
            }
            #expect(isClose(Double(dx[i]), numeric, absolute: 2e-3, relative: 2e-3), "gelu'(\(x[i]))")
        }
    }

    @Test func tanhBackwardUsesSavedOutput() {
        let x: [Float] = [-2, -0.5, 0, 0.3, 1.7]
        var y = [Float](repeating: 0, count: x.count), dx = y
        Tanh.forward(x, into: &y, count: x.count)
        Tanh.backward(outputGradient: [1, 1, 1, 1, 1], output: y, inputGradient: &dx, count: x.count)
        for i in x.indices {
            let t = tanh(Double(x[i]))
            #expect(abs(Double(y[i]) - t) < 1e-6 && abs(Double(dx[i]) - (1 - t * t)) < 1e-6)
        }
    }
}

@Suite struct SoftmaxTests {
    @Test func maskedSoftmaxMatchesReferenceAndFiniteDifferences() {
        let batch = 2, heads = 2, queries = 3, keys = 5
        let mask: [UInt8] = [1, 1, 1, 0, 0, 0, 0, 0, 0, 0]  // second sequence: every key masked
        var data = TestData(seed: 8)
        var scores = data.normal(batch * heads * queries * keys, scale: 2)
        let probe = data.normal(scores.count)
        func softmax(_ s: [Float]) -> [Float] {
            var p = s
            AttentionSoftmax.forward(&p, keyMask: mask, batch: batch, heads: heads, queries: queries, keys: keys, keyMaskStride: keys)
            return p
        }
        let p = softmax(scores)
        for row in 0..<(batch * heads * queries) {
            let b = row / (heads * queries)
            let values = (0..<keys).map { Double(scores[row * keys + $0]) }
            let valid = (0..<keys).filter { mask[b * keys + $0] != 0 }
            for j in 0..<keys {
                let expected: Double
                if valid.isEmpty {
                    expected = 1 / Double(keys)
                } else if valid.contains(j) {
                    let m = valid.map { values[$0] }.max()!
                    expected = exp(values[j] - m) / valid.map { exp(values[$0] - m) }.reduce(0, +)
                } else {
                    expected = 0
                }
                #expect(abs(Double(p[row * keys + j]) - expected) < 1e-6)
            }
        }
        var gradient = probe
        AttentionSoftmax.backward(probabilities: p, gradient: &gradient, rows: batch * heads * queries, columns: keys)
        for i in 0..<(heads * queries * keys) {  // the first sequence (the all-masked one has zero gradient)
            let numeric = centralDifference(&scores, i, step: 1e-3) { weightedSum(softmax($0), probe) }
            #expect(isClose(Double(gradient[i]), numeric, absolute: 1e-3, relative: 1e-2), "dS[\(i)]")
        }
    }

    @Test func crossEntropyMatchesReferenceAndFiniteDifferences() {
        let rows = 4, classes = 7
        var data = TestData(seed: 12)
        var logits = data.normal(rows * classes, scale: 3)
        logits[3] = 80  // large logits stay finite thanks to max subtraction
        let labels: [Int32] = [3, -100, 6, 0]
        var lse = [Float](repeating: 0, count: rows), rowLoss = lse
        var correct = [UInt8](repeating: 0, count: rows)
        func forward(_ l: [Float]) -> (lossSum: Double, correct: Int, counted: Int) {
            CrossEntropy.forward(
                logits: l, labels: labels, rows: rows, classes: classes, logSumExp: &lse, rowLoss: &rowLoss,
                rowCorrect: &correct)
        }
        let result = forward(logits)
        var expected = 0.0, expectedCorrect = 0
        for r in 0..<rows where labels[r] >= 0 {
            let row = (0..<classes).map { Double(logits[r * classes + $0]) }
            let m = row.max()!
            expected += m + log(row.map { exp($0 - m) }.reduce(0, +)) - row[Int(labels[r])]
            if row.firstIndex(of: m)! == Int(labels[r]) { expectedCorrect += 1 }
        }
        #expect(result.counted == 3 && result.correct == expectedCorrect)
        #expect(abs(result.lossSum - expected) <= 1e-5 * abs(expected))
        var gradient = [Float](repeating: 9, count: logits.count)
        CrossEntropy.backward(
            logits: logits, labels: labels, logSumExp: lse, rows: rows, classes: classes, scale: 0.5,
            gradient: &gradient)
        for i in logits.indices {
            let numeric = centralDifference(&logits, i, step: 1e-2) { 0.5 * forward($0).lossSum }
            #expect(isClose(Double(gradient[i]), numeric, absolute: 1e-3, relative: 1e-2), "dlogits[\(i)]")
        }
    }
}

@Suite struct EmbeddingAndDropoutTests {
    @Test func gatherAndScatterAddAreAdjoint() {
        let vocab = 6, columns = 40
        var data = TestData(seed: 6)
        let table = data.normal(vocab * columns)
        let indices: [Int32] = [2, 5, 2, 0, 2]
        var out = [Float](repeating: 1, count: indices.count * columns)
        Embedding.gather(table: table, indices: indices, count: indices.count, columns: columns, output: &out, accumulate: true)
        for t in indices.indices {
            for j in 0..<columns { #expect(out[t * columns + j] == 1 + table[Int(indices[t]) * columns + j]) }
        }
        let gradient = data.normal(indices.count * columns)
        var tableGradient = [Float](repeating: 0, count: vocab * columns)
        Embedding.scatterAdd(gradient: gradient, indices: indices, count: indices.count, columns: columns, tableGradient: &tableGradient)
        for v in 0..<vocab {
            for j in 0..<columns {
                let expected = indices.indices.filter { Int(indices[$0]) == v }.reduce(Float(0)) { $0 + gradient[$1 * columns + j] }
                #expect(abs(tableGradient[v * columns + j] - expected) < 1e-6)
            }
        }
    }

    @Test func dropoutIsReproducibleUnbiasedAndAtTheRequestedRate() {
        let count = 200_000, p: Float = 0.1
        let mask = DropoutMask(probability: p, seed: 42, stream: 3)
        var values = [Float](repeating: 1, count: count)
        mask.apply(&values, count: count)
        let dropped = values.filter { $0 == 0 }.count
        // Binomial(n, p): mean np, sd √(np(1−p)) ≈ 134; allow 5 sd.
        #expect(abs(Double(dropped) - Double(count) * 0.1) < 5 * (Double(count) * 0.09).squareRoot())
        #expect(values.allSatisfy { $0 == 0 || abs($0 - 1 / 0.9) < 1e-6 })
        // The vectorised C loop agrees with the scalar definition, from any starting offset.
        #expect((0..<1000).allSatisfy { values[$0] == mask.factor($0) })
        var shifted = [Float](repeating: 1, count: 999)
        mask.apply(&shifted, count: 999, offset: 1)
        #expect((0..<999).allSatisfy { shifted[$0] == mask.factor($0 + 1) })
        var again = [Float](repeating: 1, count: count)
        DropoutMask(probability: p, seed: 42, stream: 3).apply(&again, count: count)
        #expect(again == values)
        var other = [Float](repeating: 1, count: count)
        DropoutMask(probability: p, seed: 42, stream: 4).apply(&other, count: count)
        #expect(other != values)
        // Copying form equals the in-place form, and p = 0 is the identity.
        var copied = [Float](repeating: 0, count: count)
        mask.apply([Float](repeating: 1, count: count), into: &copied, count: count)
        #expect(copied == values)
        var identity: [Float] = [1, 2, 3]
        DropoutMask(probability: 0, seed: 1, stream: 1).apply(&identity, count: 3)
        #expect(identity == [1, 2, 3])
    }

    /// The residual dropout inside LayerNorm draws the scalar definition's factors too, on rows whose width is
    /// not a multiple of 4 (so most rows start inside a four-index draw), with and without the input bias.
    @Test(arguments: [37, 40]) func layerNormResidualDropoutUsesTheSameFactors(columns: Int) {
        let rows = 11
        var data = TestData(seed: 23)
        let x = data.normal(rows * columns), residual = data.normal(rows * columns), bias = data.normal(columns)
        let gamma = [Float](repeating: 1, count: columns), beta = [Float](repeating: 0, count: columns)
        let dropout = DropoutMask(probability: 0.3, seed: 8, stream: 5, firstIndex: 2 * columns)
        for withBias in [false, true] {
            var sum = [Float](repeating: 0, count: rows * columns), y = sum
            var mean = [Float](repeating: 0, count: rows), rstd = mean
            LayerNorm.forward(
                input: x, inputBias: withBias ? bias : nil, residual: residual, dropout: dropout, sum: &sum, gamma: gamma,
                beta: beta, output: &y, mean: &mean, rstd: &rstd, rows: rows, columns: columns, eps: 1e-12)
            // A dropped element is the residual exactly; a kept one is residual + scale·x up to C's fused rounding.
            for i in 0..<x.count {
                let kept = (withBias ? x[i] + bias[i % columns] : x[i]) * dropout.factor(i)
                if dropout.factor(i) == 0 {
                    #expect(sum[i] == residual[i], "element \(i) should be dropped")
                } else {
                    #expect(sum[i] != residual[i] && abs(sum[i] - (residual[i] + kept)) <= 1e-6 * max(1, abs(sum[i])),
                            "element \(i) should be kept")
                }
            }
        }
    }
}

/// The fused passes must give exactly what the separate passes give.
@Suite struct FusedBiasTests {
    @Test func biasGELUEqualsBiasThenGELU() {
        let rows = 37, columns = 96
        var data = TestData(seed: 21)
        let x = data.normal(rows * columns, scale: 2), bias = data.normal(columns)
        var pre = x, fused = [Float](repeating: 0, count: x.count)
        GELU.forwardAddingBias(bias, to: &pre, into: &fused, rows: rows, columns: columns)
        let biased = (0..<x.count).map { x[$0] + bias[$0 % columns] }
        var separate = [Float](repeating: 0, count: x.count)
        GELU.forward(biased, into: &separate, count: biased.count)
        #expect(pre == biased)
        #expect(fused == separate)
    }

    @Test(arguments: [0, 0.3] as [Float]) func layerNormInputBiasEqualsAddingItFirst(dropout probability: Float) {
        let rows = 9, columns = 40
        var data = TestData(seed: 22)
        let x = data.normal(rows * columns), residual = data.normal(rows * columns), bias = data.normal(columns)
        let gamma = data.normal(columns, scale: 0.2).map { $0 + 1 }, beta = data.normal(columns, scale: 0.2)
        let dropout = DropoutMask(probability: probability, seed: 3, stream: 2)
        func run(_ input: [Float], bias: [Float]?) -> (sum: [Float], y: [Float]) {
            var sum = [Float](repeating: 0, count: rows * columns), y = sum
            var mean = [Float](repeating: 0, count: rows), rstd = mean
            if let bias {
                LayerNorm.forward(
                    input: input, inputBias: bias, residual: residual, dropout: dropout, sum: &sum, gamma: gamma,
                    beta: beta, output: &y, mean: &mean, rstd: &rstd, rows: rows, columns: columns, eps: 1e-12)
            } else {
                LayerNorm.forward(
                    input: input, residual: residual, dropout: dropout, sum: &sum, gamma: gamma, beta: beta,
                    output: &y, mean: &mean, rstd: &rstd, rows: rows, columns: columns, eps: 1e-12)
            }
            return (sum, y)
        }
        let fused = run(x, bias: bias)
        let separate = run((0..<x.count).map { x[$0] + bias[$0 % columns] }, bias: nil)
        #expect(fused.sum == separate.sum)
        #expect(fused.y == separate.y)
    }
}
