import Checkpoint
import Classification
import Foundation
import Model
import Reporting
import SentenceEmbedding
import TensorKernels

/// Inputs of one `setfit` run.
public struct SetFitRunOptions: Sendable {
    public var initCheckpoint: URL
    public var train: URL
    public var validation: URL
    public var test: URL?
    public var columns: TextColumns
    public var settings: SetFitOptions
    public var precision: ResolvedPrecision
    public var outputDirectory: URL
    public var saveCheckpoint: Bool
    /// Texts per inference batch (embedding the splits).
    public var inferenceBatchSize: Int
    /// The command line, stored in the report and the checkpoint.
    public var arguments: [String: String]

    public init(
        initCheckpoint: URL, train: URL, validation: URL, test: URL? = nil, columns: TextColumns = TextColumns(),
        settings: SetFitOptions = SetFitOptions(), precision: ResolvedPrecision = .fp32, outputDirectory: URL,
        saveCheckpoint: Bool = true, inferenceBatchSize: Int = SentenceEncoder.defaultBatchSize, arguments: [String: String] = [:]
    ) {
        self.initCheckpoint = initCheckpoint; self.train = train; self.validation = validation; self.test = test
        self.columns = columns; self.settings = settings; self.precision = precision
        self.outputDirectory = outputDirectory; self.saveCheckpoint = saveCheckpoint
        self.inferenceBatchSize = inferenceBatchSize; self.arguments = arguments
    }

    public var checkpointURL: URL { outputDirectory.appendingPathComponent("model.safetensors.gz") }
    public var reportURL: URL { outputDirectory.appendingPathComponent("report.json") }
}

/// A whole SetFit run: read and sample the task, load the encoder, contrastive fine-tuning on pairs (unless
/// `contrastive` is off: the frozen-encoder baseline), fit the head on the normalised embeddings, score dev
/// and test, save, report in classify's `report.json` shape.
public enum SetFitRun {
    public static func run(_ options: SetFitRunOptions, progress: ProgressStyle? = nil, log: @escaping (String) -> Void) throws -> RunReport {
        let started = Date()
        let settings = options.settings
        // Data first, so bad data fails before the model loads.
        let read = { (url: URL) in try DataReader.readExamples(from: url, columns: options.columns) }
        var train = try read(options.train)
        let validation = try read(options.validation)
        let test = try options.test.map(read)
        if let k = settings.samplesPerClass {
            train = try FewShotData.sample(train, perClass: k, seed: settings.seed, path: options.train.path)
            log("few-shot subset: \(k) examples per class, \(train.count) in all (seed \(settings.seed))")
        }
        try FewShotData.validateTraining(train, path: options.train.path)
        try FewShotData.validateTexts(validation, path: options.validation.path)
        if let test, let url = options.test { try FewShotData.validateTexts(test, path: url.path) }
        let labels = try LabelSet(collecting: train.compactMap(\.label))
        let trainIds = try labels.ids(of: train, path: options.train.path)
        let validationIds = try labels.ids(of: validation, path: options.validation.path)
        let testIds = try test.map { try labels.ids(of: $0, path: options.test!.path) }

        let prepared = try ModelLoading.prepare(
            CheckpointReference.resolve(options.initCheckpoint), heads: .newClassifier(pooler: false, labels: labels.count),
            seed: settings.seed)
        // The loader names a pooler-less classifier layout BertForTokenClassification; here it is a SetFit head.
        prepared.notes.filter { !$0.hasPrefix("initialised") }
            .map { $0.replacingOccurrences(of: "BertForTokenClassification", with: "SetFit") }.forEach(log)
        try settings.validate(maxPositions: prepared.model.config.maxPositionEmbeddings)
        prepared.model.setPrecision(options.precision)
        let setfit = try SetFitModel(
            model: prepared.model, tokenizer: prepared.tokenizer, vocabularyText: prepared.vocabularyText, labels: labels,
            settings: SetFitModel.Settings(pooling: settings.pooling, head: settings.head, maxSeqLength: settings.maxSeqLength))
        let encoder = try setfit.encoder(batchSize: max(2 * settings.batchSize, options.inferenceBatchSize, settings.headBatchSize))
        let tokens = { (examples: [TextExample]) in examples.map { encoder.tokenize($0.text) } }
        let trainTokens = tokens(train), validationTokens = tokens(validation), testTokens = test.map(tokens)
        let truncated = ([trainTokens, validationTokens] + (testTokens.map { [$0] } ?? [])).reduce(0) { $0 + $1.count { $0.truncated } }

        // Contrastive phase.
        let contrastiveStarted = Date()
        var pairs: [ContrastivePair] = []
        var contrastiveLoss: [Double] = []
        var trainable = 0
        if settings.contrastive && settings.epochs > 0 {
            pairs = try ContrastivePairs.generate(labels: trainIds, iterations: settings.numIterations, seed: settings.seed)
            let trainer = try ContrastiveTrainer(encoder: encoder, options: settings)
            trainer.log = log
            trainer.progress = progress
            trainable = trainer.trainableParameterCount
            log("SetFit: \(labels.count) classes, \(train.count) train / \(validation.count) dev"
                + (test.map { " / \($0.count) test" } ?? "") + " examples; \(pairs.count) pairs × \(settings.epochs) epoch(s), "
                + "batch \(settings.batchSize), \(trainable) parameters trainable")
            contrastiveLoss = try trainer.train(texts: trainTokens, pairs: pairs)
        } else {
            log("SetFit without contrastive training (frozen encoder): \(labels.count) classes, \(train.count) train examples")
        }
        let contrastiveSeconds = Date().timeIntervalSince(contrastiveStarted)

        // Head.
        let headStarted = Date()
        let head: HeadOutcome
        switch settings.head {
        case .logistic:
            let features = try encoder.embed(trainTokens, normalize: true)
            let regression = try LogisticRegression.fit(
                features: features, labels: trainIds, classes: labels.count, dimension: encoder.hiddenSize, c: settings.c)
            setfit.setHead(regression)
            if !regression.converged { log("warning: logistic regression stopped after \(regression.iterations) iterations before converging") }
            head = HeadOutcome(iterations: regression.iterations, converged: regression.converged)
        case .differentiable:
            let trainer = try DifferentiableHeadTrainer(encoder: encoder, setfit: setfit, options: settings)
            trainer.log = log
            trainer.progress = progress
            trainable = max(trainable, trainer.trainableParameterCount)
            try trainer.train(texts: trainTokens, labels: trainIds)
            head = HeadOutcome(iterations: settings.headEpochs, converged: true)
        }
        let trainMetrics = try evaluate(setfit, encoder: encoder, texts: trainTokens, gold: trainIds)
        let headSeconds = Date().timeIntervalSince(headStarted)
        log(String(format: "head (%@): train loss %.4f, train accuracy %.4f (%.1f s)", settings.head.rawValue,
                   trainMetrics.loss, trainMetrics.classification?.accuracy ?? 0, headSeconds))

        let validationMetrics = try evaluate(setfit, encoder: encoder, texts: validationTokens, gold: validationIds)
        let testMetrics = try testTokens.map { try evaluate(setfit, encoder: encoder, texts: $0, gold: testIds!) }
        let total = prepared.model.layout.tensors.reduce(0) { $0 + $1.count }
        let headParameters = labels.count * (encoder.hiddenSize + 1)
        trainable = max(trainable, headParameters)
        var report = RunReport(
            task: "SetFit", initCheckpoint: options.initCheckpoint.path, arguments: options.arguments, labels: labels.names,
            initializedTensors: [], trainableParameters: trainable, frozenParameters: total - trainable,
            trainExamples: train.count, validationExamples: validation.count, testExamples: test?.count,
            truncatedExamples: truncated,
            epochs: [EpochRecord(epoch: 1, trainLoss: contrastiveLoss.last ?? trainMetrics.loss, validation: validationMetrics,
                                 seconds: contrastiveSeconds + headSeconds)],
            bestEpoch: 1, stoppedEarly: false, validation: validationMetrics, test: testMetrics,
            checkpoint: options.saveCheckpoint ? options.checkpointURL.path : nil, seconds: 0,
            fewShot: FewShotSummary(
                samplesPerClass: settings.samplesPerClass, pairs: pairs.count,
                contrastiveSteps: pairs.isEmpty ? 0 : (pairs.count + settings.batchSize - 1) / settings.batchSize * settings.epochs,
                contrastiveLoss: contrastiveLoss, contrastiveSeconds: contrastiveSeconds, head: settings.head.rawValue,
                headIterations: head.iterations, headConverged: head.converged, headTrainLoss: trainMetrics.loss,
                headSeconds: headSeconds))
        report.seconds = Date().timeIntervalSince(started)
        if options.saveCheckpoint {
            let metrics = try JSONEncoder().encode(testMetrics ?? validationMetrics)
            try setfit.save(runArguments: options.arguments, metricsJSON: String(decoding: metrics, as: UTF8.self), to: options.checkpointURL)
        }
        try report.write(to: options.reportURL)
        do { try RunReportFiles.write(summary(report, options: options)) } catch { log("warning: \(error)") }
        return report
    }

    struct HeadOutcome {
        var iterations: Int
        var converged: Bool
    }

    /// Accuracy, macro-F1, per-class scores and the mean cross-entropy of `setfit` on one split.
    static func evaluate(_ setfit: SetFitModel, encoder: SentenceEncoder, texts: [SentenceTokens], gold: [Int32]) throws -> SplitMetrics {
        let probabilities = setfit.probabilities(embeddings: try encoder.embed(texts, normalize: true))
        var loss = 0.0
        let predicted = probabilities.enumerated().map { row, p in
            loss -= log(max(Double(p[Int(gold[row])]), 1e-12))
            return Int32(p.indices.max { p[$0] < p[$1] || (p[$0] == p[$1] && $0 > $1) }!)
        }
        return SplitMetrics(
            classification: ClassificationMetrics(gold: gold, predicted: predicted, labels: setfit.labels),
            loss: gold.isEmpty ? 0 : loss / Double(gold.count))
    }

    static func summary(_ report: RunReport, options: SetFitRunOptions) -> RunSummary {
        var final: [String: Double] = [:]
        func add(_ prefix: String, _ metrics: SplitMetrics) {
            final["\(prefix)_loss"] = metrics.loss
            final["\(prefix)_accuracy"] = metrics.classification?.accuracy
            final["\(prefix)_macro_f1"] = metrics.classification?.macroF1
        }
        add("dev", report.validation)
        if let test = report.test { add("test", test) }
        return RunSummary(
            command: "setfit", runFolder: options.outputDirectory, final: final,
            best: final["dev_accuracy"].map { RunSummary.Best(metric: "dev_accuracy", value: $0, epoch: 1) },
            completed: 1, planned: 1, stoppedEarly: false, seconds: report.seconds,
            checkpoints: report.checkpoint.map { [URL(fileURLWithPath: $0)] } ?? [], metrics: options.reportURL)
    }
}
