import Classification
import Foundation
import Model
import Optimization
import Reporting
import SentenceEmbedding

/// `--head differentiable`: the linear softmax head on the normalised embedding trained by cross-entropy,
/// end to end through the encoder, as setfit's differentiable head with `end_to_end=True`: AdamW on the head
/// (`headLearningRate`) and on the encoder (`bodyLearningRate`; 0 keeps the encoder frozen), both rates
/// halved every 5 epochs (setfit's `StepLR(step_size=5, gamma=0.5)`), the examples shuffled each epoch.
final class DifferentiableHeadTrainer {
    let encoder: SentenceEncoder
    let setfit: SetFitModel
    let options: SetFitOptions
    let headSpans: TrainableSpans, bodySpans: TrainableSpans
    let headOptimizer: AdamW, bodyOptimizer: AdamW
    var log: (String) -> Void = { _ in }
    var progress: ProgressStyle?

    init(encoder: SentenceEncoder, setfit: SetFitModel, options: SetFitOptions) throws {
        self.encoder = encoder
        self.setfit = setfit
        self.options = options
        let layout = encoder.model.layout
        headSpans = TrainableSpans(layout: layout) { $0.name.hasPrefix("classifier.") }
        bodySpans = TrainableSpans(layout: layout) { $0.name.hasPrefix("bert.") }
        let adamW = AdamWSettings(weightDecay: options.weightDecay)
        headOptimizer = try AdamW(spans: headSpans, settings: adamW, threads: options.threads)
        bodyOptimizer = try AdamW(spans: bodySpans, settings: adamW, threads: options.threads)
    }

    var trainsBody: Bool { options.bodyLearningRate > 0 }
    var trainableParameterCount: Int { headSpans.elementCount + (trainsBody ? bodySpans.elementCount : 0) }

    func train(texts: [SentenceTokens], labels: [Int32]) throws {
        let model = encoder.model
        let h = encoder.hiddenSize, k = setfit.labels.count, batchSize = options.headBatchSize
        let steps = (texts.count + batchSize - 1) / batchSize
        var order = Array(texts.indices)
        var shuffle = SeededShuffle(seed: options.seed ^ 0x4EAD)
        var rows: [SentenceTokens] = []
        var normalized = [Float](repeating: 0, count: batchSize * h)
        var pooledGradient = [Float](repeating: 0, count: batchSize * h)
        var probabilities = [Float](repeating: 0, count: k)
        let weight = setfit.headWeight, bias = setfit.headBias
        let weightGradient = model.gradient("classifier.weight")!, biasGradient = model.gradient("classifier.bias")!
        for epoch in 1...options.headEpochs {
            let decay = pow(0.5, Double((epoch - 1) / 5))
            shuffle.shuffle(&order)
            let epochProgress = progress.map { EpochProgress(style: $0, epoch: epoch, epochs: options.headEpochs, steps: steps) }
            var lossSum = 0.0
            for step in 0..<steps {
                let batch = order[(step * batchSize)..<min((step + 1) * batchSize, order.count)]
                rows = batch.map { texts[$0] }
                let b = rows.count
                try encoder.forward(rows, training: true, dropoutSeed: options.seed &* 0x2545_F491_4F6C_DD1D &+ UInt64(epoch * steps + step))
                model.zeroGradients()
                var loss = 0.0
                for (row, index) in batch.enumerated() {
                    let pooled = encoder.pooled.baseAddress! + row * h
                    var norm = 0.0
                    for i in 0..<h { norm += Double(pooled[i]) * Double(pooled[i]) }
                    let length = Float(max(norm.squareRoot(), 1e-12))
                    for i in 0..<h { normalized[row * h + i] = pooled[i] / length }
                    // Softmax cross-entropy of the row; d loss / d logits = (p − onehot) / b.
                    var top = -Float.infinity
                    for c in 0..<k {
                        var z = bias[c]
                        for i in 0..<h { z += weight[c * h + i] * normalized[row * h + i] }
                        probabilities[c] = z
                        top = max(top, z)
                    }
                    var sum: Float = 0
                    for c in 0..<k { probabilities[c] = exp(probabilities[c] - top); sum += probabilities[c] }
                    let gold = Int(labels[index])
                    loss -= Foundation.log(max(Double(probabilities[gold] / sum), 1e-12))
                    var dot: Float = 0
                    for i in 0..<h { pooledGradient[row * h + i] = 0 }
                    for c in 0..<k {
                        let g = (probabilities[c] / sum - (c == gold ? 1 : 0)) / Float(b)
                        biasGradient[c] += g
                        for i in 0..<h {
                            weightGradient[c * h + i] += g * normalized[row * h + i]
                            pooledGradient[row * h + i] += g * weight[c * h + i]
                        }
                    }
                    // Through the normalisation: (g − x̂ (x̂·g)) / |x|.
                    for i in 0..<h { dot += pooledGradient[row * h + i] * normalized[row * h + i] }
                    for i in 0..<h { pooledGradient[row * h + i] = (pooledGradient[row * h + i] - normalized[row * h + i] * dot) / length }
                }
                headOptimizer.update(
                    parameters: model.parameters, gradients: UnsafeBufferPointer(model.gradients),
                    learningRate: options.headLearningRate * decay)
                if trainsBody {
                    pooledGradient.withUnsafeBufferPointer { encoder.backward(pooledGradient: $0.baseAddress!) }
                    let clipping = GradientClipping.factor(
                        of: UnsafeBufferPointer(model.gradients), spans: bodySpans,
                        maxNorm: options.maxGradNorm > 0 ? options.maxGradNorm : nil, threads: options.threads)
                    bodyOptimizer.update(
                        parameters: model.parameters, gradients: UnsafeBufferPointer(model.gradients),
                        gradientScale: clipping.factor, learningRate: options.bodyLearningRate * decay)
                }
                model.parametersDidChange()
                lossSum += loss / Double(b)
                epochProgress?.update(step: step + 1, meanLoss: lossSum / Double(step + 1), examples: min((step + 1) * batchSize, texts.count))
            }
            epochProgress?.finish()
            log(String(format: "head epoch %d: mean cross-entropy %.4f", epoch, lossSum / Double(steps)))
        }
    }
}
