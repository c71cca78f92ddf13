import Foundation
import Model

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

    /// Pooler output (tanh), dropout mask, dropped features, logits, probabilities, their gradients.
    let pooled: UnsafeMutableBufferPointer<Float>
    let keep: UnsafeMutableBufferPointer<UInt8>
    let dropped: UnsafeMutableBufferPointer<Float>
    let logits: UnsafeMutableBufferPointer<Float>
    public let probabilities: UnsafeMutableBufferPointer<Float>
    let logitsGradient: UnsafeMutableBufferPointer<Float>
    let featureGradient: UnsafeMutableBufferPointer<Float>
    /// d loss / d input, `[rows, hidden]`, filled by `backward`.
    public let inputGradient: UnsafeMutableBufferPointer<Float>
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
        keep = .allocate(capacity: features); keep.initialize(repeating: 0)
        dropped = .allocate(capacity: features); dropped.initialize(repeating: 0)
        featureGradient = .allocate(capacity: features); featureGradient.initialize(repeating: 0)
        inputGradient = .allocate(capacity: features); inputGradient.initialize(repeating: 0)
        logits = .allocate(capacity: maxRows * classes); logits.initialize(repeating: 0)
        probabilities = .allocate(capacity: maxRows * classes); probabilities.initialize(repeating: 0)
        logitsGradient = .allocate(capacity: maxRows * classes); logitsGradient.initialize(repeating: 0)
    }

    deinit {
        for buffer in [pooled, dropped, featureGradient, inputGradient, logits, probabilities, logitsGradient] {
            buffer.deallocate()
        }
        keep.deallocate()
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
            HeadKernels.linearForward(
                x: input, rows: rows, inFeatures: hiddenSize, weight: p + poolerWeight.offset, bias: p + poolerBias.offset,
                outFeatures: hiddenSize, out: out)
            for i in 0..<count { out[i] = tanhf(out[i]) }
            features = UnsafePointer(out)
        }
        let probability = training ? dropoutProbability : 0
        HeadKernels.dropoutForward(
            x: features, count: count, probability: probability, seed: dropoutSeed, keep: keep.baseAddress!,
            out: dropped.baseAddress!)
        HeadKernels.linearForward(
            x: dropped.baseAddress!, rows: rows, inFeatures: hiddenSize, weight: p + classifierWeight.offset,
            bias: p + classifierBias.offset, outFeatures: classes, out: logits.baseAddress!)
        return HeadKernels.softmaxCrossEntropy(
            logits: logits.baseAddress!, rows: rows, classes: classes, labels: labels, classWeights: classWeights,
            probabilities: probabilities.baseAddress!, logitsGradient: training ? logitsGradient.baseAddress! : nil)
    }

    /// Back-propagates the last training `forward`: adds the head's weight gradients into `gradients` and, when
    /// `needsInputGradient`, writes d loss / d input to `inputGradient`.
    public func backward(
        parameters: UnsafeMutableBufferPointer<Float>, gradients: UnsafeMutableBufferPointer<Float>, needsInputGradient: Bool
    ) {
        guard let p = parameters.baseAddress, let g = gradients.baseAddress, let input else { return }
        let count = rows * hiddenSize
        HeadKernels.linearBackward(
            x: dropped.baseAddress!, rows: rows, inFeatures: hiddenSize, weight: p + classifierWeight.offset,
            outFeatures: classes, outGradient: logitsGradient.baseAddress!, inputGradient: featureGradient.baseAddress!,
            weightGradient: g + classifierWeight.offset, biasGradient: g + classifierBias.offset)
        HeadKernels.dropoutBackward(
            gradient: featureGradient.baseAddress!, count: count, probability: dropoutProbability, keep: keep.baseAddress!)
        if let poolerWeight, let poolerBias {
            // tanh' = 1 - tanh².
            for i in 0..<count { featureGradient[i] *= 1 - pooled[i] * pooled[i] }
            HeadKernels.linearBackward(
                x: input, rows: rows, inFeatures: hiddenSize, weight: p + poolerWeight.offset, outFeatures: hiddenSize,
                outGradient: featureGradient.baseAddress!, inputGradient: needsInputGradient ? inputGradient.baseAddress! : nil,
                weightGradient: g + poolerWeight.offset, biasGradient: g + poolerBias.offset)
        } else if needsInputGradient {
            inputGradient.baseAddress!.update(from: featureGradient.baseAddress!, count: count)
        }
    }
}
