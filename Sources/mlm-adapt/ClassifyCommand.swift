import ArgumentParser
import Classification
import Foundation
import Optimization
import Reporting
import TensorKernels

/// Options shared by `classify` and `ner`.
struct FineTuneArguments: ParsableArguments {
    @Option(help: "Starting model: an `adapt` run folder or its `latest`, a .safetensors(.gz) file, an HF or sentence-transformers folder (default: \(RepositoryFiles.baseModel) of the repository).")
    var `init`: String?

    @Option(help: "Training file.")
    var train: String

    @Option(help: "Dev file: picks the best epoch and drives early stopping.")
    var validation: String

    @Option(help: "Test file, scored once with the best epoch's weights.")
    var test: String?

    @Option(help: "Epochs.")
    var epochs = 3

    @Option(help: "Examples per batch.")
    var batchSize = 16

    @Option(help: "Peak learning rate.")
    var lr = 5e-5

    @Option(help: "Warmup: a ratio of all steps if below 1 (0.1), else a step count (500).")
    var warmup: Warmup = .ratio(0.1)

    @Option(help: "Learning-rate schedule after warmup: linear, cosine or constant.")
    var schedule: ScheduleKind = .linear

    @Option(help: "Batches per optimizer step; the gradient is the mean over all their examples.")
    var gradAccum = 1

    @Option(help: "Clip the global gradient norm to this; 0 disables.")
    var maxGradNorm = 1.0

    @Option(help: "AdamW weight decay.")
    var weightDecay = 0.01

    @Option(help: "Stop after this many epochs without a better dev score; 0 trains every epoch.")
    var patience = 2

    @Option(help: "Tokens per example, [CLS] and [SEP] included; longer ones are cut.")
    var maxSeqLength = 128

    @Option(help: "Train on a seeded random subset of this many examples.")
    var maxTrainExamples: Int?

    @Option(help: "Pick the best epoch on a seeded random subset of this many dev examples (the test set is scored whole).")
    var maxValidationExamples: Int?

    @Option(parsing: .upToNextOption, help: "Freeze parts of the encoder: 'embeddings'.")
    var freeze: [String] = []

    @Option(help: "Freeze the embeddings and the bottom N encoder layers.")
    var freezeLayers = 0

    @Flag(help: "Freeze the whole encoder: train the pooler and classifier on fixed features (a baseline).")
    var freezeEncoder = false

    @Option(help: "Where report.json, summary.json, report.html and model.safetensors.gz go (default: runs/<yyyy-mm-dd-HHMMSS>-<command>-<training data>).")
    var outputDir: String?

    @Flag(help: "Do not write the fine-tuned checkpoint (report only).")
    var noSave = false

    @OptionGroup(title: "Runtime")
    var runtime: RuntimeOptions

    @OptionGroup
    var seedOption: SeedOption

    func freezeOptions() throws -> FreezeOptions {
        for part in freeze where part != "embeddings" {
            throw ValidationError("--freeze accepts 'embeddings' (use --freeze-layers N or --freeze-encoder for more), not '\(part)'")
        }
        return FreezeOptions(embeddings: freeze.contains("embeddings"), bottomLayers: freezeLayers, encoder: freezeEncoder)
    }

    func runOptions(task: String, metric: SelectionMetric, balanced: Bool, columns: TextColumns, arguments: [String]) throws -> RunOptions {
        try refuseDataParallel(task)
        let tuning = FineTuneOptions(
            epochs: epochs, batchSize: batchSize, learningRate: lr, warmup: warmup, schedule: schedule, gradAccum: gradAccum,
            weightDecay: weightDecay, maxGradNorm: maxGradNorm,
            patience: patience > 0 ? patience : nil, metric: metric, seed: seedOption.resolvedSeed,
            maxSeqLength: maxSeqLength, balancedClassWeights: balanced, freeze: try freezeOptions(),
            threads: runtime.resolvedThreads)
        let precision = try runtime.start()
        let output = try outputDir.map(outputFolder)
            ?? RunFolder.defaultURL(command: task, data: RunFolder.dataName(train))
        let initURL: URL
        if let path = `init` {
            initURL = URL(fileURLWithPath: path)
        } else {
            do {
                initURL = try RepositoryFiles.locate(
                    RepositoryFiles.baseModel, hint: "run Corpora/fetch.sh there, or pass --init MODEL")
            } catch { throw ValidationError("the default --init: \(error)") }
        }
        return RunOptions(
            initCheckpoint: initURL, train: URL(fileURLWithPath: train),
            validation: URL(fileURLWithPath: validation), test: test.map { URL(fileURLWithPath: $0) }, columns: columns,
            tuning: tuning, outputDirectory: output, maxTrainExamples: maxTrainExamples,
            maxValidationExamples: maxValidationExamples, saveCheckpoint: !noSave, precision: precision,
            arguments: ["command": arguments.joined(separator: " ")])
    }
}

/// Prints the tables of a finished run to standard output, unbuffered like the log.
func printSummary(_ report: RunReport, options: RunOptions) {
    func print(_ text: String) { FileHandle.standardOutput.write(Data((text + "\n").utf8)) }
    func show(_ title: String, _ metrics: SplitMetrics) {
        print("\n== \(title)")
        if let classification = metrics.classification { print(MetricsTable.format(classification)) }
        if let entities = metrics.entities { print(MetricsTable.format(entities)) }
    }
    show("dev (epoch \(report.bestEpoch))", report.validation)
    if let test = report.test { show("test", test) }
    print("\nreport: \(options.outputDirectory.appendingPathComponent(RunReportFiles.reportFileName).path) (details: \(options.reportURL.path))")
    if let checkpoint = report.checkpoint { print("checkpoint: \(checkpoint)") }
    print(String(format: "time: %.1f s", report.seconds))
}

struct ClassifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "classify",
        abstract: "Fine-tune a sequence classifier (BertForSequenceClassification) on labelled text.",
        discussion: """
            Example: mlm-adapt classify --init runs/legal/latest --train Corpora/tasks/bbc/train.tsv \
            --validation Corpora/tasks/bbc/dev.tsv --test Corpora/tasks/bbc/test.tsv
            Files are TSV (header row), CSV (header row, RFC 4180 quoting) or JSONL, told apart by extension.
            """)

    @OptionGroup var common: FineTuneArguments

    @Option(help: "Column (or JSON field) with the text.")
    var textColumn = "text"

    @Option(help: "Column with a second text, for sentence-pair tasks.")
    var textPairColumn: String?

    @Option(help: "Column with the label.")
    var labelColumn = "label"

    @Option(help: "Dev metric for the best epoch and early stopping: accuracy or macro-f1.")
    var metric: SelectionMetric = .accuracy

    @Option(help: "Class weights for the loss: 'balanced' (n / (k · count)).")
    var classWeights: String?

    func run() throws {
        if let classWeights, classWeights != "balanced" {
            throw ValidationError("--class-weights accepts 'balanced', not '\(classWeights)'")
        }
        let options = try common.runOptions(
            task: "classify", metric: metric, balanced: classWeights == "balanced",
            columns: TextColumns(text: textColumn, pair: textPairColumn, label: labelColumn),
            arguments: CommandLine.arguments)
        let report = try ClassificationRun.run(kind: .sequence, options: options, progress: .standardError, log: logLine)
        printSummary(report, options: options)
    }
}

extension SelectionMetric: ExpressibleByArgument {}
