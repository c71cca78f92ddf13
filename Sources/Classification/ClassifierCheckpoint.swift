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
    /// A `kind` model for `labels` whose encoder comes from `source` (any `CheckpointReference`: an HF or
    /// sentence-transformers folder, an `adapt` run folder or checkpoint, ...). Heads absent from the
    /// source (pooler, classifier) are initialised as BERT does, from `seed`.
    public static func initialize(from source: URL, kind: ClassifierKind, labels: LabelSet, seed: UInt64) throws -> LoadedClassifier {
        let prepared = try ModelLoading.prepare(
            CheckpointReference.resolve(source), heads: .newClassifier(pooler: kind == .sequence, labels: labels.count),
            seed: seed)
        return LoadedClassifier(
            kind: kind, model: prepared.model, labels: labels, tokenizer: prepared.tokenizer,
            vocabularyText: prepared.vocabularyText, initializedTensors: prepared.report.initialized,
            notes: prepared.notes)
    }

    /// Loads a fine-tuned classifier written by `save` (or by `transformers`' `save_pretrained` with a vocab.txt),
    /// from any `CheckpointReference` (a classify run folder included).
    public static func load(from source: URL) throws -> LoadedClassifier {
        try load(CheckpointReference.resolve(source).open())
    }

    /// The same, from a checkpoint already opened.
    public static func load(_ checkpoint: LoadedCheckpoint) throws -> LoadedClassifier {
        guard let config = checkpoint.config else {
            throw ClassificationError.invalidCheckpoint("\(checkpoint.source): no config")
        }
        guard let kind = ClassifierKind(architectures: config.architectures) else {
            throw ClassificationError.invalidCheckpoint(
                "\(checkpoint.source): architectures is \(config.architectures ?? []), not BertForSequenceClassification or BertForTokenClassification")
        }
        let labels = try LabelSet(config: config, source: checkpoint.source)
        let prepared = try ModelLoading.prepare(
            checkpoint, heads: .exactly(ModelHeads(maskedLM: false, pooler: kind == .sequence, classifierLabels: labels.count)))
        return LoadedClassifier(
            kind: kind, model: prepared.model, labels: labels, tokenizer: prepared.tokenizer,
            vocabularyText: prepared.vocabularyText, initializedTensors: [], notes: prepared.report.warnings)
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
}
