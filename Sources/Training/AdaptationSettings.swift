import Corpus
import Foundation
import Masking
import Optimization
import TensorKernels

/// Everything that defines an adaptation run. It is stored (as JSON) in every checkpoint, so a
/// resumed run continues with exactly the same data order, masking and schedule.
///
/// The one source of every adapt default (the declarations below; `defaults` collects them, and the
/// CLI's help reads them from there) and of every range check (`validate()`, whose messages name
/// the command-line option).
public struct AdaptationSettings: Codable, Equatable, Sendable {
    // Data
    public var corpus: [String] = []
    public var validationCorpus: [String] = []
    /// Fraction of training documents held out when there is no validation corpus.
    public var validationSplit = 0.05
    public var maxSeqLength = 128
    /// The column whose values are the documents of a table corpus file (`.tsv`, `.csv`, `.jsonl`).
    public var textColumn = CorpusOptions.defaultTextColumn
    /// A vocab.txt that extends the starting model's vocabulary (`mlm-adapt vocab --extend`): the model's
    /// tokens at their ids, then new ones, whose embedding rows start as the mean of their old pieces'.
    /// Stored absolute; nil keeps the model's vocabulary.
    public var vocabularyExtension: String? = nil
    // Masking (the strategy's own defaults are `MaskingOptions`')
    public var mask = MaskingStrategyKind.wholeWord
    public var mlmProbability = 0.15
    public var maskBudget = MaskingOptions().budget
    /// Of the selected tokens: replaced by `[MASK]`, by a random token, or kept.
    public var maskRatio = MaskingOptions().maskRatio
    public var randomRatio = MaskingOptions().randomRatio
    public var keepRatio = MaskingOptions().keepRatio
    /// The same masks every epoch.
    public var staticMasking = MaskingOptions().staticMasking
    /// Span masking: geometric span lengths (in words) with this p, at most `maxSpanLength` words.
    public var spanP = MaskingOptions().spanGeometricP
    public var maxSpanLength = MaskingOptions().maxSpanLength
    // Optimisation
    public var batchSize = 16
    public var gradAccum = 1
    public var learningRate = 5e-5
    public var warmup = Warmup.ratio(0.06)
    public var schedule = ScheduleKind.linear
    public var weightDecay = 0.01
    /// 0 disables clipping.
    public var maxGradNorm = 1.0
    /// Exactly one of `maxSteps` and `epochs` is set; a run given neither trains one epoch.
    public var maxSteps: Int? = nil
    public var epochs: Double? = 1
    public var freezeEmbeddings = false
    // Phases and parameter groups
    /// Optimizer steps at the start (counted in the run's steps) that train only the MLM head: the
    /// encoder is frozen and no backward pass runs through it. nil: `automaticHeadWarmupSteps` when the
    /// starting checkpoint has no trained MLM head, else none. A run's stored settings hold the count used.
    public var headWarmupSteps: Int? = nil
    /// Peak learning rate of the head warm-up (linear warmup over its first tenth, then the run's schedule shape).
    public var headWarmupLearningRate = 1e-3
    /// After the warm-up: the MLM head's learning rate (nil: `learningRate`).
    public var headLearningRate: Double? = nil
    /// After the warm-up: the encoder's learning rate (nil: `learningRate`), for its top layer; layer l
    /// of L trains at this × `layerLearningRateDecay`^(L−1−l), the embeddings at this × decay^L.
    public var encoderLearningRate: Double? = nil
    public var layerLearningRateDecay = 1.0
    /// The named recipe whose defaults the run started from (nil: the plain defaults).
    public var recipe: AdaptationRecipe? = nil
    // Evaluation and checkpoints
    /// 0 evaluates only at the start and the end.
    public var evalEvery = 200
    public var evalBatches = 20
    /// A run stops with an error after this many steps in a row with a non-finite loss or gradient norm.
    public var maxBadSteps = 10
    /// A step loss this many times the smoothed loss is reported as a spike.
    public static let lossSpikeFactor = 4.0
    /// 0 saves only at the end.
    public var saveEvery = 500
    public var keepLast = 3
    /// A new run may replace the run already in its output folder (off: it is refused, so nothing is lost).
    public var overwrite = false
    // Runtime
    public var seed = RuntimeDefaults.seed
    public var threads = RuntimeDefaults.threads
    public var precision = RuntimeDefaults.precision
    /// Lowercase input (uncased model); nil takes the model's own setting.
    public var lowercase: Bool? = nil

    /// Every default, for help texts and for filling keys an older checkpoint did not store.
    public static let defaults = AdaptationSettings()

    /// Head warm-up length when the starting checkpoint has no trained MLM head: on all-MiniLM-L6-v2
    /// the held-out loss of a head fitted on frozen features levels off by then (Benchmarks/results/head-warmup.md).
    /// A run of fewer than twice as many steps warms up for half of them.
    public static let automaticHeadWarmupSteps = 200

    /// The defaults, with the corpus and the run length given (`maxSteps` wins over the one-epoch default).
    public init(corpus: [String] = [], maxSteps: Int? = nil, epochs: Double? = nil) {
        self.corpus = corpus
        if maxSteps != nil || epochs != nil {
            self.maxSteps = maxSteps
            self.epochs = epochs
        }
    }

    /// A constant schedule with its warmup in steps gives every step the same rate whatever the run's length,
    /// so only then may a resume change the length.
    var scheduleIgnoresRunLength: Bool {
        guard schedule == .constant, (headWarmupSteps ?? 0) == 0 else { return false }
        switch warmup {
        case .steps: return true
        case .ratio(let r): return r == 0
        }
    }

    /// How the run's batches are masked.
    public var maskingOptions: MaskingOptions {
        MaskingOptions(
            strategy: mask, probability: mlmProbability, budget: maskBudget, maskRatio: maskRatio,
            randomRatio: randomRatio, keepRatio: keepRatio, staticMasking: staticMasking, spanGeometricP: spanP,
            maxSpanLength: maxSpanLength)
    }

    /// The command-line option of each `MaskingOptions` field, so its range errors name the option.
    static let maskingOptionNames = [
        "probability": "--mlm-probability", "maskRatio": "--mask-ratio", "randomRatio": "--random-ratio",
        "keepRatio": "--keep-ratio", "maskRatio + randomRatio + keepRatio": "--mask-ratio + --random-ratio + --keep-ratio",
        "spanGeometricP": "--span-p", "maxSpanLength": "--max-span-length",
    ]

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
        if vocabularyExtension?.isEmpty == true { try fail("--vocab-extension: give a vocab.txt path") }
        if maxSeqLength < 8 || maxSeqLength > 4096 { try fail("--max-seq-length \(maxSeqLength) must be in 8...4096") }
        if !(mlmProbability > 0 && mlmProbability < 1) {
            try fail("--mlm-probability \(mlmProbability) must be strictly between 0 and 1, e.g. 0.15")
        }
        do { try maskingOptions.validate() } catch {
            guard case let .invalidOption(name, value, reason) = error else { try fail(error.description) }
            try fail("\(Self.maskingOptionNames[name] ?? name) \(value) \(reason)")
        }
        if batchSize < 1 { try fail("--batch-size \(batchSize) must be at least 1") }
        if gradAccum < 1 { try fail("--grad-accum \(gradAccum) must be at least 1") }
        // A step's micro-batches are allocated up front, masked ahead of the model: they must fit.
        do {
            try MemoryBudget.check(
                MemoryBudget.product(gradAccum, batchSize, maxSeqLength, TokenBatch.bytesPerToken + MaskedBatch.bytesPerToken),
                for: "the token buffers of --grad-accum \(gradAccum) × --batch-size \(batchSize) × --max-seq-length \(maxSeqLength)",
                hint: "lower --grad-accum or --batch-size")
        } catch { try fail("\(error)") }
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
        if maxBadSteps < 1 { try fail("--max-bad-steps \(maxBadSteps) must be at least 1") }
        if saveEvery < 0 { try fail("--save-every \(saveEvery) must be 0 (end only) or positive") }
        if keepLast < 1 { try fail("--keep-last \(keepLast) must be at least 1") }
        if let n = headWarmupSteps, n < 0 { try fail("--head-warmup-steps \(n) must be 0 (none) or positive") }
        for (option, rate) in [("--head-warmup-lr", Optional(headWarmupLearningRate)), ("--head-lr", headLearningRate),
                               ("--encoder-lr", encoderLearningRate)] {
            if let rate, !(rate > 0 && rate < 1) { try fail("\(option) \(rate) must be in (0, 1), e.g. 1e-4") }
        }
        if !(layerLearningRateDecay > 0 && layerLearningRateDecay <= 1) {
            try fail("--layer-lr-decay \(layerLearningRateDecay) must be in (0, 1]; 1 turns it off")
        }
        if let problem = RuntimeDefaults.threadsProblem(threads) { try fail(problem) }
        if precision == .bf16 {
            do { _ = try precision.resolved() } catch { try fail("\(error)") }
        }
    }

    public func jsonString() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// Reads stored run settings; keys an older version did not store take today's defaults. The
    /// stored text itself is decoded (not re-serialised), so every value reads back exactly.
    public static func decode(json: String, source: String) throws -> AdaptationSettings {
        do {
            guard let stored = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
                  var missing = try JSONSerialization.jsonObject(with: JSONEncoder().encode(defaults)) as? [String: Any],
                  let close = json.lastIndex(of: "}")
            else { throw TrainingError.resume("not a JSON object") }
            for key in stored.keys { missing[key] = nil }
            // The run length is one fact: a stored one replaces the default's, whichever key it uses.
            if stored["maxSteps"] != nil || stored["epochs"] != nil {
                missing["maxSteps"] = nil
                missing["epochs"] = nil
            }
            var text = json
            if !missing.isEmpty {
                let extra = try JSONSerialization.data(withJSONObject: missing, options: [.sortedKeys])
                let fields = String(decoding: extra, as: UTF8.self).dropFirst().dropLast()
                text = String(json[..<close]) + (stored.isEmpty ? "" : ",") + fields + "}"
            }
            return try JSONDecoder().decode(AdaptationSettings.self, from: Data(text.utf8))
        } catch {
            throw TrainingError.resume("\(source): run arguments are not readable (\(error))")
        }
    }
}
