import Checkpoint
import Foundation
import Model
import Tokenizer

/// A classification model with what it needs to read text.
public struct LoadedClassifier {
    public let kind: ClassifierKind
    public let model: BertModel
    public let labels: LabelSet
    public let tokenizer: WordPieceTokenizer
    public let vocabularyText: String
    /// Tensors the source lacked and that were freshly initialised (e.g. the pooler of an MLM checkpoint).
    public let initializedTensors: [String]
    /// What the loader reported, for the user.
    public let notes: [String]
}

/// Fine-tuned classifiers in the project's checkpoint format: a gzip-compressed HF safetensors file with
/// BertForSequenceClassification / BertForTokenClassification names, and config.json (with `architectures`,
/// `id2label`, `label2id`) and vocab.txt in its metadata, so `transformers` loads the gunzipped file.
public enum ClassifierCheckpoint {
    /// A `kind` model for `labels` whose encoder comes from `url` (an HF folder, an MLM checkpoint, ...).
    /// Heads absent from the source (pooler, classifier) are initialised as BERT does, from `seed`.
    public static func initialize(from source: URL, kind: ClassifierKind, labels: LabelSet, seed: UInt64) throws -> LoadedClassifier {
        let url = try resolve(source)
        let checkpoint = try LoadedCheckpoint.open(url)
        guard var config = checkpoint.config else {
            throw ClassificationError.invalidCheckpoint("\(url.path): no config (neither in its metadata nor a config.json beside it)")
        }
        config.architectures = nil
        config.id2label = nil
        config.label2id = nil
        let layout = ParameterLayout(
            config: config, heads: ModelHeads(maskedLM: false, pooler: kind == .sequence, classifierLabels: labels.count))
        let model = BertModel(layout: layout)
        let report = try checkpoint.loadWeights(
            into: model.parameters, layout: layout, options: LoadOptions(createMissingHeads: true, seed: seed))
        let (tokenizer, vocabularyText) = try tokenizer(of: checkpoint, config: config)
        var notes: [String] = []
        if !report.initialized.isEmpty { notes.append("initialised (absent from \(url.lastPathComponent)): \(report.initialized.joined(separator: ", "))") }
        if !report.unused.isEmpty { notes.append("not used by \(kind.architecture): \(report.unused.count) tensors (\(report.unused.prefix(3).joined(separator: ", "))…)") }
        notes += report.warnings
        return LoadedClassifier(
            kind: kind, model: model, labels: labels, tokenizer: tokenizer, vocabularyText: vocabularyText,
            initializedTensors: report.initialized, notes: notes)
    }

    /// Loads a fine-tuned classifier written by `save` (or by `transformers`' `save_pretrained` with a vocab.txt).
    public static func load(from source: URL) throws -> LoadedClassifier {
        let url = try resolve(source)
        let checkpoint = try LoadedCheckpoint.open(url)
        guard let config = checkpoint.config else {
            throw ClassificationError.invalidCheckpoint("\(url.path): no config")
        }
        guard let kind = ClassifierKind(architectures: config.architectures) else {
            throw ClassificationError.invalidCheckpoint(
                "\(url.path): architectures is \(config.architectures ?? []), not BertForSequenceClassification or BertForTokenClassification")
        }
        let labels = try LabelSet(config: config, source: url.path)
        let layout = ParameterLayout(
            config: config, heads: ModelHeads(maskedLM: false, pooler: kind == .sequence, classifierLabels: labels.count))
        let model = BertModel(layout: layout)
        let report = try checkpoint.loadWeights(into: model.parameters, layout: layout, options: LoadOptions(createMissingHeads: false))
        let (tokenizer, vocabularyText) = try tokenizer(of: checkpoint, config: config)
        return LoadedClassifier(
            kind: kind, model: model, labels: labels, tokenizer: tokenizer, vocabularyText: vocabularyText,
            initializedTensors: [], notes: report.warnings)
    }

    /// Writes the classifier to `url` (gzip-compressed when the name ends in `.gz`), atomically.
    public static func save(_ classifier: LoadedClassifier, runArguments: [String: String], metricsJSON: String?, to url: URL) throws {
        let model = classifier.model
        var config = model.config
        config.architectures = [classifier.kind.architecture]
        config.id2label = classifier.labels.id2label
        config.label2id = classifier.labels.label2id
        let runArgumentsJSON = String(
            decoding: try JSONSerialization.data(withJSONObject: runArguments, options: [.sortedKeys]), as: UTF8.self)
        let metadata = CheckpointMetadata(
            configJSON: String(decoding: try config.jsonData(), as: UTF8.self), vocabularyText: classifier.vocabularyText,
            doLowerCase: classifier.tokenizer.lowercase, runArgumentsJSON: runArgumentsJSON, metricsJSON: metricsJSON)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try CheckpointFile.write(
            model.layout.tensorViews(of: UnsafeBufferPointer(model.parameters)), metadata: metadata.dictionary(), to: url)
    }

    /// A run folder of `adapt` (or its `latest` pointer file) stands for the checkpoint that `latest` names.
    public static func resolve(_ url: URL) throws -> URL {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else { return url }
        let pointerName = CheckpointStore.latestPointerName
        if !isDirectory.boolValue && url.lastPathComponent == pointerName {
            return try CheckpointStore(directory: url.deletingLastPathComponent()).latest() ?? url
        }
        let hasPointer = FileManager.default.fileExists(atPath: url.appendingPathComponent(pointerName).path)
        let isModelFolder = FileManager.default.fileExists(atPath: url.appendingPathComponent("config.json").path)
        if isDirectory.boolValue && hasPointer && !isModelFolder {
            return try CheckpointStore(directory: url).latest() ?? url
        }
        return url
    }

    static func tokenizer(of checkpoint: LoadedCheckpoint, config: BertConfig) throws -> (WordPieceTokenizer, String) {
        guard let vocabularyText = checkpoint.vocabularyText else {
            throw ClassificationError.invalidCheckpoint(
                "\(checkpoint.source): no vocabulary (neither in its metadata nor a vocab.txt beside it)")
        }
        let vocabulary = try Vocabulary(tokens: vocabularyTokens(fromText: vocabularyText))
        guard vocabulary.count <= config.vocabSize else {
            throw ClassificationError.invalidCheckpoint(
                "\(checkpoint.source): the vocabulary has \(vocabulary.count) tokens, vocab_size is \(config.vocabSize)")
        }
        return (WordPieceTokenizer(vocabulary: vocabulary, lowercase: checkpoint.doLowerCase ?? true), vocabularyText)
    }
}
