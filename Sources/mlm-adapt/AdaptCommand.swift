import ArgumentParser
import Checkpoint
import Foundation
import Model
import Reporting
import TensorKernels
import Training

/// `mlm-adapt [adapt]`: domain-adaptive continued MLM pretraining.
struct Adapt: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "adapt",
        abstract: "Continue masked-LM pretraining of a BERT model on a domain corpus (the default command).",
        discussion: """
            Example: mlm-adapt --corpus Corpora/legal.txt --mask whole-word --max-steps 300
            Starts from --init (default: cache/models/all-MiniLM-L6-v2, fetched by Corpora/fetch.sh), evaluates \
            held-out MLM loss, perplexity and accuracy under token and whole-word masking, and writes \
            step-N.safetensors.gz checkpoints and metrics.jsonl to --output-dir. Ctrl-C saves a checkpoint; \
            --resume continues exactly where it stopped.
            """)

    static let defaultInit = RepositoryFiles.baseModel

    // Data
    @Option(help: "Training text: a file (.txt, .gz), folder or glob; repeat for more.")
    var corpus: [String] = []

    @Option(help: "Held-out text (file, folder or glob; repeatable) instead of a split of --corpus.")
    var validationCorpus: [String] = []

    @Option(help: "Fraction of --corpus documents held out for evaluation, chosen by hash (default: 0.05).")
    var validationSplit: Double?

    @Option(help: "Tokens per sequence, [CLS] and [SEP] included (default: 128).")
    var maxSeqLength: Int?

    // Masking
    @Option(help: "Masking: token, whole-word or span (default: whole-word).")
    var mask: MaskingKind?

    @Option(help: "Fraction of tokens predicted (default: 0.15).")
    var mlmProbability: Double?

    @OptionGroup(title: "Optimisation")
    var optimization: OptimizationOptions

    @Flag(help: "Freeze the embeddings (word, position, type, LayerNorm); the tied MLM decoder stays frozen with them.")
    var freezeEmbeddings = false

    // Evaluation and checkpoints
    @Option(help: "Evaluate every N steps; 0: only at the start and end (default: 200).")
    var evalEvery: Int?

    @Option(help: "Held-out batches per evaluation (default: 20).")
    var evalBatches: Int?

    @Option(help: "Save a checkpoint every N steps; 0: only at the end (default: 500).")
    var saveEvery: Int?

    @Option(help: "Checkpoints to keep (default: 3).")
    var keepLast: Int?

    @Option(help: "Output folder (default: runs/<yyyy-mm-dd-HHMMSS>-adapt-<corpus>-<mask>; when resuming, the checkpoint's folder).")
    var outputDir: String?

    // Model
    @Option(name: .customLong("init"),
            help: "Starting model: a run folder or its `latest`, a .safetensors(.gz) file, an HF or sentence-transformers folder (default: \(Adapt.defaultInit)).")
    var initFrom: String?

    @Option(help: "vocab.txt for a model trained from scratch (with --config).")
    var vocab: String?

    @Option(help: "config.json for a model trained from scratch (with --vocab).")
    var config: String?

    @Flag(help: "Casing (default: the model's tokenizer setting).")
    var casing: Casing?

    @Option(help: "Continue a run: its output folder (uses `latest`) or a step-N.safetensors.gz checkpoint.")
    var resume: String?

    @OptionGroup(title: "Runtime")
    var runtime: RuntimeOptions

    func validate() throws {
        if resume == nil && corpus.isEmpty {
            throw ValidationError("give --corpus FILE (or --resume RUN_DIR to continue a run)")
        }
        if let validationSplit, !(validationSplit >= 0 && validationSplit < 1) {
            throw ValidationError("--validation-split \(validationSplit) must be in [0, 1), e.g. 0.05")
        }
        if validationSplit != nil && !validationCorpus.isEmpty {
            throw ValidationError("give --validation-corpus or --validation-split, not both")
        }
        if let mlmProbability, !(mlmProbability > 0 && mlmProbability < 1) {
            throw ValidationError("--mlm-probability \(mlmProbability) must be strictly between 0 and 1, e.g. 0.15")
        }
        if let maxSeqLength, maxSeqLength < 8 || maxSeqLength > 4096 {
            throw ValidationError("--max-seq-length \(maxSeqLength) must be in 8...4096 (and within the model's positions)")
        }
        if let evalEvery, evalEvery < 0 { throw ValidationError("--eval-every \(evalEvery) must be 0 or positive") }
        if let evalBatches, evalBatches < 1 { throw ValidationError("--eval-batches \(evalBatches) must be at least 1") }
        if let saveEvery, saveEvery < 0 { throw ValidationError("--save-every \(saveEvery) must be 0 or positive") }
        if let keepLast, keepLast < 1 { throw ValidationError("--keep-last \(keepLast) must be at least 1") }
        if (vocab == nil) != (config == nil) {
            throw ValidationError("training from scratch needs both --vocab and --config")
        }
        if vocab != nil && initFrom != nil {
            throw ValidationError("give --init (a pretrained model) or --vocab/--config (from scratch), not both")
        }
        if resume != nil && (initFrom != nil || vocab != nil) {
            throw ValidationError("--resume continues from its checkpoint; drop --init/--vocab/--config")
        }
    }

    /// Settings for a new run: given options over the defaults.
    func newSettings() -> AdaptationSettings {
        let o = optimization
        var s = AdaptationSettings(corpus: corpus)
        s.validationCorpus = validationCorpus
        if let v = validationSplit { s.validationSplit = v }
        if let v = maxSeqLength { s.maxSeqLength = v }
        if let v = mask { s.mask = v }
        if let v = mlmProbability { s.mlmProbability = v }
        if let v = o.batchSize { s.batchSize = v }
        if let v = o.gradAccum { s.gradAccum = v }
        if let v = o.learningRate { s.learningRate = v }
        if let v = o.warmup { s.warmup = v }
        if let v = o.schedule { s.schedule = v }
        if let v = o.weightDecay { s.weightDecay = v }
        if let v = o.maxGradNorm { s.maxGradNorm = v }
        s.maxSteps = o.maxSteps
        s.epochs = o.maxSteps == nil ? (o.epochs ?? 1) : nil
        s.freezeEmbeddings = freezeEmbeddings
        if let v = evalEvery { s.evalEvery = v }
        if let v = evalBatches { s.evalBatches = v }
        if let v = saveEvery { s.saveEvery = v }
        if let v = keepLast { s.keepLast = v }
        s.seed = runtime.resolvedSeed
        s.threads = runtime.resolvedThreads
        s.lowercase = casing?.lowercase
        return s
    }

    /// The saved settings of the run being resumed. Options that only steer bookkeeping (steps,
    /// eval, saving, threads) may change; any that would change the training itself must not.
    func resumedSettings(saved: AdaptationSettings) throws -> AdaptationSettings {
        var s = saved
        var conflicts: [String] = []
        func check<T: Equatable>(_ given: T?, _ current: T, _ name: String) {
            if let given, given != current { conflicts.append("\(name) (the run used \(current))") }
        }
        let o = optimization
        check(corpus.isEmpty ? nil : corpus, saved.corpus, "--corpus")
        check(validationCorpus.isEmpty ? nil : validationCorpus, saved.validationCorpus, "--validation-corpus")
        check(validationSplit, saved.validationSplit, "--validation-split")
        check(maxSeqLength, saved.maxSeqLength, "--max-seq-length")
        check(mask, saved.mask, "--mask")
        check(mlmProbability, saved.mlmProbability, "--mlm-probability")
        check(o.batchSize, saved.batchSize, "--batch-size")
        check(o.gradAccum, saved.gradAccum, "--grad-accum")
        check(o.learningRate, saved.learningRate, "--lr")
        check(o.warmup, saved.warmup, "--warmup")
        check(o.schedule, saved.schedule, "--schedule")
        check(o.weightDecay, saved.weightDecay, "--weight-decay")
        check(o.maxGradNorm, saved.maxGradNorm, "--max-grad-norm")
        check(freezeEmbeddings ? true : nil, saved.freezeEmbeddings, "--freeze-embeddings")
        check(runtime.seed, saved.seed, "--seed")
        check(casing?.lowercase, saved.lowercase ?? true, "--cased/--uncased")
        if !conflicts.isEmpty {
            throw ValidationError("an exact resume keeps the run's settings; these differ: "
                + conflicts.joined(separator: ", ") + ". Start a new run (with --init CHECKPOINT) to change them.")
        }
        if let steps = o.maxSteps { s.maxSteps = steps; s.epochs = nil }
        if let epochs = o.epochs { s.epochs = epochs; s.maxSteps = nil }
        if let v = evalEvery { s.evalEvery = v }
        if let v = evalBatches { s.evalBatches = v }
        if let v = saveEvery { s.saveEvery = v }
        if let v = keepLast { s.keepLast = v }
        s.threads = runtime.resolvedThreads
        return s
    }

    func modelSource() throws -> ModelSource {
        if let vocab, let config {
            return .scratch(vocabulary: URL(fileURLWithPath: vocab), config: URL(fileURLWithPath: config))
        }
        guard let path = initFrom else {
            let located: URL
            do {
                located = try RepositoryFiles.locate(Self.defaultInit, hint: """
                    run Corpora/fetch.sh there to download it, or pass --init MODEL (a run folder, a .safetensors(.gz) \
                    file, an HF or sentence-transformers folder), or --vocab V --config C to train from scratch.
                    """)
            } catch { throw ValidationError("the default base model: \(error)") }
            return .checkpoint(try CheckpointReference.resolve(located))
        }
        guard FileManager.default.fileExists(atPath: path) else {
            throw ValidationError("--init \(path): no such file or folder")
        }
        return .checkpoint(try CheckpointReference.resolve(path))
    }

    func run() throws {
        var settings: AdaptationSettings
        let source: ModelSource
        var resumed: LoadedCheckpoint?
        if let resume {
            // Opened once: its settings, weights and training state all come from this read.
            let checkpoint = try CheckpointReference.resolve(resume).open()
            settings = try resumedSettings(saved: try Adaptation.resumeSettings(from: checkpoint))
            resumed = checkpoint
            source = .checkpoint(checkpoint.reference)
        } else {
            settings = newSettings()
            source = try modelSource()
        }
        do { try settings.validate() } catch let error as TrainingError { throw ValidationError(error.description) }
        let output = outputDir.map { URL(fileURLWithPath: $0) }
            ?? resumed?.reference.weights.deletingLastPathComponent()
            ?? RunDirectory.defaultURL(corpus: settings.corpus, mask: settings.mask)

        logLine(OpenBLASRuntime.kernelDescription)
        OpenBLASRuntime.setThreads(settings.threads)
        Parallel.workerCount = settings.threads

        let stop = StopSignal()
        stop.install()
        defer { stop.uninstall() }

        let adaptation = try Adaptation(settings: settings, source: source, resume: resumed, outputDirectory: output,
                                        stop: stop)
        let summary = try adaptation.run()
        printSummary(summary)
        if summary.stoppedBySignal {
            throw ExitCode(128 + stop.signalNumber)
        }
    }

    func printSummary(_ s: AdaptationSummary) {
        var lines: [String] = []
        let stepsRun = s.finalStep - s.startStep
        lines.append("")
        if s.stoppedBySignal {
            lines.append("stopped at step \(s.finalStep) of \(s.totalSteps).")
        }
        lines.append("steps \(s.startStep)→\(s.finalStep) (\(stepsRun) run) in \(formatDuration(s.wallSeconds)) "
            + "(training \(formatDuration(s.trainingSeconds))), \(Int(s.tokensPerSecond.rounded())) tokens/s")
        func describe(_ results: [(scheme: String, metrics: EvalMetrics)]) -> String {
            results.map { "\($0.scheme) loss \(String(format: "%.4f", $0.metrics.loss)) ppl "
                + String(format: "%.2f", $0.metrics.perplexity) + " acc " + String(format: "%.2f%%", 100 * $0.metrics.accuracy) }
                .joined(separator: "; ")
        }
        if !s.firstEval.isEmpty && s.startStep == 0 { lines.append("eval before: " + describe(s.firstEval)) }
        if !s.lastEval.isEmpty { lines.append("eval after:  " + describe(s.lastEval)) }
        if let best = s.bestEvalLoss, let step = s.bestEvalStep {
            lines.append("best \(s.primaryScheme) eval loss \(String(format: "%.4f", best)) at step \(step)")
        }
        if let times = s.checkpointWriteSeconds.last, let bytes = s.checkpointBytes {
            lines.append("checkpoint: \(String(format: "%.1f", Double(bytes) / 1_048_576)) MiB, written in "
                + String(format: "%.1f", times) + " s")
        }
        for url in s.checkpoints { lines.append("  \(url.path)") }
        lines.append("metrics: \(s.outputDirectory.appendingPathComponent(RunDirectory.metricsFileName).path)")
        lines.append("report: \(s.reportURL.path)")
        if let last = s.lastCheckpoint, s.stoppedBySignal || s.finalStep < s.totalSteps {
            lines.append("saved \(last.path); resume with: mlm-adapt --resume \(s.outputDirectory.path)")
        }
        FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }
}
