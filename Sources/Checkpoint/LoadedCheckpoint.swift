import Foundation
import Model

/// A checkpoint opened from any `CheckpointReference`: our `.safetensors.gz` (alone, in a run folder
/// or named by `latest`), a plain `.safetensors` (with `config.json`/`vocab.txt` beside it when its
/// metadata has none), an HF model folder (`config.json`, `model.safetensors`, optional `vocab.txt` and
/// `tokenizer_config.json`) or a sentence-transformers folder. The file is read and decompressed once.
public struct LoadedCheckpoint: Sendable {
    /// What errors name: the model folder, or the checkpoint file (also for a run folder or `latest`).
    public let url: URL
    /// The path as the user gave it, and what it resolved to.
    public let reference: CheckpointReference
    public let tensors: SafeTensorsFile
    public let metadata: CheckpointMetadata
    /// config.json text: from the metadata, else the file beside it / in the folder.
    public let configJSON: String?
    public let config: BertConfig?
    public let vocabularyText: String?
    /// Where `vocabularyText` came from, for errors: the metadata entry or the vocab.txt file.
    public let vocabularySource: String
    public let doLowerCase: Bool?

    public var source: String { url.path }
    public var vocabularyTokenList: [String]? { vocabularyText.map(vocabularyTokens(fromText:)) }

    /// Opens any path `CheckpointReference` accepts.
    public static func open(_ url: URL) throws -> LoadedCheckpoint {
        try CheckpointReference.resolve(url).open()
    }

    static func open(reference: CheckpointReference) throws -> LoadedCheckpoint {
        try open(file: reference.weights, companions: reference.companions, reportedURL: reference.displayURL,
                 reference: reference)
    }

    private static func open(file: URL, companions folder: URL, reportedURL: URL, reference: CheckpointReference) throws -> LoadedCheckpoint {
        let tensors = try CheckpointFile.read(file)
        let metadata = try CheckpointMetadata(dictionary: tensors.metadata, source: file.path)
        let configFile = folder.appendingPathComponent("config.json")
        let configJSON = try metadata.configJSON ?? readTextIfPresent(configFile)
        let configSource = metadata.configJSON != nil ? "\(file.path) (metadata 'config')" : configFile.path
        let config = try configJSON.map { try BertConfig.decode(Data($0.utf8), source: configSource) }
        if let embedded = metadata.vocabularyText, let config {
            // Our writer embeds exactly vocab_size tokens; one changed byte that merges or splits a line shifts every later id.
            let count = vocabularyTokens(fromText: embedded).count
            guard count == config.vocabSize else {
                throw CheckpointError.vocabMismatch(
                    file: file.path, reason: "the embedded vocab has \(count) tokens but vocab_size is \(config.vocabSize)")
            }
        }
        let vocabularyFile = folder.appendingPathComponent("vocab.txt")
        let vocabularyText = try metadata.vocabularyText ?? readTextIfPresent(vocabularyFile)
        let vocabularySource = metadata.vocabularyText != nil ? "\(file.path) (metadata 'vocab')" : vocabularyFile.path
        var doLowerCase = metadata.doLowerCase
        if doLowerCase == nil, let tokenizerConfig = try readTextIfPresent(folder.appendingPathComponent("tokenizer_config.json")) {
            let object = try? JSONSerialization.jsonObject(with: Data(tokenizerConfig.utf8)) as? [String: Any]
            doLowerCase = object?["do_lower_case"] as? Bool
        }
        return LoadedCheckpoint(
            url: reportedURL, reference: reference, tensors: tensors, metadata: metadata, configJSON: configJSON, config: config,
            vocabularyText: vocabularyText, vocabularySource: vocabularySource, doLowerCase: doLowerCase)
    }

    private static func readTextIfPresent(_ url: URL) throws -> String? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        do { return try String(contentsOf: url, encoding: .utf8) } catch {
            throw CheckpointError.io(file: url.path, reason: "cannot read as UTF-8 text (\(error.localizedDescription))")
        }
    }

    /// The layout this checkpoint's tensors describe (its config and the heads present).
    public func inferredLayout() throws -> ParameterLayout {
        guard let config else {
            throw CheckpointError.configMismatch(file: source, reason: "no config in the metadata and no config.json beside it")
        }
        let shapes = Dictionary(tensors.entries.map { ($0.name, $0.shape) }, uniquingKeysWith: { first, _ in first })
        return ParameterLayout(config: config, heads: ParameterLayout.inferHeads(fromTensorNames: shapes.keys, shapes: shapes))
    }

    /// Refuses a checkpoint whose vocabulary differs from the one in use.
    public func verifyVocabulary(inUse tokens: [String]) throws {
        guard let checkpointTokens = vocabularyTokenList else { return }
        try Checkpoint.verifyVocabulary(checkpoint: checkpointTokens, inUse: tokens, source: source)
    }

    /// Refuses a checkpoint whose architecture sizes differ from `expected`.
    public func verifyConfig(matches expected: BertConfig) throws {
        guard let config else { return }
        let fields: [(String, Int, Int)] = [
            ("vocab_size", config.vocabSize, expected.vocabSize), ("hidden_size", config.hiddenSize, expected.hiddenSize),
            ("num_hidden_layers", config.numHiddenLayers, expected.numHiddenLayers),
            ("num_attention_heads", config.numAttentionHeads, expected.numAttentionHeads),
            ("intermediate_size", config.intermediateSize, expected.intermediateSize),
            ("max_position_embeddings", config.maxPositionEmbeddings, expected.maxPositionEmbeddings),
            ("type_vocab_size", config.typeVocabSize, expected.typeVocabSize),
        ]
        let differences = fields.filter { $0.1 != $0.2 }.map { "\($0.0) is \($0.1) in the checkpoint, \($0.2) in the model" }
        guard differences.isEmpty else {
            throw CheckpointError.configMismatch(file: source, reason: differences.joined(separator: "; "))
        }
    }
}
