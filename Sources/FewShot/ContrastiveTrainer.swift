import Classification
import Foundation
import Model
import Optimization
import Reporting
import SentenceEmbedding
import TensorKernels

/// The contrastive phase of SetFit: the mean-pooled encoder fine-tuned on positive and negative pairs with
/// `CosineSimilarityLoss`, as setfit's sentence-transformers trainer runs it: the pairs shuffled each epoch,
/// AdamW with linear warmup and decay, dropout on, gradient norm clipped. Both texts of a step's pairs go
/// through the encoder as one batch of `2 · batchSize` rows.
public final class ContrastiveTrainer {
    public let encoder: SentenceEncoder
    public let options: SetFitOptions
    let spans: TrainableSpans
    let optimizer: AdamW
    /// Gradient of the loss with respect to the pooled rows, `[2 · batchSize, H]`.
    let pooledGradient: UnsafeMutableBufferPointer<Float>
    public var log: (String) -> Void = { _ in }
    public var progress: ProgressStyle?

    public init(encoder: SentenceEncoder, options: SetFitOptions) throws {
        self.encoder = encoder
        self.options = options
        // The encoder trains; a classifier head in the layout does not take part in this phase.
        spans = TrainableSpans(layout: encoder.model.layout) { $0.name.hasPrefix("bert.") }
        optimizer = try AdamW(spans: spans, settings: AdamWSettings(weightDecay: options.weightDecay), threads: options.threads)
        pooledGradient = .allocate(capacity: encoder.maxRows * encoder.hiddenSize)
        pooledGradient.initialize(repeating: 0)
    }

    deinit { pooledGradient.deallocate() }

    public var trainableParameterCount: Int { spans.elementCount }

    /// Trains on `pairs` of `texts`; returns the mean loss of each epoch.
    public func train(texts: [SentenceTokens], pairs: [ContrastivePair]) throws -> [Double] {
        guard !pairs.isEmpty, options.epochs > 0 else { return [] }
        let model = encoder.model
        let batchSize = options.batchSize
        let stepsPerEpoch = (pairs.count + batchSize - 1) / batchSize
        let totalSteps = stepsPerEpoch * options.epochs
        let schedule = LearningRateSchedule(
            kind: .linear, peakRate: options.learningRate, warmupSteps: options.warmup.steps(totalSteps: totalSteps),
            totalSteps: totalSteps)
        var order = Array(pairs.indices)
        var shuffle = SeededShuffle(seed: options.seed ^ 0xC0_47AA)
        var epochLosses: [Double] = []
        var rows: [SentenceTokens] = []
        rows.reserveCapacity(2 * batchSize)
        var targets: [Float] = []
        for epoch in 1...options.epochs {
            shuffle.shuffle(&order)
            let epochProgress = progress.map { EpochProgress(style: $0, epoch: epoch, epochs: options.epochs, steps: stepsPerEpoch) }
            var lossSum = 0.0
            for step in 0..<stepsPerEpoch {
                let batch = order[(step * batchSize)..<min((step + 1) * batchSize, order.count)]
                rows.removeAll(keepingCapacity: true)
                targets.removeAll(keepingCapacity: true)
                for index in batch { rows.append(texts[pairs[index].first]) }
                for index in batch { rows.append(texts[pairs[index].second]); targets.append(pairs[index].target) }
                let globalStep = UInt64((epoch - 1) * stepsPerEpoch + step)
                try encoder.forward(rows, training: true, dropoutSeed: options.seed &* 0x9E37_79B9_7F4A_7C15 &+ globalStep)
                let loss = CosineSimilarityLoss.lossAndGradient(
                    embeddings: encoder.pooled.baseAddress!, targets: targets, dimension: encoder.hiddenSize,
                    gradient: pooledGradient.baseAddress!)
                guard loss.isFinite else {
                    throw FewShotError("the contrastive loss became \(loss) at epoch \(epoch), step \(step + 1); lower --lr")
                }
                model.zeroGradients()
                encoder.backward(pooledGradient: pooledGradient.baseAddress!)
                let clipping = GradientClipping.factor(
                    of: UnsafeBufferPointer(model.gradients), spans: spans,
                    maxNorm: options.maxGradNorm > 0 ? options.maxGradNorm : nil, threads: options.threads)
                optimizer.update(
                    parameters: model.parameters, gradients: UnsafeBufferPointer(model.gradients),
                    gradientScale: clipping.factor, learningRate: schedule.rate(atStep: optimizer.stepCount))
                model.parametersDidChange()
                lossSum += loss
                epochProgress?.update(
                    step: step + 1, meanLoss: lossSum / Double(step + 1), examples: min((step + 1) * batchSize, pairs.count))
            }
            epochProgress?.finish()
            epochLosses.append(lossSum / Double(stepsPerEpoch))
            log(String(format: "contrastive epoch %d: %d pairs, mean cosine loss %.4f", epoch, pairs.count, epochLosses.last!))
        }
        return epochLosses
    }
}
