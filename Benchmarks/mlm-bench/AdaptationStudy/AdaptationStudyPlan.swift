import Foundation

/// The models the study compares. All start from the general base; `dapt+tapt` continues from `dapt`.
enum StudyVariant: String, CaseIterable, Sendable {
    case base
    case dapt
    case control
    case tapt
    case daptTapt = "dapt+tapt"

    var summary: String {
        switch self {
        case .base: "the general base (MLM head fitted on general text, encoder frozen)"
        case .dapt: "DAPT: continued MLM on the legal corpus"
        case .control: "control: continued MLM on general text, the DAPT token budget"
        case .tapt: "TAPT: continued MLM on the legal-category training texts"
        case .daptTapt: "DAPT, then TAPT from the DAPT checkpoint"
        }
    }
}

/// A downstream task the variants are fine-tuned on.
struct StudyTask: Equatable, Sendable {
    enum ID: String, CaseIterable, Sendable {
        // The default order: cheapest and most telling first, so a partial study already answers something.
        case legal500 = "legal-500"
        case bbc
        case wnut16
        case legalFull = "legal-full"
    }

    enum Kind: String, Sendable {
        case classify
        case ner

        var fileExtension: String { self == .classify ? "tsv" : "conll" }
    }

    let id: ID
    /// Folder with train/dev/test files.
    var source: String
    /// A random subset of the training file that each fine-tune draws with its own seed (`--max-train-examples`):
    /// the variants of one seed train on the same examples, and the spread over seeds includes the draw. nil: all.
    var trainExamples: Int?
    var epochs: Int
    var learningRate: Double
    var maxSeqLength: Int

    var kind: Kind { id == .wnut16 ? .ner : .classify }
}

/// Every setting of one study, after defaults.
struct AdaptationStudyPlan: Sendable {
    var initModel: String
    var generalCorpus: String
    var legalCorpus: String
    /// The TAPT corpus: a table whose `taptTextColumn` holds the texts (the classification training file).
    var taptCorpus: String
    var taptTextColumn: String
    /// A base model given on the command line; nil: step 0 makes one.
    var givenBase: String?
    var baseSteps: Int
    var daptSteps: Int
    var taptSteps: Int
    var batchSize: Int
    var maxSeqLength: Int
    var mask: String
    /// Pass `--recipe dapt` (dapt, control) or `--recipe tapt` (tapt, dapt+tapt) to the adaptation runs.
    var useRecipes: Bool
    var adaptLearningRate: Double?
    /// More `mlm-adapt` options for every adaptation run (not the base), e.g. a layer-wise lr decay.
    var adaptExtra: [String]
    /// The folder level that keeps one recipe's runs apart from another's.
    var recipeName: String
    var seeds: [UInt64]
    var tasks: [StudyTask]
    var maxValidationExamples: Int?
    var mlmEvalBatches: Int
    var threads: Int?
    var quick: Bool

    var variants: [StudyVariant] { StudyVariant.allCases }

    /// Every adaptation run uses this seed: the variants differ in their data, not their draws.
    static let adaptSeed: UInt64 = 1
    /// Held-out MLM: the corpora each variant is scored on, and the fixed eval settings.
    static let mlmEvalMasks = "whole-word,token"
    static let mlmValidationSplit = 0.05
    /// The adaptation runs' own eval lines are only for their logs (the study scores with `evaluate`).
    static let adaptEvalBatches = 5

    var mlmCorpora: [(name: String, path: String)] { [("legal", legalCorpus), ("general", generalCorpus)] }

    /// "lr-0.0001_layer-lr-decay-0.8": a folder-safe label for the options beyond the default recipe.
    static func recipeLabel(useRecipes: Bool, learningRate: Double?, extra: [String]) -> String {
        let words = (useRecipes ? ["recipes"] : []) + (learningRate.map { ["lr", String($0)] } ?? []) + extra
        guard !words.isEmpty else { return "default" }
        let joined = words.map { $0.hasPrefix("--") ? String($0.dropFirst(2)) : $0 }.joined(separator: "-")
        let safe = String(joined.map { $0.isLetter || $0.isNumber || ".-_".contains($0) ? $0 : "_" })
        return String(safe.prefix(100))
    }

    // MARK: folders

    func variantFolder(_ work: URL, _ variant: StudyVariant) -> URL {
        variant == .base ? work.appendingPathComponent("base")
            : work.appendingPathComponent(recipeName).appendingPathComponent(variant.rawValue)
    }
    /// The adaptation run of a variant (for `base`: step 0, when no --base is given).
    func adaptFolder(_ work: URL, _ variant: StudyVariant) -> URL {
        variantFolder(work, variant).appendingPathComponent("adapt")
    }
    func mlmFolder(_ work: URL, _ variant: StudyVariant, corpus: String) -> URL {
        variantFolder(work, variant).appendingPathComponent("mlm-\(corpus)")
    }
    func fineTuneFolder(_ work: URL, _ variant: StudyVariant, _ task: StudyTask.ID, seed: UInt64) -> URL {
        variantFolder(work, variant).appendingPathComponent(task.rawValue).appendingPathComponent("seed-\(seed)")
    }

    // MARK: commands

    /// The adaptation run of `variant` from `initModel` (the checkpoint of its parent run). The base
    /// (step 0) fits the MLM head on general text with the encoder frozen: max-steps = head-warmup-steps.
    /// The others start with the base's head, so no warm-up, plus the recipe's options.
    func adaptArguments(_ variant: StudyVariant, initModel: String, folder: URL) -> [String] {
        var arguments = ["--corpus", corpus(of: variant)]
        if variant == .tapt || variant == .daptTapt { arguments += ["--text-column", taptTextColumn] }
        arguments += ["--init", initModel]
        let steps = String(steps(of: variant)), seed = String(Self.adaptSeed)
        if variant == .base {
            arguments += ["--head-warmup-steps", steps, "--max-steps", steps, "--seed", seed]
        } else {
            arguments += ["--max-steps", steps, "--seed", seed, "--head-warmup-steps", "0"]
            if useRecipes { arguments += ["--recipe", variant == .tapt || variant == .daptTapt ? "tapt" : "dapt"] }
            if let adaptLearningRate { arguments += ["--lr", String(adaptLearningRate)] }
            arguments += adaptExtra
        }
        return arguments + commonAdaptArguments(folder: folder)
    }

    private func commonAdaptArguments(folder: URL) -> [String] {
        var arguments = [
            "--mask", mask, "--batch-size", String(batchSize), "--max-seq-length", String(maxSeqLength),
            "--eval-every", "0", "--eval-batches", String(Self.adaptEvalBatches), "--save-every", "0", "--keep-last", "1",
            "--output-dir", folder.path,
        ]
        if let threads { arguments += ["--threads", String(threads)] }
        return arguments
    }

    /// The corpus a variant's own adaptation run reads.
    func corpus(of variant: StudyVariant) -> String {
        switch variant {
        case .base, .control: generalCorpus
        case .dapt: legalCorpus
        case .tapt, .daptTapt: taptCorpus
        }
    }

    /// Optimizer steps of a variant's own adaptation run (dapt+tapt: its TAPT part).
    func steps(of variant: StudyVariant) -> Int {
        switch variant {
        case .base: baseSteps
        case .dapt, .control: daptSteps
        case .tapt, .daptTapt: taptSteps
        }
    }

    /// The run a variant continues from (nil: the base model itself).
    func parent(of variant: StudyVariant) -> StudyVariant? {
        switch variant {
        case .base: nil
        case .dapt, .control, .tapt: .base
        case .daptTapt: .dapt
        }
    }

    func evaluateArguments(checkpoint: String, corpus: String) -> [String] {
        var arguments = [
            "evaluate", "--checkpoint", checkpoint, "--corpus", corpus,
            "--validation-split", String(Self.mlmValidationSplit), "--eval-batches", String(mlmEvalBatches),
            "--batch-size", String(batchSize), "--max-seq-length", String(maxSeqLength), "--mask", Self.mlmEvalMasks, "--json",
        ]
        if let threads { arguments += ["--threads", String(threads)] }
        return arguments
    }

    func fineTuneArguments(_ task: StudyTask, files: MLMAdaptRuns.TaskFiles, initModel: String, seed: UInt64, folder: URL)
        -> [String] {
        var training = task.trainExamples.map { ["--max-train-examples", String($0)] } ?? []
        training += ["--epochs", String(task.epochs), "--lr", String(task.learningRate)]
        if task.kind == .classify { training += ["--metric", "macro-f1"] }
        if let maxValidationExamples { training += ["--max-validation-examples", String(maxValidationExamples)] }
        return MLMAdaptRuns.fineTuneArguments(
            task.kind.rawValue, initModel: initModel, files: files, training: training, seed: seed,
            maxSeqLength: task.maxSeqLength, threads: threads, folder: folder)
    }

    /// The fine-tuning runs in the order they run: per task, per seed, every variant, so the paired
    /// comparisons of the first task and seed are complete first.
    var fineTuneOrder: [(task: StudyTask, seed: UInt64, variant: StudyVariant)] {
        tasks.flatMap { task in seeds.flatMap { seed in variants.map { (task, seed, $0) } } }
    }
}
