import Foundation
import Model
import Optimization
import Reporting
import SeededRandom
import TensorKernels

/// The outcome of `FineTuner.train`: per-epoch records and the epoch whose weights were kept.
public struct TrainingOutcome: Sendable {
    public var epochs: [EpochRecord]
    public var bestEpoch: Int
    public var stoppedEarly: Bool
    public var bestValidation: SplitMetrics
}

/// Fine-tunes a `Classifier` with AdamW, linear warmup and decay, gradient clipping, and early stopping on
/// a dev metric; the best epoch's weights are restored at the end. Frozen tensors are left out of the
/// optimizer (no moments, never written). With the whole encoder frozen, the encoder runs once per example
/// in inference mode and only the head trains on the cached features.
public final class FineTuner {
    public let classifier: Classifier
    public let options: FineTuneOptions
    public let spans: TrainableSpans
    let optimizer: AdamW
    /// Where log lines go.
    public var log: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
    /// Progress within each epoch (step, loss, examples/s, ETA); nil shows none.
    public var progress: ProgressStyle?

    public init(classifier: Classifier, options: FineTuneOptions) throws {
        try options.validate(config: classifier.model.config)
        self.classifier = classifier
        self.options = options
        let freeze = options.freeze
        spans = TrainableSpans(layout: classifier.model.layout) { !freeze.isFrozen($0.name) }
        try classifier.model.setFrozenBottom(freeze.frozenBottom(layers: classifier.model.config.numHiddenLayers))
        optimizer = try AdamW(
            spans: spans, settings: AdamWSettings(weightDecay: options.weightDecay), threads: max(1, options.threads))
    }

    public var trainableParameterCount: Int { spans.elementCount }

    /// Metrics of one split from predictions.
    public func evaluate(_ examples: [EncodedExample], goldTags: [[String]]?) throws -> (SplitMetrics, Predictions) {
        let predictions = try classifier.predict(examples)
        return (metrics(predictions, examples: examples, goldTags: goldTags), predictions)
    }

    func metrics(_ predictions: Predictions, examples: [EncodedExample], goldTags: [[String]]?) -> SplitMetrics {
        switch classifier.kind {
        case .sequence:
            return SplitMetrics(
                classification: ClassificationMetrics(
                    gold: examples.map(\.label), predicted: predictions.labels, labels: classifier.labels),
                loss: predictions.loss)
        case .token:
            return SplitMetrics(
                entities: EntityMetrics(gold: goldTags ?? [], predicted: classifier.tagNames(predictions)), loss: predictions.loss)
        }
    }

    public func train(
        _ train: [EncodedExample], validation: [EncodedExample], validationTags: [[String]]? = nil
    ) throws -> TrainingOutcome {
        let model = classifier.model
        let batchSize = options.batchSize
        let batchesPerEpoch = (train.count + batchSize - 1) / batchSize
        let stepsPerEpoch = (batchesPerEpoch + options.gradAccum - 1) / options.gradAccum
        let totalSteps = stepsPerEpoch * options.epochs
        let schedule = LearningRateSchedule(
            kind: options.schedule, peakRate: options.learningRate,
            warmupSteps: options.warmup.steps(totalSteps: totalSteps), totalSteps: totalSteps)
        let classWeights: [Float]? = options.balancedClassWeights
            ? HeadKernels.balancedClassWeights(
                labels: classifier.kind == .sequence ? train.map(\.label) : train.flatMap(\.tokenLabels),
                classes: classifier.labels.count)
            : nil
        let frozenFeatures = options.freeze.freezesWholeEncoder
        let trainFeatures = frozenFeatures ? try FeatureCache(classifier: classifier, examples: train) : nil
        let validationFeatures = frozenFeatures ? try FeatureCache(classifier: classifier, examples: validation) : nil

        var generator = SeededShuffle(seed: options.seed)
        var order = Array(train.indices)
        var records: [EpochRecord] = []
        var best: (epoch: Int, value: Double, metrics: SplitMetrics)?
        var bestParameters = [Float]()
        var stoppedEarly = false
        let trainableTensors = spans.tensors

        for epoch in 1...options.epochs {
            let started = Date()
            generator.shuffle(&order)
            let epochProgress = progress.map { EpochProgress(style: $0, epoch: epoch, epochs: options.epochs, steps: stepsPerEpoch) }
            var lossSum = 0.0, lossCount = 0
            for step in 0..<stepsPerEpoch {
                let batches = (step * options.gradAccum)..<min((step + 1) * options.gradAccum, batchesPerEpoch)
                if trainFeatures != nil { zeroGradients(of: trainableTensors) } else { model.zeroGradients() }
                // Invariant after batch i: gradients = Σ_{j≤i} (c_j / c_i) g_j, g_j the gradient of batch j's mean
                // loss over its c_j rows; the last rescale makes it the gradient of the mean over all rows.
                var previousCount = 0, totalCount = 0
                for batchIndex in batches {
                    let batch = order[(batchIndex * batchSize)..<min((batchIndex + 1) * batchSize, order.count)]
                    let globalBatch = UInt64((epoch - 1) * batchesPerEpoch + batchIndex)
                    let dropoutSeed = options.seed &* 0x9E37_79B9_7F4A_7C15 &+ globalBatch
                    let result: HeadKernels.LossResult
                    if let trainFeatures {
                        let rows = trainFeatures.gather(batch, into: classifier)
                        result = classifier.headForward(
                            input: classifier.headInput.baseAddress!, rows: rows, classWeights: classWeights, training: true,
                            seed: dropoutSeed ^ 0x5EED)
                    } else {
                        classifier.fill(train, batch)
                        let input = try classifier.encode(training: true, dropoutSeed: dropoutSeed)
                        result = classifier.headForward(
                            input: input, rows: classifier.headRows, classWeights: classWeights, training: true,
                            seed: dropoutSeed ^ 0x5EED)
                    }
                    guard result.loss.isFinite else {
                        throw ClassificationError.invalidArgument(
                            "the loss became \(result.loss) at epoch \(epoch), step \(step + 1); lower --lr")
                    }
                    guard result.counted > 0 else { continue }
                    if previousCount > 0 && previousCount != result.counted {
                        GradientClipping.scale(model.gradients, by: Float(Double(previousCount) / Double(result.counted)),
                                               spans: spans, threads: options.threads)
                    }
                    classifier.backward(throughEncoder: trainFeatures == nil)
                    previousCount = result.counted
                    totalCount += result.counted
                    lossSum += result.loss
                    lossCount += 1
                }
                if totalCount > 0 && previousCount != totalCount {
                    GradientClipping.scale(model.gradients, by: Float(Double(previousCount) / Double(totalCount)),
                                           spans: spans, threads: options.threads)
                }
                let clipping = GradientClipping.factor(
                    of: UnsafeBufferPointer(model.gradients), spans: spans,
                    maxNorm: options.maxGradNorm > 0 ? options.maxGradNorm : nil, threads: options.threads)
                optimizer.update(
                    parameters: model.parameters, gradients: UnsafeBufferPointer(model.gradients),
                    gradientScale: clipping.factor, learningRate: schedule.rate(atStep: optimizer.stepCount))
                model.parametersDidChange()
                epochProgress?.update(
                    step: step + 1, meanLoss: lossCount == 0 ? .nan : lossSum / Double(lossCount),
                    examples: min(batches.upperBound * batchSize, train.count))
            }
            epochProgress?.finish()
            let validationMetrics: SplitMetrics
            if let validationFeatures {
                let predictions = try validationFeatures.predict(classifier: classifier)
                validationMetrics = metrics(predictions, examples: validation, goldTags: validationTags)
            } else {
                validationMetrics = try evaluate(validation, goldTags: validationTags).0
            }
            let value = validationMetrics.value(of: options.metric)
            let record = EpochRecord(
                epoch: epoch, trainLoss: lossCount == 0 ? 0 : lossSum / Double(lossCount), validation: validationMetrics,
                seconds: Date().timeIntervalSince(started))
            records.append(record)
            log(String(format: "epoch %d: train loss %.4f, dev loss %.4f, dev %@ %.4f (%.1f s)",
                       epoch, record.trainLoss, validationMetrics.loss, metricName, value, record.seconds))
            // Ties (common early on, e.g. entity F1 of 0) go to the lower dev loss.
            if best == nil || value > best!.value || (value == best!.value && validationMetrics.loss < best!.metrics.loss) {
                best = (epoch, value, validationMetrics)
                bestParameters = Array(model.parameters)
            } else if let patience = options.patience, epoch - best!.epoch >= patience {
                log("no better dev \(metricName) for \(patience) epoch(s): stopping early")
                stoppedEarly = epoch < options.epochs
                break
            }
        }
        if let best, best.epoch != records.count {
            _ = bestParameters.withUnsafeBufferPointer { model.parameters.update(fromContentsOf: $0) }
            model.parametersDidChange()
            log("restored the weights of epoch \(best.epoch)")
        }
        return TrainingOutcome(
            epochs: records, bestEpoch: best?.epoch ?? 0, stoppedEarly: stoppedEarly,
            bestValidation: best?.metrics ?? SplitMetrics(loss: 0))
    }

    var metricName: String { classifier.kind == .token ? "entity-F1" : options.metric.rawValue }

    func zeroGradients(of tensors: [ParameterTensor]) {
        let g = classifier.model.gradients.baseAddress!
        for tensor in tensors { (g + tensor.offset).update(repeating: 0, count: tensor.count) }
    }
}

/// Encoder outputs computed once in inference mode, for training only the head on a frozen encoder:
/// one `[CLS]` state per example (`.sequence`) or every token's state (`.token`).
final class FeatureCache {
    let kind: ClassifierKind
    let hiddenSize: Int
    var features: [Float] = []
    var labels: [Int32] = []
    /// Start row and row count of each example.
    var rowRanges: [Range<Int>] = []
    let examples: [EncodedExample]

    init(classifier: Classifier, examples: [EncodedExample]) throws {
        kind = classifier.kind
        hiddenSize = classifier.hiddenSize
        self.examples = examples
        rowRanges = [Range<Int>](repeating: 0..<0, count: examples.count)
        var rowCount = 0
        for (index, example) in examples.enumerated() {
            let n = kind == .sequence ? 1 : example.ids.count
            rowRanges[index] = rowCount..<(rowCount + n)
            rowCount += n
        }
        features = [Float](repeating: 0, count: rowCount * hiddenSize)
        labels = [Int32](repeating: HeadKernels.ignoredLabel, count: rowCount)
        let h = hiddenSize
        for batch in classifier.inferenceBatches(examples) {
            classifier.fill(examples, batch)
            let hidden = try classifier.encode(training: false, dropoutSeed: 0)
            for (row, index) in batch.enumerated() {
                let range = rowRanges[index], example = examples[index]
                features.withUnsafeMutableBufferPointer { f in
                    let source = kind == .sequence ? hidden + row * h : hidden + row * classifier.length * h
                    (f.baseAddress! + range.lowerBound * h).update(from: source, count: range.count * h)
                }
                if kind == .sequence {
                    labels[range.lowerBound] = example.label
                } else {
                    for (offset, label) in example.tokenLabels.enumerated() { labels[range.lowerBound + offset] = label }
                }
            }
        }
    }

    /// Copies the rows of `batch` into the classifier's head input and labels; returns the row count.
    func gather(_ batch: some Collection<Int>, into classifier: Classifier) -> Int {
        var row = 0
        let h = hiddenSize
        features.withUnsafeBufferPointer { f in
            for index in batch {
                let range = rowRanges[index]
                (classifier.headInput.baseAddress! + row * h).update(from: f.baseAddress! + range.lowerBound * h, count: range.count * h)
                for r in range { classifier.rowLabels[row + r - range.lowerBound] = labels[r] }
                row += range.count
            }
        }
        return row
    }

    /// Predictions from the cached features, as `Classifier.predict` would give.
    func predict(classifier: Classifier) throws -> Predictions {
        var predictions = Predictions(kind: kind, examples: examples)
        var lossSum = 0.0, counted = 0
        for start in stride(from: 0, to: examples.count, by: classifier.batchSize) {
            let batch = start..<min(start + classifier.batchSize, examples.count)
            let rows = gather(batch, into: classifier)
            let result = classifier.headForward(
                input: classifier.headInput.baseAddress!, rows: rows, classWeights: nil, training: false, seed: 0)
            lossSum += result.loss * Double(result.counted)
            counted += result.counted
            var row = 0
            for index in batch {
                classifier.collect(index, examples[index], firstRow: row, into: &predictions)
                row += rowRanges[index].count
            }
        }
        predictions.loss = counted == 0 ? 0 : lossSum / Double(counted)
        return predictions
    }
}

/// Fisher–Yates with a SplitMix64 stream: the same seed gives the same order on every platform.
public struct SeededShuffle {
    private var generator: SplitMix64
    public init(seed: UInt64) { generator = SplitMix64(afterOneDrawFrom: seed) }

    public mutating func shuffle(_ values: inout [Int]) {
        guard values.count > 1 else { return }
        for i in stride(from: values.count - 1, to: 0, by: -1) {
            let j = Int(generator.next() % UInt64(i + 1))
            values.swapAt(i, j)
        }
    }
}
