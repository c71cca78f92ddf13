import ArgumentParser
import Classification
import Foundation
import TensorKernels

/// Options shared by `classify` and `ner`.
struct FineTuneArguments: ParsableArguments {
    @Option(help: "Starting checkpoint: an HF folder, a .safetensors(.gz) from `adapt`.")
    var `init` = "cache/models/all-MiniLM-L6-v2"

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

    @Option(help: "Share of the steps spent on linear warmup.")
    var warmup = 0.1

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

    @Option(help: "Where report.json and model.safetensors.gz go (default: runs/<UTC time>-<task>-<training folder>).")
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
        let tuning = FineTuneOptions(
            epochs: epochs, batchSize: batchSize, learningRate: lr, warmupRatio: warmup, weightDecay: weightDecay,
            patience: patience > 0 ? patience : nil, metric: metric, seed: seedOption.resolvedSeed, maxSeqLength: maxSeqLength,
            balancedClassWeights: balanced, freeze: try freezeOptions(), threads: runtime.resolvedThreads)
        try runtime.apply()
        let output = outputDir.map { URL(fileURLWithPath: $0) } ?? defaultOutput(task: task)
        return RunOptions(
            initCheckpoint: URL(fileURLWithPath: `init`), train: URL(fileURLWithPath: train),
            validation: URL(fileURLWithPath: validation), test: test.map { URL(fileURLWithPath: $0) }, columns: columns,
            tuning: tuning, outputDirectory: output, maxTrainExamples: maxTrainExamples,
            maxValidationExamples: maxValidationExamples, saveCheckpoint: !noSave,
            arguments: ["command": arguments.joined(separator: " ")])
    }

    /// runs/<UTC date>-<task>-<name of the training file's folder or file>.
    func defaultOutput(task: String) -> URL {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        formatter.timeZone = TimeZone(identifier: "UTC")
        let trainURL = URL(fileURLWithPath: train)
        let parent = trainURL.deletingLastPathComponent().lastPathComponent
        let name = parent.isEmpty || parent == "." ? trainURL.deletingPathExtension().lastPathComponent : parent
        return URL(fileURLWithPath: "runs/\(formatter.string(from: Date()))-\(task)-\(name)")
    }
}

/// Prints the tables of a finished run.
func printSummary(_ report: RunReport, options: RunOptions) {
    func show(_ title: String, _ metrics: SplitMetrics) {
        print("\n== \(title)")
        if let classification = metrics.classification { print(MetricsTable.format(classification)) }
        if let entities = metrics.entities { print(MetricsTable.format(entities)) }
    }
    show("dev (epoch \(report.bestEpoch))", report.validation)
    if let test = report.test { show("test", test) }
    print("\nreport: \(options.reportURL.path)")
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
        let report = try ClassificationRun.run(kind: .sequence, options: options) { print($0) }
        printSummary(report, options: options)
    }
}

extension SelectionMetric: ExpressibleByArgument {}
