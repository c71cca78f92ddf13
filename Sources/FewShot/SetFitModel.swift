import Checkpoint
import Classification
import Foundation
import Model
import SentenceEmbedding
import Tokenizer

/// A SetFit classifier: a sentence encoder (pooling, then L2 normalisation) and a linear softmax head on
/// the normalised embedding, whose weights live in the model's arena as `classifier.weight` `[k, H]` and
/// `classifier.bias` `[k]` (a logistic-regression head is stored in that form). No pooler.
public final class SetFitModel {
    /// The checkpoint metadata key that marks a SetFit file and holds its `Settings`.
    public static let metadataKey = "setfit"

    /// What a SetFit checkpoint says about reading it, besides config, vocabulary and labels.
    public struct Settings: Codable, Equatable, Sendable {
        public var pooling: Pooling
        public var head: SetFitHeadKind
        public var maxSeqLength: Int
        enum CodingKeys: String, CodingKey { case pooling, head, maxSeqLength = "max_seq_length" }
    }

    public let model: BertModel
    public let tokenizer: WordPieceTokenizer
    public let vocabularyText: String
    public let labels: LabelSet
    public var settings: Settings

    public init(model: BertModel, tokenizer: WordPieceTokenizer, vocabularyText: String, labels: LabelSet, settings: Settings) throws {
        guard model.layout.heads.classifierLabels == labels.count, !model.layout.heads.pooler else {
            throw FewShotError("a SetFit model needs a classifier of \(labels.count) outputs and no pooler")
        }
        self.model = model; self.tokenizer = tokenizer; self.vocabularyText = vocabularyText
        self.labels = labels; self.settings = settings
    }

    var headWeight: UnsafeMutableBufferPointer<Float> { model.tensor("classifier.weight")! }
    var headBias: UnsafeMutableBufferPointer<Float> { model.tensor("classifier.bias")! }

    /// Writes a fitted logistic regression into the head.
    public func setHead(_ regression: LogisticRegression) {
        let (weights, bias) = regression.softmaxWeights
        _ = weights.withUnsafeBufferPointer { headWeight.update(fromContentsOf: $0) }
        _ = bias.withUnsafeBufferPointer { headBias.update(fromContentsOf: $0) }
        model.parametersDidChange()
    }

    public func encoder(batchSize: Int) throws -> SentenceEncoder {
        try SentenceEncoder(
            model: model, tokenizer: tokenizer, pooling: settings.pooling, maxRows: batchSize,
            maxSeqLength: settings.maxSeqLength)
    }

    /// Softmax probabilities `[n, k]` of normalised embeddings `[n, H]`.
    public func probabilities(embeddings: [Float]) -> [[Float]] {
        let h = model.config.hiddenSize, k = labels.count
        let n = embeddings.count / h
        let w = headWeight, b = headBias
        return (0..<n).map { row in
            var logits = (0..<k).map { c in
                var z = b[c]
                for i in 0..<h { z += w[c * h + i] * embeddings[row * h + i] }
                return z
            }
            let top = logits.max()!
            var sum: Float = 0
            for c in 0..<k { logits[c] = exp(logits[c] - top); sum += logits[c] }
            return logits.map { $0 / sum }
        }
    }

    // MARK: - Checkpoint

    /// Writes the encoder, the head and the labels (config `id2label`/`label2id`), with the settings under
    /// `setfit` in the metadata, as one gzip-compressed safetensors file (atomically).
    public func save(runArguments: [String: String], metricsJSON: String?, to url: URL) throws {
        var config = model.config
        config.architectures = ["BertModel"]
        config.id2label = labels.id2label
        config.label2id = labels.label2id
        let runArgumentsJSON = String(
            decoding: try JSONSerialization.data(withJSONObject: runArguments, options: [.sortedKeys]), as: UTF8.self)
        var metadata = CheckpointMetadata(
            configJSON: String(decoding: try config.jsonData(), as: UTF8.self), vocabularyText: vocabularyText,
            doLowerCase: tokenizer.lowercase, runArgumentsJSON: runArgumentsJSON, metricsJSON: metricsJSON)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        metadata.extra[Self.metadataKey] = String(decoding: try encoder.encode(settings), as: UTF8.self)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try CheckpointFile.write(
            model.layout.tensorViews(of: UnsafeBufferPointer(model.parameters)), metadata: metadata.dictionary(), to: url)
    }

    /// True when `checkpoint` was written by `save`.
    public static func isSetFit(_ checkpoint: LoadedCheckpoint) -> Bool { checkpoint.metadata.extra[metadataKey] != nil }

    /// Reads a file written by `save`.
    public static func load(_ checkpoint: LoadedCheckpoint) throws -> SetFitModel {
        guard let text = checkpoint.metadata.extra[metadataKey] else {
            throw FewShotError("\(checkpoint.source): not a SetFit checkpoint (no '\(metadataKey)' metadata)")
        }
        let settings: Settings
        do { settings = try JSONDecoder().decode(Settings.self, from: Data(text.utf8)) } catch {
            throw FewShotError("\(checkpoint.source): the '\(metadataKey)' metadata is not valid (\(error))")
        }
        guard let config = checkpoint.config else { throw FewShotError("\(checkpoint.source): no config") }
        let labels = try LabelSet(config: config, source: checkpoint.source)
        let prepared = try ModelLoading.prepare(
            checkpoint, heads: .exactly(ModelHeads(maskedLM: false, pooler: false, classifierLabels: labels.count)))
        return try SetFitModel(
            model: prepared.model, tokenizer: prepared.tokenizer, vocabularyText: prepared.vocabularyText, labels: labels,
            settings: settings)
    }

    /// `predict`'s JSON lines (the shape `Predictor` gives a sequence classifier), one per text, blank ones included.
    public func predictionLines(_ texts: [TextExample], batchSize: Int) throws -> [String] {
        let encoder = try encoder(batchSize: batchSize)
        let filled = texts.indices.filter { !texts[$0].text.allSatisfy(\.isWhitespace) }
        let embeddings = try encoder.embed(filled.map { encoder.tokenize(texts[$0].text) }, normalize: true)
        let probabilities = probabilities(embeddings: embeddings)
        return try Predictor.sequenceLines(
            texts, probabilities: Dictionary(uniqueKeysWithValues: zip(filled, probabilities)), names: labels.names)
    }
}
