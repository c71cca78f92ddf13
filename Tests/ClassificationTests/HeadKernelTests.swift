import Foundation
import SeededRandom
import TensorKernels
import Testing

@testable import Classification
import Model

@Suite struct HeadKernelTests {
    /// Loss of linear → weighted cross-entropy, in the head's kernels.
    func loss(x: [Float], weight: [Float], bias: [Float], labels: [Int32], classWeights: [Float]?, rows: Int, inFeatures: Int,
              classes: Int) -> Double
    {
        var logits = [Float](repeating: 0, count: rows * classes), probabilities = logits
        Linear.forward(
            input: x, weight: weight, bias: bias, output: &logits, rows: rows, inFeatures: inFeatures, outFeatures: classes)
        return HeadKernels.softmaxCrossEntropy(
            logits: logits, rows: rows, classes: classes, labels: labels, classWeights: classWeights,
            scratch: HeadKernels.LossScratch(capacity: rows), probabilities: &probabilities, logitsGradient: nil
        ).loss
    }

    @Test(arguments: [false, true])
    func headGradientsMatchFiniteDifferences(weighted: Bool) {
        let rows = 5, inFeatures = 7, classes = 3
        var generator = SplitMix64(state: 42)
        func random(_ n: Int) -> [Float] { (0..<n).map { _ in Float.random(in: -1...1, using: &generator) } }
        let x = random(rows * inFeatures), weight = random(classes * inFeatures), bias = random(classes)
        // Row 3 is ignored, as a padding token in NER.
        let labels: [Int32] = [0, 2, 1, HeadKernels.ignoredLabel, 2]
        let classWeights: [Float]? = weighted ? [0.5, 2.0, 1.25] : nil

        var logits = [Float](repeating: 0, count: rows * classes), probabilities = logits, logitsGradient = logits
        Linear.forward(
            input: x, weight: weight, bias: bias, output: &logits, rows: rows, inFeatures: inFeatures, outFeatures: classes)
        _ = HeadKernels.softmaxCrossEntropy(
            logits: logits, rows: rows, classes: classes, labels: labels, classWeights: classWeights,
            scratch: HeadKernels.LossScratch(capacity: rows), probabilities: &probabilities, logitsGradient: &logitsGradient)
        // The probabilities are the softmax of the logits, rows summing to 1.
        for r in 0..<rows {
            let row = logits[(r * classes)..<((r + 1) * classes)], top = row.max()!
            let sum = row.reduce(0.0) { $0 + exp(Double($1 - top)) }
            for c in 0..<classes {
                #expect(abs(Double(probabilities[r * classes + c]) - exp(Double(row[r * classes + c] - top)) / sum) < 1e-6)
            }
        }
        var xGradient = [Float](repeating: 0, count: x.count)
        var weightGradient = [Float](repeating: 0, count: weight.count), biasGradient = [Float](repeating: 0, count: classes)
        Linear.backward(
            outputGradient: logitsGradient, input: x, weight: weight, inputGradient: &xGradient,
            accumulateInputGradient: false, weightGradient: &weightGradient, biasGradient: &biasGradient,
            rows: rows, inFeatures: inFeatures, outFeatures: classes)

        let step: Float = 1e-2
        // Perturbs one entry of the parameter `which` (0 weight, 1 bias, 2 x) and returns the loss.
        func perturbedLoss(_ which: Int, _ i: Int, _ delta: Float) -> Double {
            var w = weight, b = bias, input = x
            switch which {
            case 0: w[i] += delta
            case 1: b[i] += delta
            default: input[i] += delta
            }
            return loss(x: input, weight: w, bias: b, labels: labels, classWeights: classWeights, rows: rows,
                        inFeatures: inFeatures, classes: classes)
        }
        for (which, analytic, name) in [(0, weightGradient, "weight"), (1, biasGradient, "bias"), (2, xGradient, "x")] {
            for i in analytic.indices {
                let numeric = (perturbedLoss(which, i, step) - perturbedLoss(which, i, -step)) / Double(2 * step)
                #expect(abs(numeric - Double(analytic[i])) < 2e-3 + 1e-2 * abs(numeric), "\(name)[\(i)]")
            }
        }
        // Ignored rows pass no gradient back.
        #expect(xGradient[(3 * inFeatures)..<(4 * inFeatures)].allSatisfy { $0 == 0 })
    }

    @Test func weightedLossIsPyTorchsWeightedMean() {
        // Two rows, logits 0 everywhere: each NLL is log 3, so any weighting gives log 3.
        var probabilities = [Float](repeating: 0, count: 6)
        let scratch = HeadKernels.LossScratch(capacity: 2)
        let uniform = HeadKernels.softmaxCrossEntropy(
            logits: [0, 0, 0, 0, 0, 0], rows: 2, classes: 3, labels: [0, 2], classWeights: [3, 1, 1], scratch: scratch,
            probabilities: &probabilities, logitsGradient: nil)
        #expect(abs(uniform.loss - log(3)) < 1e-6)
        // Row 0 certain and right (NLL≈0), row 1 NLL = log 3: weighted mean is w1·log3 / (w0 + w1).
        let mixed = HeadKernels.softmaxCrossEntropy(
            logits: [50, 0, 0, 0, 0, 0], rows: 2, classes: 3, labels: [0, 2], classWeights: [3, 1, 1], scratch: scratch,
            probabilities: &probabilities, logitsGradient: nil)
        #expect(abs(mixed.loss - log(3) / 4) < 1e-6)
        #expect(mixed.counted == 2 && mixed.correct == 1)
        #expect(HeadKernels.balancedClassWeights(labels: [0, 0, 0, 1], classes: 2) == [Float(4) / 6, 2])
    }
}

@Suite struct ClassifierHeadTests {
    static func tinyLayout(kind: ClassifierKind, classes: Int) -> ParameterLayout {
        var config = BertConfig(
            vocabSize: 20, hiddenSize: 8, numHiddenLayers: 1, numAttentionHeads: 2, intermediateSize: 16,
            maxPositionEmbeddings: 16)
        config.hiddenDropoutProb = 0.25
        return ParameterLayout(config: config, heads: ModelHeads(maskedLM: false, pooler: kind == .sequence, classifierLabels: classes))
    }

    /// Pooler, dropout (a fixed mask: same seed) and classifier together against finite differences.
    @Test(arguments: [ClassifierKind.sequence, .token])
    func headGradientsMatchFiniteDifferences(kind: ClassifierKind) throws {
        let classes = 3, rows = 4
        let layout = Self.tinyLayout(kind: kind, classes: classes)
        let hidden = layout.config.hiddenSize
        let head = try ClassifierHead(kind: kind, layout: layout, maxRows: rows)
        var generator = SplitMix64(state: 3)
        var parameters = (0..<layout.totalCount).map { _ in Float.random(in: -0.5...0.5, using: &generator) }
        var gradients = [Float](repeating: 0, count: layout.totalCount)
        var input = (0..<rows * hidden).map { _ in Float.random(in: -1...1, using: &generator) }
        let labels: [Int32] = [2, HeadKernels.ignoredLabel, 0, 1]
        let weights: [Float] = [1, 0.5, 2]

        func loss() -> Double {
            parameters.withUnsafeMutableBufferPointer { p in
                head.forward(input: input, rows: rows, labels: labels, classWeights: weights, parameters: p,
                             training: true, dropoutSeed: 11).loss
            }
        }
        _ = loss()
        parameters.withUnsafeMutableBufferPointer { p in
            gradients.withUnsafeMutableBufferPointer { g in head.backward(parameters: p, gradients: g, needsInputGradient: true) }
        }
        let inputGradient = Array(head.inputGradient[0..<rows * hidden])
        let step: Float = 1e-2
        var names = ["classifier.weight", "classifier.bias"]
        if kind == .sequence { names += ["bert.pooler.dense.weight", "bert.pooler.dense.bias"] }
        for name in names {
            let tensor = try #require(layout[name])
            // Every 3rd entry keeps the test fast; it still touches each row and column.
            for i in stride(from: 0, to: tensor.count, by: 3) {
                let index = tensor.offset + i
                let expected = finiteDifference(index: index)
                #expect(abs(expected - Double(gradients[index])) < 2e-3 + 2e-2 * abs(expected), "\(name)[\(i)]")
            }
        }
        for i in input.indices {
            let saved = input[i]
            input[i] = saved + step; let plus = loss()
            input[i] = saved - step; let minus = loss()
            input[i] = saved
            let expected = (plus - minus) / Double(2 * step)
            #expect(abs(expected - Double(inputGradient[i])) < 2e-3 + 2e-2 * abs(expected), "input[\(i)]")
        }

        func finiteDifference(index: Int) -> Double {
            let saved = parameters[index]
            parameters[index] = saved + step; let plus = loss()
            parameters[index] = saved - step; let minus = loss()
            parameters[index] = saved
            return (plus - minus) / Double(2 * step)
        }
    }
}
