import ArgumentParser
import Classification
import FewShot
import Foundation
import Optimization
import Reporting
import SentenceEmbedding
import TensorKernels

extension SetFitHeadKind: ExpressibleByArgument {}

struct SetFitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "setfit",
        abstract: "SetFit few-shot classification: contrastive fine-tuning of the sentence encoder on pairs, then a logistic-regression head.",
        discussion: """
            Example: mlm-adapt setfit --init runs/legal/latest --train Corpora/tasks/bbc/train.tsv \
            --samples-per-class 8 --validation Corpora/tasks/bbc/dev.tsv --test Corpora/tasks/bbc/test.tsv
            As the setfit library: --samples-per-class draws a seeded few-shot subset; each example gives \
            --num-iterations positive and as many negative pairs; the mean-pooled encoder is fine-tuned with \
            CosineSimilarityLoss; the head is fitted on the L2-normalised embeddings. --no-contrastive skips the \
            fine-tuning (the frozen-encoder baseline). The checkpoint holds encoder, head and labels; \
            `mlm-adapt predict` reads it.
            """)

    static let defaults = SetFitOptions.defaults

    @Option(help: "Starting model: a sentence-transformers or HF folder, an adapt run folder or checkpoint (default: \(RepositoryFiles.baseModel) of the repository).")
    var `init`: String?

    @Option(help: "Training file (.tsv/.csv/.jsonl).")
    var train: String

    @Option(help: "Dev file, scored once at the end.")
    var validation: String

    @Option(help: "Test file, scored once at the end.")
    var test: String?

    @Option(help: "Column (or JSON field) with the text.")
    var textColumn = "text"

    @Option(help: "Column with the label.")
    var labelColumn = "label"

    @Option(help: "Draw this many training examples per class, seeded, as setfit.sample_dataset (default: the whole file).")
    var samplesPerClass: Int?

    @Option(help: "Positive and negative pairs per training example (default: \(defaults.numIterations)).")
    var numIterations: Int?

    @Option(help: "Contrastive epochs (default: \(defaults.epochs)).")
    var epochs: Int?

    @Option(help: "Pairs per contrastive step (default: \(defaults.batchSize)).")
    var batchSize: Int?

    @Option(help: "Contrastive peak learning rate (default: \(defaults.learningRate)).")
    var lr: Double?

    @Option(help: "Warmup: a ratio of all steps if below 1, else a step count (default: \(defaults.warmup)).")
    var warmup: Warmup?

    @Option(help: "AdamW weight decay (default: \(defaults.weightDecay)).")
    var weightDecay: Double?

    @Option(help: "Clip the global gradient norm to this; 0 disables (default: \(defaults.maxGradNorm)).")
    var maxGradNorm: Double?

    @Option(help: "Tokens per text, [CLS] and [SEP] included (default: \(defaults.maxSeqLength)).")
    var maxSeqLength: Int?

    @Flag(help: "Skip contrastive fine-tuning: fit the head on the untouched encoder (the frozen baseline).")
    var noContrastive = false

    @Option(help: "Head: logistic (regularised logistic regression, solved to convergence) or differentiable (linear head trained end to end) (default: \(defaults.head.rawValue)).")
    var head: SetFitHeadKind?

    @Option(help: "Logistic regression's inverse regularisation strength C (default: \(defaults.c)).")
    var c: Double?

    @Option(help: "Differentiable head: epochs (default: \(defaults.headEpochs)).")
    var headEpochs: Int?

    @Option(help: "Differentiable head: examples per step (default: \(defaults.headBatchSize)).")
    var headBatchSize: Int?

    @Option(help: "Differentiable head: the head's learning rate (default: \(defaults.headLearningRate)).")
    var headLr: Double?

    @Option(help: "Differentiable head: the encoder's learning rate; 0 keeps it frozen (default: \(defaults.bodyLearningRate)).")
    var bodyLr: Double?

    @Option(help: "Pooling: mean or cls (default: \(defaults.pooling.rawValue)).")
    var pooling: Pooling?

    @Option(help: "Where report.json, summary.json, report.html and model.safetensors.gz go (default: runs/<yyyy-mm-dd-HHMMSS>-setfit-<training data>).")
    var outputDir: String?

    @Flag(help: "Do not write the checkpoint (report only).")
    var noSave = false

    @OptionGroup(title: "Runtime")
    var runtime: RuntimeOptions

    @OptionGroup
    var seedOption: SeedOption

    func settings() -> SetFitOptions {
        var s = SetFitOptions()
        s.samplesPerClass = samplesPerClass
        if let numIterations { s.numIterations = numIterations }
        if let epochs { s.epochs = epochs }
        if let batchSize { s.batchSize = batchSize }
        if let lr { s.learningRate = lr }
        if let warmup { s.warmup = warmup }
        if let weightDecay { s.weightDecay = weightDecay }
        if let maxGradNorm { s.maxGradNorm = maxGradNorm }
        if let maxSeqLength { s.maxSeqLength = maxSeqLength }
        s.contrastive = !noContrastive
        if let head { s.head = head }
        if let c { s.c = c }
        if let headEpochs { s.headEpochs = headEpochs }
        if let headBatchSize { s.headBatchSize = headBatchSize }
        if let headLr { s.headLearningRate = headLr }
        if let bodyLr { s.bodyLearningRate = bodyLr }
        if let pooling { s.pooling = pooling }
        s.seed = seedOption.resolvedSeed
        s.threads = runtime.resolvedThreads
        return s
    }

    func run() throws {
        try refuseDataParallel("setfit")
        let precision = try runtime.start()
        let initURL: URL
        if let path = `init` {
            initURL = URL(fileURLWithPath: path)
        } else {
            do {
                initURL = try RepositoryFiles.locate(RepositoryFiles.baseModel, hint: "run Corpora/fetch.sh there, or pass --init MODEL")
            } catch { throw ValidationError("the default --init: \(error)") }
        }
        let output = outputDir.map { URL(fileURLWithPath: $0) } ?? RunFolder.defaultURL(command: "setfit", data: RunFolder.dataName(train))
        let options = SetFitRunOptions(
            initCheckpoint: initURL, train: URL(fileURLWithPath: train), validation: URL(fileURLWithPath: validation),
            test: test.map { URL(fileURLWithPath: $0) }, columns: TextColumns(text: textColumn, label: labelColumn),
            settings: settings(), precision: precision, outputDirectory: output, saveCheckpoint: !noSave,
            arguments: ["command": CommandLine.arguments.joined(separator: " ")])
        let report = try SetFitRun.run(options, progress: .standardError, log: logLine)
        func print(_ text: String) { FileHandle.standardOutput.write(Data((text + "\n").utf8)) }
        for (title, metrics) in [("dev", report.validation)] + (report.test.map { [("test", $0)] } ?? []) {
            print("\n== \(title)")
            if let classification = metrics.classification { print(MetricsTable.format(classification)) }
        }
        print("\nreport: \(output.appendingPathComponent(RunReportFiles.reportFileName).path) (details: \(options.reportURL.path))")
        if let checkpoint = report.checkpoint { print("checkpoint: \(checkpoint)") }
        print(String(format: "time: %.1f s", report.seconds))
    }
}
