import Foundation

/// Metrics of one split: sequence-classification scores, or entity scores for NER.
public struct SplitMetrics: Codable, Equatable, Sendable {
    public var classification: ClassificationMetrics?
    public var entities: EntityMetrics?
    public var loss: Double

    public init(classification: ClassificationMetrics? = nil, entities: EntityMetrics? = nil, loss: Double) {
        self.classification = classification; self.entities = entities; self.loss = loss
    }

    /// The value early stopping watches.
    public func value(of metric: SelectionMetric) -> Double {
        if let entities { return entities.f1 }
        guard let classification else { return 0 }
        switch metric {
        case .accuracy: return classification.accuracy
        case .macroF1: return classification.macroF1
        }
    }
}

/// The dev metric that picks the best epoch (entity F1 is always used for NER).
public enum SelectionMetric: String, Codable, CaseIterable, Sendable {
    case accuracy
    case macroF1 = "macro-f1"
}

public struct EpochRecord: Codable, Equatable, Sendable {
    public var epoch: Int
    public var trainLoss: Double
    public var validation: SplitMetrics
    public var seconds: Double

    public init(epoch: Int, trainLoss: Double, validation: SplitMetrics, seconds: Double) {
        self.epoch = epoch; self.trainLoss = trainLoss; self.validation = validation; self.seconds = seconds
    }
}

/// Everything a run writes to `report.json`.
public struct RunReport: Codable, Sendable {
    public var task: String
    public var initCheckpoint: String
    public var arguments: [String: String]
    public var labels: [String]
    /// Tensors the init checkpoint lacked and that were freshly initialised (the pooler of an MLM checkpoint, the classifier).
    public var initializedTensors: [String]
    public var trainableParameters: Int
    public var frozenParameters: Int
    public var trainExamples: Int
    public var validationExamples: Int
    public var testExamples: Int?
    /// Examples whose tokens did not fit `maxSeqLength` and were cut.
    public var truncatedExamples: Int
    public var epochs: [EpochRecord]
    public var bestEpoch: Int
    public var stoppedEarly: Bool
    public var validation: SplitMetrics
    public var test: SplitMetrics?
    public var checkpoint: String?
    public var seconds: Double
    /// SetFit runs only: the few-shot subset, the pairs and the head.
    public var fewShot: FewShotSummary? = nil

    public init(
        task: String, initCheckpoint: String, arguments: [String: String], labels: [String], initializedTensors: [String],
        trainableParameters: Int, frozenParameters: Int, trainExamples: Int, validationExamples: Int, testExamples: Int?,
        truncatedExamples: Int, epochs: [EpochRecord], bestEpoch: Int, stoppedEarly: Bool, validation: SplitMetrics,
        test: SplitMetrics?, checkpoint: String?, seconds: Double, fewShot: FewShotSummary? = nil
    ) {
        self.task = task; self.initCheckpoint = initCheckpoint; self.arguments = arguments; self.labels = labels
        self.initializedTensors = initializedTensors; self.trainableParameters = trainableParameters
        self.frozenParameters = frozenParameters; self.trainExamples = trainExamples
        self.validationExamples = validationExamples; self.testExamples = testExamples
        self.truncatedExamples = truncatedExamples; self.epochs = epochs; self.bestEpoch = bestEpoch
        self.stoppedEarly = stoppedEarly; self.validation = validation; self.test = test; self.checkpoint = checkpoint
        self.seconds = seconds; self.fewShot = fewShot
    }

    public func write(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(self)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: url, options: .atomic)
    }
}

/// What a SetFit run (`mlm-adapt setfit`) adds to `report.json`.
public struct FewShotSummary: Codable, Equatable, Sendable {
    /// Examples drawn per class (nil: the training file as it was).
    public var samplesPerClass: Int?
    /// Contrastive pairs per epoch (0 for `--no-contrastive`), half of them positive.
    public var pairs: Int
    public var contrastiveSteps: Int
    /// Mean `CosineSimilarityLoss` of each contrastive epoch.
    public var contrastiveLoss: [Double]
    public var contrastiveSeconds: Double
    /// `logistic` or `differentiable`.
    public var head: String
    /// Logistic regression: L-BFGS iterations and whether it converged; the head's training loss.
    public var headIterations: Int
    public var headConverged: Bool
    public var headTrainLoss: Double
    public var headSeconds: Double

    public init(samplesPerClass: Int?, pairs: Int, contrastiveSteps: Int, contrastiveLoss: [Double], contrastiveSeconds: Double,
                head: String, headIterations: Int, headConverged: Bool, headTrainLoss: Double, headSeconds: Double) {
        self.samplesPerClass = samplesPerClass; self.pairs = pairs; self.contrastiveSteps = contrastiveSteps
        self.contrastiveLoss = contrastiveLoss; self.contrastiveSeconds = contrastiveSeconds; self.head = head
        self.headIterations = headIterations; self.headConverged = headConverged; self.headTrainLoss = headTrainLoss
        self.headSeconds = headSeconds
    }
}

/// Plain-text tables of the metrics, for the terminal.
public enum MetricsTable {
    public static func format(_ metrics: ClassificationMetrics) -> String {
        let width = max(12, metrics.perClass.map(\.label.count).max() ?? 0)
        var lines = [pad("label", width) + "  precision     recall         f1    support"]
        for score in metrics.perClass { lines.append(row(score, width)) }
        lines.append("")
        lines.append(pad("accuracy", width) + String(format: "%35.4f %10d", metrics.accuracy, metrics.count))
        lines.append(pad("macro-F1", width) + String(format: "%35.4f %10d", metrics.macroF1, metrics.count))
        lines.append("")
        lines.append("confusion matrix (rows: gold, columns: predicted)")
        let cell = max(5, (metrics.confusion.flatMap { $0 }.max() ?? 0).description.count + 1)
        lines.append(pad("", width) + metrics.perClass.indices.map { leftPad("\($0)", cell) }.joined())
        for (index, counts) in metrics.confusion.enumerated() {
            lines.append(pad("\(index) \(metrics.perClass[index].label)", width) + counts.map { leftPad("\($0)", cell) }.joined())
        }
        return lines.joined(separator: "\n")
    }

    public static func format(_ metrics: EntityMetrics) -> String {
        let width = max(12, metrics.perType.map(\.label.count).max() ?? 0)
        var lines = [pad("entity type", width) + "  precision     recall         f1    support"]
        for score in metrics.perType { lines.append(row(score, width)) }
        lines.append("")
        let support = metrics.perType.reduce(0) { $0 + $1.support }
        lines.append(
            pad("micro avg", width)
                + String(format: "%11.4f%11.4f%11.4f %10d", metrics.precision, metrics.recall, metrics.f1, support))
        lines.append(pad("macro-F1", width) + String(format: "%33.4f", metrics.macroF1))
        lines.append(pad("token acc.", width) + String(format: "%33.4f", metrics.tokenAccuracy))
        return lines.joined(separator: "\n")
    }

    static func row(_ score: ClassScore, _ width: Int) -> String {
        pad(score.label, width) + String(format: "%11.4f%11.4f%11.4f %10d", score.precision, score.recall, score.f1, score.support)
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    static func leftPad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
    }
}
