import ArgumentParser
import Checkpoint
import Corpus
import DataParallel
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
            Data-parallel: mpirun -np N mlm-adapt … trains on N processes (Open MPI, loaded at run time); \
            --batch-size stays the global batch (N must divide it), and --threads defaults to the rank's share of \
            its machine (the cores mpirun bound it to, or the machine's cores divided among its ranks).
            """)

    static let defaultInit = RepositoryFiles.baseModel

    @OptionGroup
    var options: AdaptationOverrides

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

    @Option(help: "Continue a run: its output folder (uses `latest`) or a step-N.safetensors.gz checkpoint.")
    var resume: String?

    /// Where the model comes from. The settings' ranges are checked once, by `AdaptationSettings.validate()`
    /// when the run is set up (its errors are usage errors, naming the option).
    func validate() throws {
        if resume == nil && !options.givenCorpus {
            throw ValidationError("give --corpus FILE (or --resume RUN_DIR to continue a run)")
        }
        if vocab != nil && initFrom != nil {
            throw ValidationError("give --init (a pretrained model) or --vocab/--config (from scratch), not both; "
                + "to extend the vocabulary of --init, pass --vocab-extension V.txt")
        }
        if (vocab == nil) != (config == nil) {
            throw ValidationError("training from scratch needs both --vocab and --config")
        }
        if options.corpus.count(where: { $0 == CorpusSources.standardInput }) > 1
            || options.validationCorpus.contains(CorpusSources.standardInput) {
            throw ValidationError("standard input (-) can be read once: give it to --corpus only, and once")
        }
        if resume != nil && (initFrom != nil || vocab != nil) {
            throw ValidationError("--resume continues from its checkpoint; drop --init/--vocab/--config")
        }
    }

    /// The run's settings: the given options over the defaults for a new run, or over the saved
    /// settings of the run being resumed (refusing training-defining changes).
    func settings(resumed saved: AdaptationSettings?) throws -> AdaptationSettings {
        try saved.map { try options.resumed($0) } ?? options.applied(to: .defaults)
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
        let group: ProcessGroup
        do { group = try ProcessGroup.start() } catch { throw CommandError("\(error)") }
        guard group.usesMPI else { return try train(group: group) }
        // A failure on one rank must end them all (the others would wait in the next collective call).
        do {
            try train(group: group)
            group.finalize()
        } catch let exit as ExitCode {
            group.finalize()
            throw exit
        } catch {
            logLine("Error: rank \(group.rank) of \(group.size): \(error)")
            group.abort(code: 1)
        }
    }

    func train(group: ProcessGroup) throws {
        var settings: AdaptationSettings
        let source: ModelSource
        var resumed: LoadedCheckpoint?
        if let resume {
            // Opened once: its settings, weights and training state all come from this read.
            let checkpoint = try CheckpointReference.resolve(resume).open()
            settings = try self.settings(resumed: try Adaptation.resumeSettings(from: checkpoint))
            resumed = checkpoint
            source = .checkpoint(checkpoint.reference)
        } else {
            settings = try self.settings(resumed: nil)
            source = try modelSource()
        }
        let output = try outputDir.map(outputFolder)
            ?? resumed?.reference.weights.deletingLastPathComponent()
            ?? RunDirectory.defaultURL(
                corpus: settings.corpus.map { $0 == CorpusSources.standardInput ? "stdin" : $0 }, mask: settings.mask)
        if group.isDistributed && settings.corpus.contains(CorpusSources.standardInput) {
            throw CommandError("--corpus -: under mpirun only rank 0 gets standard input; save it to a file every rank can read")
        }
        if group.usesMPI {
            if options.runtime.threads == nil {
                settings.threads = group.defaultThreads(cores: RuntimeDefaults.threads)
            }
            if group.isLeader, let bound = ProcessGroup.boundCores {
                let share = max(1, RuntimeDefaults.threads / group.localRanks)
                if bound < settings.threads {
                    logLine("warning: rank 0 is bound to \(bound) core(s) but runs \(settings.threads) threads; "
                        + "start mpirun with --bind-to none (or --map-by ppr:1:node:PE=\(settings.threads)) to give each rank its cores")
                } else if bound < share {
                    logLine("note: mpirun bound rank 0 to \(bound) core(s) of the \(share) that are its share of this machine; "
                        + "start mpirun with --bind-to none to use them all")
                }
            }
        }
        // Standard input is read once, into the run folder, so the held-out split, every epoch and a
        // resume read the same text (the stored settings name the copy).
        if let index = settings.corpus.firstIndex(of: CorpusSources.standardInput) {
            settings.corpus[index] = try CorpusSources.spoolStandardInput(into: output, replacing: settings.overwrite)
            logLine("corpus: standard input copied to \(settings.corpus[index])")
        }
        try Self.checkCorpus(settings.corpus)
        try Self.checkCorpus(settings.validationCorpus)

        if group.isLeader { logLine(OpenBLASRuntime.kernelDescription) }
        let stop = StopSignal()
        stop.install()
        defer { stop.uninstall() }

        // Before the run is set up, so that oneDNN primitives are created for this thread count.
        OpenBLASRuntime.setThreads(settings.threads)
        let adaptation: Adaptation
        do {
            adaptation = try Adaptation(settings: settings, source: source, resume: resumed, outputDirectory: output,
                                        stop: stop, group: group)
        } catch TrainingError.invalidSetting(let message) { throw ValidationError(message) }
        let summary = try adaptation.run()
        if group.isLeader { printSummary(summary, ranks: group.size) }
        if summary.stoppedBySignal {
            throw ExitCode(128 + stop.signalNumber)
        }
    }

    /// Before the run: the files `specs` name exist, each is read once (a repeat is logged), and all are
    /// UTF-8 text (else an error naming the file, line and byte).
    static func checkCorpus(_ specs: [String]) throws {
        guard !specs.isEmpty else { return }
        let resolved = try CorpusSources.resolve(specs)
        var logged = Set<String>()
        for duplicate in resolved.duplicates {
            let line = duplicate.repeated == duplicate.first
                ? "corpus: \(duplicate.first) is named more than once; read once"
                : "corpus: \(duplicate.repeated) is the same file as \(duplicate.first); read once"
            if logged.insert(line).inserted { logLine(line) }
        }
        if let problem = try TextCheck.firstProblem(in: resolved.files) { throw CommandError(problem.description) }
    }

    /// `ranks` > 1: the resume command is an mpirun one (another number of ranks also resumes exactly).
    func printSummary(_ s: AdaptationSummary, ranks: Int = 1) {
        var lines: [String] = []
        let stepsRun = s.finalStep - s.startStep
        lines.append("")
        if s.stoppedBySignal {
            lines.append("stopped at step \(s.finalStep) of \(s.totalSteps).")
        }
        lines.append("steps \(s.startStep)→\(s.finalStep) (\(stepsRun) run) in \(formatDuration(s.wallSeconds)) "
            + "(training \(formatDuration(s.trainingSeconds))), \(Int(s.tokensPerSecond.rounded())) tokens/s")
        func describe(_ results: [SchemeMetrics]) -> String {
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
            lines.append("saved \(last.path); resume with: \(ranks > 1 ? "mpirun -np \(ranks) " : "")mlm-adapt --resume \(s.outputDirectory.path)")
        }
        FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }
}
