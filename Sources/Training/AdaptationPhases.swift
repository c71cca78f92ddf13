import Foundation
import Model
import Optimization

/// The two phases of an adaptation run: an optional head warm-up, in which only the MLM head trains on the
/// frozen encoder (a randomly initialised head would otherwise send large, noisy gradients into the
/// pretrained encoder), then everything trains with the run's parameter groups. Each phase has its own
/// AdamW state and schedule, so a run resumes exactly on either side of the boundary.
enum AdaptationPhase: String, Sendable {
    case headWarmup = "head-warmup"
    case full

    /// The head tensors a warm-up trains: transform dense, its LayerNorm and the decoder bias (the decoder
    /// weight is the word-embedding table, frozen with the encoder).
    static let headPrefix = "cls.predictions."

    /// The phase that the update after `completedSteps` updates belongs to.
    static func at(step completedSteps: Int, headWarmupSteps: Int) -> AdaptationPhase {
        completedSteps < headWarmupSteps ? .headWarmup : .full
    }

    /// Updates before this phase starts.
    func firstStep(headWarmupSteps: Int) -> Int { self == .headWarmup ? 0 : headWarmupSteps }

    /// The tensors that train, each with its learning rate as a multiple of the phase's schedule, and what
    /// the backward pass may skip.
    func trainables(_ settings: AdaptationSettings, layout: ParameterLayout) -> (spans: TrainableSpans, frozen: FrozenBottom) {
        let layers = layout.config.numHiddenLayers
        switch self {
        case .headWarmup:
            return (TrainableSpans(layout: layout) { $0.name.hasPrefix(Self.headPrefix) }, .embeddingsAndLayers(layers))
        case .full:
            let groups = LearningRateGroups(settings: settings, layers: layers)
            let spans = TrainableSpans(
                layout: layout, isTrainable: { !(settings.freezeEmbeddings && $0.name.hasPrefix("bert.embeddings.")) },
                rateScale: { groups.scale(of: $0.name) })
            return (spans, settings.freezeEmbeddings ? .embeddingsAndLayers(0) : .nothing)
        }
    }

    /// The phase's learning rate over its own updates.
    func schedule(_ settings: AdaptationSettings, totalSteps: Int, headWarmupSteps: Int) -> LearningRateSchedule {
        switch self {
        case .headWarmup:
            return LearningRateSchedule(
                kind: settings.schedule, peakRate: settings.headWarmupLearningRate,
                warmupSteps: Int((Double(headWarmupSteps) / 10).rounded(.up)), totalSteps: headWarmupSteps)
        case .full:
            let steps = totalSteps - headWarmupSteps
            return LearningRateSchedule(
                kind: settings.schedule, peakRate: settings.learningRate,
                warmupSteps: settings.warmup.steps(totalSteps: steps), totalSteps: steps)
        }
    }
}

/// Learning rates by parameter group after the warm-up, as multiples of `--lr` (the schedule's peak):
/// the MLM head at `--head-lr`; encoder layer l of L at `--encoder-lr` × decay^(L−1−l), the top layer
/// undecayed, as ELECTRA's and DeBERTa's layer-wise decay; the embeddings one step below the bottom layer.
struct LearningRateGroups {
    let learningRate: Double
    let headRate: Double
    let encoderRate: Double
    let decay: Double
    let layers: Int

    init(settings: AdaptationSettings, layers: Int) {
        learningRate = settings.learningRate
        headRate = settings.headLearningRate ?? settings.learningRate
        encoderRate = settings.encoderLearningRate ?? settings.learningRate
        decay = settings.layerLearningRateDecay
        self.layers = layers
    }

    /// The learning rate of tensor `name` at the schedule's peak.
    func peakRate(of name: String) -> Double {
        if name.hasPrefix(AdaptationPhase.headPrefix) { return headRate }
        if name.hasPrefix("bert.embeddings.") { return encoderRate * pow(decay, Double(layers)) }
        if let layer = Self.layerIndex(name) { return encoderRate * pow(decay, Double(layers - 1 - layer)) }
        return encoderRate
    }

    func scale(of name: String) -> Double { peakRate(of: name) / learningRate }

    /// l of `bert.encoder.layer.l.…`.
    static func layerIndex(_ name: String) -> Int? {
        let prefix = "bert.encoder.layer."
        guard name.hasPrefix(prefix) else { return nil }
        return Int(name.dropFirst(prefix.count).prefix { $0.isNumber })
    }
}
