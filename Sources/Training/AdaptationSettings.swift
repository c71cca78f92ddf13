import Foundation
import Optimization

/// Which tokens the MLM objective hides.
public enum MaskingKind: String, CaseIterable, Codable, Sendable {
    case token
    case wholeWord = "whole-word"
    case span
}

/// Everything that defines an adaptation run. It is stored (as JSON) in every checkpoint, so a
/// resumed run continues with exactly the same data order, masking and schedule.
public struct AdaptationSettings: Codable, Equatable, Sendable {
    // Data
    public var corpus: [String]
    public var validationCorpus: [String]
    /// Fraction of training documents held out when there is no validation corpus.
    public var validationSplit: Double
    public var maxSeqLength: Int
    // Masking
    public var mask: MaskingKind
    public var mlmProbability: Double
    // Optimisation
    public var batchSize: Int
    public var gradAccum: Int
    public var learningRate: Double
    public var warmup: Warmup
    public var schedule: ScheduleKind
    public var weightDecay: Double
    /// 0 disables clipping.
    public var maxGradNorm: Double
    /// Exactly one of `maxSteps` and `epochs` is set.
    public var maxSteps: Int?
    public var epochs: Double?
    public var freezeEmbeddings: Bool
    // Evaluation and checkpoints
    /// 0 evaluates only at the start and the end.
    public var evalEvery: Int
    public var evalBatches: Int
    /// 0 saves only at the end.
    public var saveEvery: Int
    public var keepLast: Int
    // Runtime
    public var seed: UInt64
    public var threads: Int
    /// Lowercase input (uncased model); nil takes the model's own setting.
    public var lowercase: Bool?

    public init(
        corpus: [String], validationCorpus: [String] = [], validationSplit: Double = 0.05, maxSeqLength: Int = 128,
        mask: MaskingKind = .wholeWord, mlmProbability: Double = 0.15, batchSize: Int = 16, gradAccum: Int = 1,
        learningRate: Double = 5e-5, warmup: Warmup = .ratio(0.06), schedule: ScheduleKind = .linear,
        weightDecay: Double = 0.01, maxGradNorm: Double = 1.0, maxSteps: Int? = nil, epochs: Double? = nil,
        freezeEmbeddings: Bool = false, evalEvery: Int = 200, evalBatches: Int = 20, saveEvery: Int = 500,
        keepLast: Int = 3, seed: UInt64 = 42, threads: Int = 2, lowercase: Bool? = nil
    ) {
        self.corpus = corpus; self.validationCorpus = validationCorpus; self.validationSplit = validationSplit
        self.maxSeqLength = maxSeqLength; self.mask = mask; self.mlmProbability = mlmProbability
        self.batchSize = batchSize; self.gradAccum = gradAccum; self.learningRate = learningRate
        self.warmup = warmup; self.schedule = schedule; self.weightDecay = weightDecay
        self.maxGradNorm = maxGradNorm; self.maxSteps = maxSteps; self.epochs = epochs
        self.freezeEmbeddings = freezeEmbeddings; self.evalEvery = evalEvery; self.evalBatches = evalBatches
        self.saveEvery = saveEvery; self.keepLast = keepLast; self.seed = seed; self.threads = threads
        self.lowercase = lowercase
    }

    /// Checks ranges and combinations; messages name the command-line option.
    public func validate() throws {
        func fail(_ message: String) throws -> Never { throw TrainingError.invalidSetting(message) }
        if corpus.isEmpty { try fail("--corpus: give at least one corpus file, folder or glob") }
        if !(validationSplit >= 0 && validationSplit < 1) {
            try fail("--validation-split \(validationSplit) must be in [0, 1), e.g. 0.05")
        }
        if validationCorpus.isEmpty && validationSplit == 0 {
            try fail("no held-out data: pass --validation-corpus or a --validation-split above 0")
        }
        if maxSeqLength < 8 || maxSeqLength > 4096 { try fail("--max-seq-length \(maxSeqLength) must be in 8...4096") }
        if !(mlmProbability > 0 && mlmProbability < 1) {
            try fail("--mlm-probability \(mlmProbability) must be strictly between 0 and 1, e.g. 0.15")
        }
        if batchSize < 1 { try fail("--batch-size \(batchSize) must be at least 1") }
        if gradAccum < 1 { try fail("--grad-accum \(gradAccum) must be at least 1") }
        if !(learningRate > 0 && learningRate < 1) { try fail("--lr \(learningRate) must be in (0, 1), e.g. 5e-5") }
        if !(weightDecay >= 0 && weightDecay < 1) { try fail("--weight-decay \(weightDecay) must be in [0, 1)") }
        if !(maxGradNorm >= 0 && maxGradNorm.isFinite) {
            try fail("--max-grad-norm \(maxGradNorm) must be 0 (off) or positive")
        }
        switch (maxSteps, epochs) {
        case (nil, nil): try fail("give --max-steps or --epochs")
        case (.some, .some): try fail("give --max-steps or --epochs, not both")
        case (.some(let s), nil) where s < 1: try fail("--max-steps \(s) must be at least 1")
        case (nil, .some(let e)) where !(e > 0 && e.isFinite): try fail("--epochs \(e) must be positive")
        default: break
        }
        if case .ratio(let r) = warmup, !(r >= 0 && r < 1) { try fail("--warmup ratio \(r) must be in [0, 1)") }
        if case .steps(let s) = warmup, s < 0 { try fail("--warmup \(s) steps must not be negative") }
        if evalEvery < 0 { try fail("--eval-every \(evalEvery) must be 0 (start and end only) or positive") }
        if evalBatches < 1 { try fail("--eval-batches \(evalBatches) must be at least 1") }
        if saveEvery < 0 { try fail("--save-every \(saveEvery) must be 0 (end only) or positive") }
        if keepLast < 1 { try fail("--keep-last \(keepLast) must be at least 1") }
        if threads < 1 || threads > 256 { try fail("--threads \(threads) must be in 1...256") }
    }

    public func jsonString() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    public static func decode(json: String, source: String) throws -> AdaptationSettings {
        do { return try JSONDecoder().decode(AdaptationSettings.self, from: Data(json.utf8)) } catch {
            throw TrainingError.resume("\(source): run arguments are not readable (\(error))")
        }
    }
}
