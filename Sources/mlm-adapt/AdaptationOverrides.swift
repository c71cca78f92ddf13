import ArgumentParser
import Corpus
import Masking
import Optimization
import TensorKernels
import Training

/// The adapt options that set `AdaptationSettings` fields, every one optional so a resumed run can
/// tell "given" from "default". The defaults and ranges are the settings' own: help texts read
/// `AdaptationSettings.defaults`, and `validate()` there is the one range check.
///
/// Adding an option: a field in `AdaptationSettings` (its default, its range check) and here an
/// `@Option` with its help plus one row in `fields`.
struct AdaptationOverrides: ParsableArguments {
    private static let d = AdaptationSettings.defaults

    // Data
    @Option(help: "Training text: a file (.txt, .gz, or a .tsv/.csv/.jsonl table), folder or glob; repeat for more.")
    var corpus: [String] = []

    @Option(help: "Held-out text (file, folder or glob; repeatable) instead of a split of --corpus.")
    var validationCorpus: [String] = []

    @Option(help: "Fraction of --corpus documents held out for evaluation, chosen by hash (default: \(d.validationSplit)).")
    var validationSplit: Double?

    @Option(help: "Tokens per sequence, [CLS] and [SEP] included (default: \(d.maxSeqLength)).")
    var maxSeqLength: Int?

    @Option(help: "Column of a .tsv/.csv/.jsonl corpus whose values are the documents (default: \(d.textColumn)).")
    var textColumn: String?

    @Option(help: "A vocab.txt extending the model's (mlm-adapt vocab --extend): its new tokens get embedding rows that start as the mean of their old pieces' (default: the model's vocabulary).")
    var vocabExtension: String?

    // Masking
    @Option(help: "Which units are masked: single tokens, whole words or spans of words (default: \(d.mask.rawValue)).")
    var mask: MaskingStrategyKind?

    @Option(help: "Fraction of tokens predicted (default: \(d.mlmProbability)).")
    var mlmProbability: Double?

    @Option(help: "Tokens a row gets: exact (round(p·n), as Google BERT) or bernoulli (each with probability p, as HF) (default: \(d.maskBudget.rawValue)).")
    var maskBudget: MaskingBudget?

    @Option(help: "Share of predicted tokens replaced by [MASK] (default: \(d.maskRatio)).")
    var maskRatio: Double?

    @Option(help: "Share replaced by a random token (default: \(d.randomRatio)).")
    var randomRatio: Double?

    @Option(help: "Share left unchanged; the three shares add up to 1 (default: \(d.keepRatio)).")
    var keepRatio: Double?

    @Flag(inversion: .prefixedNo, help: "The same masks every epoch (default: \(d.staticMasking ? "on" : "off"), new masks each epoch).")
    var staticMasking: Bool?

    @Option(help: "Span masking: geometric span-length p, in words (default: \(d.spanP)).")
    var spanP: Double?

    @Option(help: "Span masking: longest span in words (default: \(d.maxSpanLength)).")
    var maxSpanLength: Int?

    // Optimisation
    @Option(help: "Sequences per micro-batch (default: \(d.batchSize)).")
    var batchSize: Int?

    @Option(help: "Micro-batches per optimizer step; gradients are averaged over all masked tokens (default: \(d.gradAccum)).")
    var gradAccum: Int?

    @Option(name: .customLong("lr"), help: "Peak learning rate (default: \(d.learningRate)).")
    var learningRate: Double?

    @Option(help: "Warmup: a ratio of all steps if below 1 (0.06), else a step count (500) (default: \(d.warmup)).")
    var warmup: Warmup?

    @Option(help: "Learning-rate schedule after warmup (default: \(d.schedule.rawValue)).")
    var schedule: ScheduleKind?

    @Option(help: "AdamW decoupled weight decay; none on biases and LayerNorm (default: \(d.weightDecay)).")
    var weightDecay: Double?

    @Option(help: "Clip the global gradient norm to this; 0 disables (default: \(d.maxGradNorm)).")
    var maxGradNorm: Double?

    @Option(help: "Number of optimizer steps.")
    var maxSteps: Int?

    @Option(help: "Number of passes over the training data, instead of --max-steps (default: \(d.epochs ?? 1)).")
    var epochs: Double?

    @Flag(inversion: .prefixedNo,
          help: "Freeze the embeddings (word, position, type, LayerNorm); the tied MLM decoder stays frozen with them.")
    var freezeEmbeddings: Bool?

    // Phases and parameter groups
    @Option(help: "Start from a recipe's defaults (dapt: a domain corpus, one pass; tapt: the task's own training texts, many passes); other options still win.")
    var recipe: AdaptationRecipe?

    @Option(help: "First steps train only the MLM head on the frozen encoder (default: \(AdaptationSettings.automaticHeadWarmupSteps), at most half the run, when the starting model has no trained MLM head, else 0).")
    var headWarmupSteps: Int?

    @Option(name: .customLong("head-warmup-lr"), help: "Peak learning rate of the head warm-up (default: \(d.headWarmupLearningRate)).")
    var headWarmupLearningRate: Double?

    @Option(name: .customLong("head-lr"), help: "Learning rate of the MLM head after the warm-up (default: --lr).")
    var headLearningRate: Double?

    @Option(name: .customLong("encoder-lr"), help: "Learning rate of the top encoder layer (default: --lr).")
    var encoderLearningRate: Double?

    @Option(name: .customLong("layer-lr-decay"), help: "Each lower encoder layer, and then the embeddings, trains at this times the rate above it; 1 is off (default: \(d.layerLearningRateDecay)).")
    var layerLearningRateDecay: Double?

    // Evaluation and checkpoints
    @Option(help: "Evaluate every N steps; 0: only at the start and end (default: \(d.evalEvery)).")
    var evalEvery: Int?

    @Option(help: "Held-out batches per evaluation (default: \(d.evalBatches)).")
    var evalBatches: Int?

    @Option(help: "Stop with an error after N steps in a row with a non-finite loss or gradient norm, each skipped (default: \(d.maxBadSteps)).")
    var maxBadSteps: Int?

    @Option(help: "Save a checkpoint every N steps; 0: only at the end (default: \(d.saveEvery)).")
    var saveEvery: Int?

    @Option(help: "Checkpoints to keep (default: \(d.keepLast)).")
    var keepLast: Int?

    @Flag(inversion: .prefixedNo,
          help: "Replace a run already in --output-dir (default: \(d.overwrite ? "on" : "off"): refused; continue it with --resume).")
    var overwrite: Bool?

    // Model and runtime
    @Flag(help: "Casing (default: the model's tokenizer setting).")
    var casing: Casing?

    @OptionGroup(title: "Runtime")
    var runtime: RuntimeOptions

    @OptionGroup
    var seedOption: SeedOption

    /// Each settings field an option sets: its name, and whether a resume may change it.
    static let fields: [Field] = [
        .paths("--corpus", \.corpus, \.corpus),
        .paths("--validation-corpus", \.validationCorpus, \.validationCorpus),
        .training("--validation-split", \.validationSplit, \.validationSplit),
        .training("--max-seq-length", \.maxSeqLength, \.maxSeqLength),
        .training("--text-column", \.textColumn, \.textColumn),
        .training("--vocab-extension", \.[absolutePath: \.vocabExtension], \.vocabularyExtension),
        .training("--mask", \.mask, \.mask),
        .training("--mlm-probability", \.mlmProbability, \.mlmProbability),
        .training("--mask-budget", \.maskBudget, \.maskBudget),
        .training("--mask-ratio", \.maskRatio, \.maskRatio),
        .training("--random-ratio", \.randomRatio, \.randomRatio),
        .training("--keep-ratio", \.keepRatio, \.keepRatio),
        .training("--[no-]static-masking", \.staticMasking, \.staticMasking),
        .training("--span-p", \.spanP, \.spanP),
        .training("--max-span-length", \.maxSpanLength, \.maxSpanLength),
        .training("--batch-size", \.batchSize, \.batchSize),
        .training("--grad-accum", \.gradAccum, \.gradAccum),
        .training("--lr", \.learningRate, \.learningRate),
        .training("--warmup", \.warmup, \.warmup),
        .training("--schedule", \.schedule, \.schedule),
        .training("--weight-decay", \.weightDecay, \.weightDecay),
        .training("--max-grad-norm", \.maxGradNorm, \.maxGradNorm),
        .training("--[no-]freeze-embeddings", \.freezeEmbeddings, \.freezeEmbeddings),
        .training("--head-warmup-steps", \.headWarmupSteps, \.headWarmupSteps),
        .training("--head-warmup-lr", \.headWarmupLearningRate, \.headWarmupLearningRate),
        .training("--head-lr", \.headLearningRate, \.headLearningRate),
        .training("--encoder-lr", \.encoderLearningRate, \.encoderLearningRate),
        .training("--layer-lr-decay", \.layerLearningRateDecay, \.layerLearningRateDecay),
        .training("--seed", \.seedOption.seed, \.seed),
        .casing("--cased/--uncased", \.casing?.lowercase, \.lowercase),
        .runLength,
        .bookkeeping("--eval-every", \.evalEvery, \.evalEvery),
        .bookkeeping("--eval-batches", \.evalBatches, \.evalBatches),
        .bookkeeping("--max-bad-steps", \.maxBadSteps, \.maxBadSteps),
        .bookkeeping("--save-every", \.saveEvery, \.saveEvery),
        .bookkeeping("--keep-last", \.keepLast, \.keepLast),
        .bookkeeping("--[no-]overwrite", \.overwrite, \.overwrite),
        .bookkeeping("--threads", \.runtime.threads, \.threads),
        .bookkeeping("--precision", \.runtime.precision, \.precision),
    ]

    var givenCorpus: Bool { !corpus.isEmpty }

    /// Combinations of given options that no settings value can express.
    func validate() throws {
        if validationSplit != nil && !validationCorpus.isEmpty {
            throw ValidationError("give --validation-corpus or --validation-split, not both")
        }
    }

    /// The settings of a new run: the given options over `base` (the defaults, or the `--recipe`'s).
    func applied(to base: AdaptationSettings = .defaults) -> AdaptationSettings {
        var settings = recipe?.defaults ?? base
        for field in Self.fields { field.apply(self, &settings) }
        return settings
    }

    /// The given training-defining options that differ from a resumed run's `saved` settings.
    func conflicts(with saved: AdaptationSettings) -> [String] {
        let recipeConflict = recipe.flatMap { $0 == saved.recipe ? nil : "--recipe (the run used \(saved.recipe?.rawValue ?? "none"))" }
        return Self.fields.filter { !$0.mayChangeOnResume }.compactMap { $0.conflict(self, saved) } + [recipeConflict].compactMap { $0 }
    }

    /// The saved settings of the run being resumed, with the given bookkeeping options (steps,
    /// eval, saving, threads, precision) applied. Throws when a training-defining one differs.
    func resumed(_ saved: AdaptationSettings) throws -> AdaptationSettings {
        let conflicts = conflicts(with: saved)
        if !conflicts.isEmpty {
            throw ValidationError("an exact resume keeps the run's settings; these differ: "
                + conflicts.joined(separator: ", ") + ". Start a new run (with --init CHECKPOINT) to change them.")
        }
        var settings = saved
        for field in Self.fields where field.mayChangeOnResume { field.apply(self, &settings) }
        return settings
    }

    /// How one option meets the settings.
    struct Field: Sendable {
        let option: String
        let mayChangeOnResume: Bool
        let apply: @Sendable (AdaptationOverrides, inout AdaptationSettings) -> Void
        let conflict: @Sendable (AdaptationOverrides, AdaptationSettings) -> String?

        static func make<Value: Equatable & Sendable>(
            _ option: String, mayChangeOnResume: Bool, _ given: KeyPath<AdaptationOverrides, Value?> & Sendable,
            _ setting: WritableKeyPath<AdaptationSettings, Value> & Sendable
        ) -> Field {
            Field(
                option: option, mayChangeOnResume: mayChangeOnResume,
                apply: { overrides, settings in
                    if let value = overrides[keyPath: given] { settings[keyPath: setting] = value }
                },
                conflict: { overrides, saved in
                    guard let value = overrides[keyPath: given], value != saved[keyPath: setting] else { return nil }
                    return "\(option) (the run used \(saved[keyPath: setting]))"
                })
        }

        static func training<Value: Equatable & Sendable>(
            _ option: String, _ given: KeyPath<AdaptationOverrides, Value?> & Sendable,
            _ setting: WritableKeyPath<AdaptationSettings, Value> & Sendable
        ) -> Field { make(option, mayChangeOnResume: false, given, setting) }

        /// A setting whose default is "unset" (nil), e.g. a rate that falls back to `--lr`.
        static func training<Value: Equatable & Sendable>(
            _ option: String, _ given: KeyPath<AdaptationOverrides, Value?> & Sendable,
            _ setting: WritableKeyPath<AdaptationSettings, Value?> & Sendable
        ) -> Field { unsettable(option, given, setting, unset: nil) { $0.map { "\($0)" } ?? "none" } }

        static func bookkeeping<Value: Equatable & Sendable>(
            _ option: String, _ given: KeyPath<AdaptationOverrides, Value?> & Sendable,
            _ setting: WritableKeyPath<AdaptationSettings, Value> & Sendable
        ) -> Field { make(option, mayChangeOnResume: true, given, setting) }

        /// A repeatable path option: given when not empty; the paths (and globs) are stored absolute, so a
        /// resume from another working folder reads the same files. A resume compares absolute paths (a
        /// run stored before paths were absolute is taken from the working folder).
        static func paths(
            _ option: String, _ given: KeyPath<AdaptationOverrides, [String]> & Sendable,
            _ setting: WritableKeyPath<AdaptationSettings, [String]> & Sendable
        ) -> Field {
            let stored = make(option, mayChangeOnResume: false, \.[absolutePaths: given], setting)
            return Field(
                option: option, mayChangeOnResume: false, apply: stored.apply,
                conflict: { overrides, saved in
                    var absolute = saved
                    absolute[keyPath: setting] = saved[keyPath: setting].map { CorpusSources.absolute($0) }
                    return stored.conflict(overrides, absolute).map { _ in
                        "\(option) (the run used \(saved[keyPath: setting]))"
                    }
                })
        }

        /// Casing: nil in the settings means the model's own; a resume compares against uncased then,
        /// as the shipped models are.
        static func casing(
            _ option: String, _ given: KeyPath<AdaptationOverrides, Bool?> & Sendable,
            _ setting: WritableKeyPath<AdaptationSettings, Bool?> & Sendable
        ) -> Field { unsettable(option, given, setting, unset: true) { $0 == false ? "--cased" : "--uncased" } }

        /// A training-defining setting that may be nil in the settings: a resume compares the given value
        /// with the saved one, nil read as `unset`, and names the saved one as `spelled` writes it.
        private static func unsettable<Value: Equatable & Sendable>(
            _ option: String, _ given: KeyPath<AdaptationOverrides, Value?> & Sendable,
            _ setting: WritableKeyPath<AdaptationSettings, Value?> & Sendable, unset: Value?,
            spelled: @escaping @Sendable (Value?) -> String
        ) -> Field {
            Field(
                option: option, mayChangeOnResume: false,
                apply: { overrides, settings in
                    if let value = overrides[keyPath: given] { settings[keyPath: setting] = value }
                },
                conflict: { overrides, saved in
                    let used = saved[keyPath: setting] ?? unset
                    guard let value = overrides[keyPath: given], value != used else { return nil }
                    return "\(option) (the run used \(spelled(used)))"
                })
        }

        /// `--max-steps` or `--epochs`: either replaces the run length; giving both fails validation.
        static let runLength = Field(
            option: "--max-steps/--epochs", mayChangeOnResume: true,
            apply: { overrides, settings in
                guard overrides.maxSteps != nil || overrides.epochs != nil else { return }
                settings.maxSteps = overrides.maxSteps
                settings.epochs = overrides.epochs
            },
            conflict: { _, _ in nil })
    }

    subscript(absolutePath path: KeyPath<AdaptationOverrides, String?>) -> String? {
        // An empty path stays empty, for the settings' check to name.
        self[keyPath: path].map { $0.isEmpty ? $0 : CorpusSources.absolute($0) }
    }

    subscript(absolutePaths path: KeyPath<AdaptationOverrides, [String]>) -> [String]? {
        let value = self[keyPath: path]
        return value.isEmpty ? nil : value.map { CorpusSources.absolute($0) }
    }
}
extension AdaptationRecipe: ExpressibleByArgument {}
