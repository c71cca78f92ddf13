import Foundation
import TensorKernels
import Model

/// Hyperparameters of AdamW other than the learning rate (which the schedule supplies per step).
public struct AdamWSettings: Codable, Equatable, Sendable {
    public var beta1: Double
    public var beta2: Double
    public var epsilon: Double
    public var weightDecay: Double

    public init(beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8, weightDecay: Double = 0.01) {
        self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon; self.weightDecay = weightDecay
    }
}

/// AdamW as `torch.optim.AdamW`: decoupled weight decay (`p -= lr·wd·p`) then the
/// bias-corrected Adam step. Only trainable tensors have moments; tensors whose
/// `ParameterTensor.decays` is false (biases, LayerNorm) get no weight decay.
public final class AdamW {
    public let settings: AdamWSettings
    public let spans: TrainableSpans
    /// Number of updates applied so far (torch's `state["step"]`).
    public private(set) var stepCount: Int = 0
    /// Exponential moving averages of the gradient and its square, compact over `spans`.
    public let firstMoments: UnsafeMutableBufferPointer<Float>
    public let secondMoments: UnsafeMutableBufferPointer<Float>
    public var threads: Int

    /// Throws `MemoryBudgetError` when the two moments of `spans` would not fit in memory.
    public init(spans: TrainableSpans, settings: AdamWSettings = AdamWSettings(), threads: Int = 2) throws {
        try MemoryBudget.check(
            MemoryBudget.product(2, spans.elementCount, MemoryLayout<Float>.stride),
            for: "the AdamW moments of \(spans.elementCount) trainable parameters", hint: "train a smaller model")
        self.spans = spans
        self.settings = settings
        self.threads = max(1, threads)
        firstMoments = .allocate(capacity: spans.elementCount)
        firstMoments.initialize(repeating: 0)
        secondMoments = .allocate(capacity: spans.elementCount)
        secondMoments.initialize(repeating: 0)
    }

    deinit {
        firstMoments.deallocate()
        secondMoments.deallocate()
    }

    /// The moments of one trainable tensor, or nil if it is frozen or unknown.
    public func moments(of name: String) -> (first: UnsafeMutableBufferPointer<Float>,
                                              second: UnsafeMutableBufferPointer<Float>)? {
        guard let start = spans.stateOffsets[name],
              let tensor = spans.tensors.first(where: { $0.name == name }) else { return nil }
        return (UnsafeMutableBufferPointer(rebasing: firstMoments[start..<start + tensor.count]),
                UnsafeMutableBufferPointer(rebasing: secondMoments[start..<start + tensor.count]))
    }

    /// Sets the update counter when moments are restored from a checkpoint.
    public func restore(stepCount: Int) {
        self.stepCount = max(0, stepCount)
    }

    /// Counts an update that was not applied (a step whose loss or gradient was not finite): the schedule
    /// moves on, the weights and moments stay as they were.
    public func skipUpdate() { stepCount += 1 }

    /// Applies one AdamW update to the trainable tensors of `parameters` using `gradients · gradientScale`
    /// (both full arenas laid out as `spans` expects; the scale is clipping's factor, `GradientClipping.factor`,
    /// and `gradients` stay as they are). Each tensor steps at `learningRate` times its `spans.rateScales`
    /// factor. `chunks` (default: all) restricts the update to those chunks of the spans: a sharded
    /// optimizer's rank updates its own.
    public func update(parameters: UnsafeMutableBufferPointer<Float>, gradients: UnsafeBufferPointer<Float>,
                       gradientScale: Float = 1, learningRate: Double, chunks: Range<Int>? = nil) {
        stepCount += 1
        let step = Double(stepCount)
        let bias1 = 1 - pow(settings.beta1, step)
        let bias2Sqrt = (1 - pow(settings.beta2, step)).squareRoot()
        guard let p = parameters.baseAddress, let g = gradients.baseAddress,
              let m = firstMoments.baseAddress, let v = secondMoments.baseAddress else { return }
        spans.forEachChunk(threads: threads, chunks: chunks, AdamWUpdate(
            p: p, g: g, gradientScale: gradientScale, m: m, v: v, learningRate: learningRate,
            weightDecay: settings.weightDecay, bias1: bias1,
            oneMinusBeta1: Float(1 - settings.beta1), beta2: Float(settings.beta2),
            oneMinusBeta2: Float(1 - settings.beta2), biasSqrt: Float(bias2Sqrt), eps: Float(settings.epsilon)))
    }
}

/// The update of one chunk's pieces, with the step's scalars.
private struct AdamWUpdate: SpanChunkBody {
    let p: UnsafeMutablePointer<Float>, g: UnsafePointer<Float>, gradientScale: Float
    let m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>
    let learningRate: Double, weightDecay: Double, bias1: Double
    let oneMinusBeta1: Float, beta2: Float, oneMinusBeta2: Float, biasSqrt: Float, eps: Float

    func run(chunk: Int, pieces: [TrainableSpans.Piece]) {
        for piece in pieces {
            // As torch: the scalars are computed in double per parameter group, the tensor arithmetic in float.
            let rate = learningRate * piece.rateScale
            let step = OptimizerKernels.AdamWStep(
                decayFactor: weightDecay != 0 && piece.decays ? Float(1 - rate * weightDecay) : nil,
                stepSize: Float(rate / bias1), oneMinusBeta1: oneMinusBeta1, beta2: beta2, oneMinusBeta2: oneMinusBeta2,
                biasCorrection2Sqrt: biasSqrt, epsilon: eps)
            OptimizerKernels.adamWUpdate(
                parameters: p + piece.arenaStart, gradients: g + piece.arenaStart, gradientScale: gradientScale,
                firstMoments: m + piece.stateStart, secondMoments: v + piece.stateStart, count: piece.count, step: step)
        }
    }
}
