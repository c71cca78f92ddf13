import Model
import TensorKernels

/// Which HF head sits on the encoder.
public enum ClassifierKind: String, Codable, Sendable {
    /// `BertForSequenceClassification`: `[CLS]` → pooler (dense + tanh) → dropout → linear.
    case sequence
    /// `BertForTokenClassification`: every token's hidden state → dropout → linear.
    case token

    public var architecture: String {
        switch self {
        case .sequence: return "BertForSequenceClassification"
        case .token: return "BertForTokenClassification"
        }
    }

    public init?(architectures: [String]?) {
        switch architectures?.first {
        case "BertForSequenceClassification": self = .sequence
        case "BertForTokenClassification": self = .token
        default: return nil
        }
    }
}

/// The layers above the encoder, with all their activations preallocated for `maxRows` rows
/// (batch rows for `.sequence`, batch × sequence tokens for `.token`). The weights and their
/// gradients live in the model's arenas under the HF names (`bert.pooler.dense.*`, `classifier.*`).
public final class ClassifierHead {
    public let kind: ClassifierKind
    public let hiddenSize: Int
    public let classes: Int
    public let maxRows: Int
    public let dropoutProbability: Float
    let poolerWeight: ParameterTensor?
    let poolerBias: ParameterTensor?
    let classifierWeight: ParameterTensor
    let classifierBias: ParameterTensor

    /// Pooler output (tanh), dropped features, logits, probabilities, their gradients, the loss's row scratch.
    let pooled: UnsafeMutableBufferPointer<Float>
    let dropped: UnsafeMutableBufferPointer<Float>
    let logits: UnsafeMutableBufferPointer<Float>
    public let probabilities: UnsafeMutableBufferPointer<Float>
    let logitsGradient: UnsafeMutableBufferPointer<Float>
    let featureGradient: UnsafeMutableBufferPointer<Float>
    /// d loss / d input, `[rows, hidden]`, filled by `backward`.
    public let inputGradient: UnsafeMutableBufferPointer<Float>
    let lossScratch: HeadKernels.LossScratch
    /// The last forward's dropout, replayed by `backward`.
    var dropout = DropoutMask(probability: 0, seed: 0, stream: 0)
    var rows = 0
    var input: UnsafePointer<Float>?

    public init(kind: ClassifierKind, layout: ParameterLayout, maxRows: Int) throws {
        guard let classes = layout.heads.classifierLabels,
              let weight = layout["classifier.weight"], let bias = layout["classifier.bias"]
        else { throw ClassificationError.invalidArgument("the parameter layout has no classifier") }
        self.kind = kind
        self.hiddenSize = layout.config.hiddenSize
        self.classes = classes
        self.maxRows = maxRows
        self.dropoutProbability = layout.config.hiddenDropoutProb
        self.classifierWeight = weight
        self.classifierBias = bias
        if kind == .sequence {
            guard let w = layout["bert.pooler.dense.weight"], let b = layout["bert.pooler.dense.bias"] else {
                throw ClassificationError.invalidArgument("a sequence classifier needs the pooler in its layout")
            }
            poolerWeight = w; poolerBias = b
        } else {
            poolerWeight = nil; poolerBias = nil
        }
        let features = maxRows * hiddenSize
        pooled = .allocate(capacity: features); pooled.initialize(repeating: 0)
        dropped = .allocate(capacity: features); dropped.initialize(repeating: 0)
        featureGradient = .allocate(capacity: features); featureGradient.initialize(repeating: 0)
        inputGradient = .allocate(capacity: features); inputGradient.initialize(repeating: 0)
        logits = .allocate(capacity: maxRows * classes); logits.initialize(repeating: 0)
        probabilities = .allocate(capacity: maxRows * classes); probabilities.initialize(repeating: 0)
        logitsGradient = .allocate(capacity: maxRows * classes); logitsGradient.initialize(repeating: 0)
        lossScratch = HeadKernels.LossScratch(capacity: maxRows)
    }

    deinit {
        for buffer in [pooled, dropped, featureGradient, inputGradient, logits, probabilities, logitsGradient] {
            buffer.deallocate()
        }
    }

    /// Runs the head on `rows` input vectors of `hiddenSize` (the `[CLS]` states for `.sequence`, every token's
    /// state for `.token`). `labels` has one entry per row (-100: no loss). With `training`, dropout is on and
    /// the logits' gradient is kept for `backward`.
    @discardableResult
    public func forward(
        input: UnsafePointer<Float>, rows: Int, labels: UnsafePointer<Int32>, classWeights: UnsafePointer<Float>?,
        parameters: UnsafeMutableBufferPointer<Float>, training: Bool, dropoutSeed: UInt64
    ) -> HeadKernels.LossResult {
        precondition(rows <= maxRows, "batch larger than the head's buffers")
        guard let p = parameters.baseAddress else { return HeadKernels.LossResult(loss: 0, counted: 0, correct: 0) }
        self.rows = rows
        self.input = input
        let count = rows * hiddenSize
        var features = input
        if let poolerWeight, let poolerBias, let out = pooled.baseAddress {
            Linear.forward(
                input: input, weight: p + poolerWeight.offset, bias: p + poolerBias.offset, output: out, rows: rows,
                inFeatures: hiddenSize, outFeatures: hiddenSize)
            Tanh.forward(out, into: out, count: count)
            features = UnsafePointer(out)
        }
        // The head's seed is its own (the fine-tuner derives it apart from the encoder's), so one stream will do.
        dropout = DropoutMask(probability: training ? dropoutProbability : 0, seed: dropoutSeed, stream: 0)
        dropout.apply(features, into: dropped.baseAddress!, count: count)
        Linear.forward(
            input: dropped.baseAddress!, weight: p + classifierWeight.offset, bias: p + classifierBias.offset,
            output: logits.baseAddress!, rows: rows, inFeatures: hiddenSize, outFeatures: classes)
        return HeadKernels.softmaxCrossEntropy(
            logits: logits.baseAddress!, rows: rows, classes: classes, labels: labels, classWeights: classWeights,
            scratch: lossScratch, probabilities: probabilities.baseAddress!,
            logitsGradient: training ? logitsGradient.baseAddress! : nil)
    }

    /// Back-propagates the last training `forward`: adds the head's weight gradients into `gradients` and, when
    /// `needsInputGradient`, writes d loss / d input to `inputGradient`.
    public func backward(
        parameters: UnsafeMutableBufferPointer<Float>, gradients: UnsafeMutableBufferPointer<Float>, needsInputGradient: Bool
    ) {
        guard let p = parameters.baseAddress, let g = gradients.baseAddress, let input else { return }
        let count = rows * hiddenSize
        Linear.backward(
            outputGradient: logitsGradient.baseAddress!, input: dropped.baseAddress!, weight: p + classifierWeight.offset,
            inputGradient: featureGradient.baseAddress!, accumulateInputGradient: false,
            weightGradient: g + classifierWeight.offset, biasGradient: g + classifierBias.offset,
            rows: rows, inFeatures: hiddenSize, outFeatures: classes)
        dropout.apply(featureGradient.baseAddress!, count: count)
        if let poolerWeight, let poolerBias {
            Tanh.backward(
                outputGradient: featureGradient.baseAddress!, output: pooled.baseAddress!,
                inputGradient: featureGradient.baseAddress!, count: count)
            Linear.backward(
                outputGradient: featureGradient.baseAddress!, input: input, weight: p + poolerWeight.offset,
                inputGradient: needsInputGradient ? inputGradient.baseAddress! : nil, accumulateInputGradient: false,
                weightGradient: g + poolerWeight.offset, biasGradient: g + poolerBias.offset,
                rows: rows, inFeatures: hiddenSize, outFeatures: hiddenSize)
        } else if needsInputGradient {
            inputGradient.baseAddress!.update(from: featureGradient.baseAddress!, count: count)
        }
    }
}
