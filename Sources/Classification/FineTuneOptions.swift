import Model
import Optimization

/// Which parameters stay fixed while fine-tuning. Frozen tensors get no optimizer state and stay
/// bit-identical; backward work below the lowest trainable layer is skipped.
public struct FreezeOptions: Codable, Equatable, Sendable {
    /// `bert.embeddings.*`.
    public var embeddings: Bool
    /// The bottom N encoder layers (`bert.encoder.layer.0` … `N-1`), and with them the embeddings.
    public var bottomLayers: Int
    /// The whole encoder: only the pooler and the classifier train (the frozen-features baseline).
    public var encoder: Bool

    public init(embeddings: Bool = false, bottomLayers: Int = 0, encoder: Bool = false) {
        self.embeddings = embeddings; self.bottomLayers = bottomLayers; self.encoder = encoder
    }

    public func isFrozen(_ name: String) -> Bool {
        if name.hasPrefix("bert.embeddings.") { return encoder || embeddings || bottomLayers > 0 }
        if let layer = Self.encoderLayer(of: name) { return encoder || layer < bottomLayers }
        return false
    }

    /// The same freezing as the backward pass sees it (`BertModel.setFrozenBottom`), for a model of `layers` layers.
    public func frozenBottom(layers: Int) -> FrozenBottom {
        if encoder { return .embeddingsAndLayers(layers) }
        return embeddings || bottomLayers > 0 ? .embeddingsAndLayers(bottomLayers) : .nothing
    }

    /// True when no encoder weight (embeddings included) trains, so the encoder needs no backward pass.
    public var freezesWholeEncoder: Bool { encoder }

    static func encoderLayer(of name: String) -> Int? {
        let prefix = "bert.encoder.layer."
        guard name.hasPrefix(prefix) else { return nil }
        return Int(name.dropFirst(prefix.count).prefix { $0.isNumber })
    }

    public func validate(layers: Int) throws {
        guard bottomLayers >= 0, bottomLayers <= layers else {
            throw ClassificationError.invalidArgument("--freeze-layers \(bottomLayers): the model has \(layers) layers")
        }
    }
}

public struct FineTuneOptions: Codable, Equatable, Sendable {
    public var epochs: Int
    public var batchSize: Int
    /// Peak learning rate; 5e-5 suits a small encoder such as MiniLM-L6 (HF's `run_glue` default is 2e-5 for BERT-base).
    public var learningRate: Double
    /// Linear warmup: a share of all optimizer steps (below 1) or a step count, as `adapt`'s `--warmup`.
    public var warmup: Warmup
    /// The curve after warmup.
    public var schedule: ScheduleKind
    /// Batches per optimizer step; the gradient is the mean over all their examples (tokens for NER).
    public var gradAccum: Int
    public var weightDecay: Double
    /// Clip the global gradient norm to this; 0 disables clipping.
    public var maxGradNorm: Double
    /// Epochs without a better dev metric before stopping; nil trains all epochs.
    public var patience: Int?
    public var metric: SelectionMetric
    public var seed: UInt64
    public var maxSeqLength: Int
    public var balancedClassWeights: Bool
    public var freeze: FreezeOptions
    public var threads: Int

    public init(
        epochs: Int = 3, batchSize: Int = 16, learningRate: Double = 5e-5, warmup: Warmup = .ratio(0.1),
        schedule: ScheduleKind = .linear, gradAccum: Int = 1, weightDecay: Double = 0.01, maxGradNorm: Double = 1.0, patience: Int? = 2, metric: SelectionMetric = .accuracy,
        seed: UInt64 = 42, maxSeqLength: Int = 128, balancedClassWeights: Bool = false, freeze: FreezeOptions = FreezeOptions(),
        threads: Int = 2
    ) {
        self.epochs = epochs; self.batchSize = batchSize; self.learningRate = learningRate
        self.warmup = warmup; self.schedule = schedule; self.gradAccum = gradAccum; self.weightDecay = weightDecay; self.maxGradNorm = maxGradNorm
        self.patience = patience; self.metric = metric; self.seed = seed; self.maxSeqLength = maxSeqLength
        self.balancedClassWeights = balancedClassWeights; self.freeze = freeze; self.threads = threads
    }

    public func validate(config: BertConfig) throws {
        guard epochs > 0 else { throw ClassificationError.invalidArgument("--epochs must be positive") }
        guard batchSize > 0 else { throw ClassificationError.invalidArgument("--batch-size must be positive") }
        guard learningRate > 0, learningRate.isFinite else { throw ClassificationError.invalidArgument("--lr must be positive") }
        guard gradAccum > 0 else { throw ClassificationError.invalidArgument("--grad-accum must be at least 1") }
        if case .ratio(let ratio) = warmup, !(0..<1).contains(ratio) {
            throw ClassificationError.invalidArgument("--warmup \(ratio): a ratio must be in [0, 1), a step count a whole number from 1")
        }
        if case .steps(let steps) = warmup, steps < 0 { throw ClassificationError.invalidArgument("--warmup must not be negative") }
        guard maxGradNorm >= 0, maxGradNorm.isFinite else {
            throw ClassificationError.invalidArgument("--max-grad-norm \(maxGradNorm) must be 0 (off) or positive")
        }
        guard maxSeqLength >= 3, maxSeqLength <= config.maxPositionEmbeddings else {
            throw ClassificationError.invalidArgument(
                "--max-seq-length \(maxSeqLength) must be in 3...\(config.maxPositionEmbeddings) (the model's positions)")
        }
        if let patience, patience < 1 { throw ClassificationError.invalidArgument("--patience must be at least 1") }
        try freeze.validate(layers: config.numHiddenLayers)
    }
}
