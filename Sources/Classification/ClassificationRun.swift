import Checkpoint
import Foundation
import Model
import Reporting
import TensorKernels
import Tokenizer

/// Inputs of one `classify` or `ner` run.
public struct RunOptions: Sendable {
    public var initCheckpoint: URL
    public var train: URL
    public var validation: URL
    public var test: URL?
    public var columns: TextColumns
    public var tuning: FineTuneOptions
    public var outputDirectory: URL
    /// Keep a seeded random subset of this many training examples (nil: all).
    public var maxTrainExamples: Int?
    /// Keep a seeded random subset of this many dev examples (nil: all); the test set is always scored whole.
    public var maxValidationExamples: Int?
    public var saveCheckpoint: Bool
    /// The dense layers' GEMM precision (`BertModel.setPrecision`).
    public var precision: ResolvedPrecision
    /// The command line, stored in the report and the checkpoint.
    public var arguments: [String: String]

    public init(
        initCheckpoint: URL, train: URL, validation: URL, test: URL? = nil, columns: TextColumns = TextColumns(),
        tuning: FineTuneOptions = FineTuneOptions(), outputDirectory: URL, maxTrainExamples: Int? = nil,
        maxValidationExamples: Int? = nil, saveCheckpoint: Bool = true, precision: ResolvedPrecision = .fp32,
        arguments: [String: String] = [:]
    ) {
        self.initCheckpoint = initCheckpoint; self.train = train; self.validation = validation; self.test = test
        self.columns = columns; self.tuning = tuning; self.outputDirectory = outputDirectory
        self.maxTrainExamples = maxTrainExamples; self.maxValidationExamples = maxValidationExamples
        self.saveCheckpoint = saveCheckpoint; self.precision = precision; self.arguments = arguments
    }

    public var checkpointURL: URL { outputDirectory.appendingPathComponent("model.safetensors.gz") }
    public var reportURL: URL { outputDirectory.appendingPathComponent("report.json") }
}

/// A whole fine-tuning run: read the task, load the encoder, train, evaluate, save, report.
public enum ClassificationRun {
    /// - Parameter progress: where progress within each epoch goes (nil: none).
    public static func run(kind: ClassifierKind, options: RunOptions, progress: ProgressStyle? = nil,
                           log: @escaping (String) -> Void) throws -> RunReport {
        let started = Date()
        let tuning = options.tuning
        // Read and label the data before loading the model, so bad data fails fast.
        var trainSet = try TaskData.read(kind: kind, url: options.train, columns: options.columns)
        let labels = try LabelSet(collecting: trainSet.labelNames)
        var validationSet = try TaskData.read(kind: kind, url: options.validation, columns: options.columns)
        let testSet = try options.test.map { try TaskData.read(kind: kind, url: $0, columns: options.columns) }
        if let limit = options.maxTrainExamples, limit < trainSet.count {
            trainSet = trainSet.sample(limit, seed: tuning.seed)
            log("training on a seeded sample of \(limit) examples")
        }
        if let limit = options.maxValidationExamples, limit < validationSet.count {
            validationSet = validationSet.sample(limit, seed: tuning.seed ^ 0xDE5)
            log("validating on a seeded sample of \(limit) examples")
        }

        // The folder belongs to this run until it ends: a second run there is refused, naming this one's pid.
        try FileManager.default.createDirectory(at: options.outputDirectory, withIntermediateDirectories: true)
        let folderLock = try RunFolderLock(directory: options.outputDirectory)
        defer { withExtendedLifetime(folderLock) {} }

        let loaded = try ClassifierCheckpoint.initialize(
            from: options.initCheckpoint, kind: kind, labels: labels, seed: tuning.seed)
        loaded.model.setPrecision(options.precision)
        loaded.notes.forEach(log)
        try tuning.validate(config: loaded.model.config)
        let encode = { (data: TaskData) in
            try data.encode(labels: labels, tokenizer: loaded.tokenizer, maxLength: tuning.maxSeqLength)
        }
        let train = try encode(trainSet), validation = try encode(validationSet)
        let test = try testSet.map(encode)
        let truncated = [train, validation, test ?? []].reduce(0) { $0 + $1.count { $0.truncated } }

        let classifier = try Classifier(
            kind: kind, model: loaded.model, labels: labels, batchSize: tuning.batchSize, maxSeqLength: tuning.maxSeqLength)
        let tuner = try FineTuner(classifier: classifier, options: tuning)
        tuner.log = log
        tuner.progress = progress
        let total = loaded.model.layout.tensors.reduce(0) { $0 + $1.count }
        log("\(kind.architecture): \(labels.count) labels, \(train.count) train / \(validation.count) dev"
            + (test.map { " / \($0.count) test" } ?? "") + " examples, \(tuner.trainableParameterCount) of \(total) parameters trainable")
        let outcome = try tuner.train(train, validation: validation, validationTags: validationSet.goldTags)

        let testMetrics = try test.map { try tuner.evaluate($0, goldTags: testSet?.goldTags).0 }
        var report = RunReport(
            task: kind.architecture, initCheckpoint: options.initCheckpoint.path, arguments: options.arguments,
            labels: labels.names, initializedTensors: loaded.initializedTensors,
            trainableParameters: tuner.trainableParameterCount, frozenParameters: total - tuner.trainableParameterCount,
            trainExamples: train.count, validationExamples: validation.count, testExamples: test?.count,
            truncatedExamples: truncated, epochs: outcome.epochs, bestEpoch: outcome.bestEpoch,
            stoppedEarly: outcome.stoppedEarly, validation: outcome.bestValidation, test: testMetrics,
            checkpoint: options.saveCheckpoint ? options.checkpointURL.path : nil, seconds: 0)
        report.seconds = Date().timeIntervalSince(started)
        if options.saveCheckpoint {
            let metrics = try JSONEncoder().encode(testMetrics ?? outcome.bestValidation)
            try ClassifierCheckpoint.save(
                loaded, runArguments: options.arguments, metricsJSON: String(decoding: metrics, as: UTF8.self),
                to: options.checkpointURL)
        }
        try report.write(to: options.reportURL)
        do {
            try RunReportFiles.write(report.runSummary(kind: kind, options: options))
        } catch {
            log("warning: \(error)")
        }
        return report
    }
}

extension RunReport {
    /// `summary.json` of a classify/ner run: the best epoch's dev figures, the test figures, and the files.
    func runSummary(kind: ClassifierKind, options: RunOptions) -> RunSummary {
        var final: [String: Double] = [:]
        func add(_ prefix: String, _ metrics: SplitMetrics) {
            final["\(prefix)_loss"] = metrics.loss
            if let c = metrics.classification {
                final["\(prefix)_accuracy"] = c.accuracy
                final["\(prefix)_macro_f1"] = c.macroF1
            }
            if let e = metrics.entities {
                final["\(prefix)_entity_f1"] = e.f1
                final["\(prefix)_entity_macro_f1"] = e.macroF1
                final["\(prefix)_token_accuracy"] = e.tokenAccuracy
            }
        }
        add("dev", validation)
        if let test { add("test", test) }
        let metric = kind == .token ? "dev_entity_f1" : (options.tuning.metric == .accuracy ? "dev_accuracy" : "dev_macro_f1")
        let best = final[metric].map { RunSummary.Best(metric: metric, value: $0, epoch: bestEpoch) }
        return RunSummary(
            command: kind == .sequence ? "classify" : "ner", runFolder: options.outputDirectory, final: final, best: best,
            completed: epochs.count, planned: options.tuning.epochs, stoppedEarly: stoppedEarly, seconds: seconds,
            checkpoints: checkpoint.map { [URL(fileURLWithPath: $0)] } ?? [], metrics: options.reportURL)
    }
}

/// The examples of one split, as read from its file, for either task.
struct TaskData {
    let url: URL
    var texts: [TextExample] = []
    var sentences: [TaggedSentence] = []
    let kind: ClassifierKind

    static func read(kind: ClassifierKind, url: URL, columns: TextColumns) throws -> TaskData {
        var data = TaskData(url: url, kind: kind)
        switch kind {
        case .sequence: data.texts = try DataReader.readExamples(from: url, columns: columns)
        case .token: data.sentences = try DataReader.readTaggedSentences(from: url)
        }
        guard data.count > 0 else { throw ClassificationError.invalidData("\(url.path): no examples") }
        return data
    }

    var count: Int { kind == .sequence ? texts.count : sentences.count }

    var labelNames: [String] { kind == .sequence ? texts.compactMap(\.label) : sentences.flatMap(\.tags) }

    var goldTags: [[String]]? { kind == .token ? sentences.map(\.tags) : nil }

    /// A seeded random subset, in file order.
    func sample(_ limit: Int, seed: UInt64) -> TaskData {
        var order = Array(0..<count)
        var shuffle = SeededShuffle(seed: seed ^ 0xDA7A)
        shuffle.shuffle(&order)
        let kept = order.prefix(limit).sorted()
        var subset = self
        if kind == .sequence { subset.texts = kept.map { texts[$0] } } else { subset.sentences = kept.map { sentences[$0] } }
        return subset
    }

    func encode(labels: LabelSet, tokenizer: WordPieceTokenizer, maxLength: Int) throws -> [EncodedExample] {
        switch kind {
        case .sequence:
            return TaskEncoder.encode(
                texts, labels: try labels.ids(of: texts, path: url.path), tokenizer: tokenizer, maxLength: maxLength)
        case .token:
            return try TaskEncoder.encode(sentences, labels: labels, tokenizer: tokenizer, maxLength: maxLength, path: url.path)
        }
    }
}
