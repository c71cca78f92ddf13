import Optimization
import SentenceEmbedding

/// The head put on the sentence embeddings.
public enum SetFitHeadKind: String, CaseIterable, Codable, Sendable {
    /// L2-regularised logistic regression on the normalised embeddings, solved to convergence (setfit's default).
    case logistic
    /// A linear softmax head trained with the encoder, end to end, by AdamW on cross-entropy (setfit's
    /// `use_differentiable_head=True` with `end_to_end=True`).
    case differentiable
}

/// Every setting of a SetFit run, with its default (setfit 1.2's `TrainingArguments` where it has one)
/// and its range check; the CLI prints these defaults in its help.
public struct SetFitOptions: Codable, Equatable, Sendable {
    /// Draw this many training examples per class (nil: the training file as it is).
    public var samplesPerClass: Int? = nil
    /// Pairs per training example and kind: `2 · iterations · n` pairs in all.
    public var numIterations = 20
    /// Contrastive epochs over the pairs.
    public var epochs = 1
    /// Pairs per contrastive step.
    public var batchSize = 16
    public var learningRate = 2e-5
    public var warmup = Warmup.ratio(0.1)
    /// AdamW weight decay (setfit's `l2_weight`).
    public var weightDecay = 0.01
    /// Global gradient-norm clipping of the contrastive steps, as HF `Trainer`'s `max_grad_norm`; 0 disables.
    public var maxGradNorm = 1.0
    public var maxSeqLength = SentenceEncoder.defaultMaxSeqLength
    /// False: skip the contrastive phase and fit the head on the untouched encoder (the frozen baseline).
    public var contrastive = true
    public var head = SetFitHeadKind.logistic
    /// Logistic regression's inverse regularisation strength.
    public var c = LogisticRegression.defaultC
    /// The differentiable head's epochs, batch size and learning rates (setfit: 16 epochs, batch 2, head
    /// 1e-2, body 1e-5, both halved every 5 epochs).
    public var headEpochs = 16
    public var headBatchSize = 2
    public var headLearningRate = 1e-2
    public var bodyLearningRate = 1e-5
    public var pooling = Pooling.mean
    public var seed: UInt64 = 42
    public var threads = 2

    public init() {}

    public static let defaults = SetFitOptions()

    public func validate(maxPositions: Int) throws {
        func check(_ ok: Bool, _ message: String) throws { if !ok { throw FewShotError(message) } }
        if let k = samplesPerClass { try check(k > 0, "--samples-per-class \(k) must be positive") }
        try check(numIterations > 0, "--num-iterations \(numIterations) must be positive")
        try check(epochs >= 0, "--epochs \(epochs) must not be negative")
        try check(batchSize > 0, "--batch-size \(batchSize) must be positive")
        try check(learningRate > 0 && learningRate.isFinite, "--lr \(learningRate) must be positive")
        if case .ratio(let ratio) = warmup {
            try check((0..<1).contains(ratio), "--warmup \(ratio): a ratio must be in [0, 1), a step count a whole number from 1")
        }
        try check(weightDecay >= 0 && weightDecay.isFinite, "--weight-decay \(weightDecay) must not be negative")
        try check(maxGradNorm >= 0 && maxGradNorm.isFinite, "--max-grad-norm \(maxGradNorm) must be 0 (off) or positive")
        try check(
            (3...maxPositions).contains(maxSeqLength),
            "--max-seq-length \(maxSeqLength) must be in 3...\(maxPositions) (the model's positions)")
        try check(c > 0 && c.isFinite, "--c \(c) must be positive")
        try check(headEpochs > 0, "--head-epochs \(headEpochs) must be positive")
        try check(headBatchSize > 0, "--head-batch-size \(headBatchSize) must be positive")
        try check(headLearningRate > 0 && headLearningRate.isFinite, "--head-lr \(headLearningRate) must be positive")
        try check(bodyLearningRate >= 0 && bodyLearningRate.isFinite, "--body-lr \(bodyLearningRate) must not be negative")
    }
}
