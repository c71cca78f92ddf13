import Foundation
import Model

/// Conversion between our checkpoints and HF model folders that
/// `BertForMaskedLM.from_pretrained(folder)` (or the classification classes) loads.
public enum HFModelFolder {
    /// The transformers class matching a set of heads.
    public static func architecture(for heads: ModelHeads) -> String {
        if heads.classifierLabels != nil { return heads.pooler ? "BertForSequenceClassification" : "BertForTokenClassification" }
        return heads.maskedLM ? "BertForMaskedLM" : "BertModel"
    }

    /// Writes `config.json` (with `architectures`), plain `model.safetensors` with HF names (no optimizer
    /// state), `vocab.txt`, `tokenizer_config.json` and `special_tokens_map.json`.
    public static func export(
        layout: ParameterLayout, parameters: UnsafeBufferPointer<Float>, configJSON: String?, vocabularyText: String,
        doLowerCase: Bool, to folder: URL
    ) throws {
        do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
            throw CheckpointError.io(file: folder.path, reason: "cannot create the folder (\(error.localizedDescription))")
        }
        let config = try configWithArchitecture(configJSON: configJSON, config: layout.config,
                                                architecture: architecture(for: layout.heads))
        try AtomicFile.write(text: config, to: folder.appendingPathComponent("config.json"))
        try CheckpointFile.write(layout.tensorViews(of: parameters), metadata: ["format": "pt"],
                                 to: folder.appendingPathComponent("model.safetensors"))
        try AtomicFile.write(text: vocabularyText, to: folder.appendingPathComponent("vocab.txt"))
        let specialTokens = ["unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
                             "mask_token": "[MASK]"]
        var tokenizerConfig: [String: Any] = specialTokens
        tokenizerConfig["do_lower_case"] = doLowerCase
        tokenizerConfig["tokenizer_class"] = "BertTokenizer"
        tokenizerConfig["model_max_length"] = layout.config.maxPositionEmbeddings
        try AtomicFile.write(text: try jsonText(tokenizerConfig), to: folder.appendingPathComponent("tokenizer_config.json"))
        try AtomicFile.write(text: try jsonText(specialTokens), to: folder.appendingPathComponent("special_tokens_map.json"))
    }

    /// Exports a checkpoint file (any source `LoadedCheckpoint.open` accepts).
    public static func export(checkpoint: LoadedCheckpoint, to folder: URL) throws -> LoadReport {
        let layout = try checkpoint.inferredLayout()
        guard let vocabularyText = checkpoint.vocabularyText else {
            throw CheckpointError.invalidHeader(file: checkpoint.source, reason: "has no vocabulary (metadata 'vocab' or vocab.txt beside it)")
        }
        let arena = UnsafeMutableBufferPointer<Float>.allocate(capacity: layout.totalCount)
        defer { arena.deallocate() }
        arena.initialize(repeating: 0)
        let report = try checkpoint.loadWeights(into: arena, layout: layout, options: LoadOptions(createMissingHeads: false))
        try export(layout: layout, parameters: UnsafeBufferPointer(arena), configJSON: checkpoint.configJSON,
                   vocabularyText: vocabularyText, doLowerCase: checkpoint.doLowerCase ?? true, to: folder)
        return report
    }

    /// Converts an HF folder (or any readable checkpoint) into our checkpoint file, as a
    /// BertForMaskedLM: an absent MLM head is created (seeded), a pooler is dropped as unused.
    public static func importModel(from source: URL, to destination: URL, seed: UInt64 = 0,
                                   compression: Gzip.Options = Gzip.Options()) throws -> LoadReport {
        let checkpoint = try LoadedCheckpoint.open(source)
        guard let config = checkpoint.config, let configJSON = checkpoint.configJSON else {
            throw CheckpointError.invalidModelFolder(folder: source.path, reason: "no config.json")
        }
        guard let vocabularyText = checkpoint.vocabularyText else {
            throw CheckpointError.invalidModelFolder(folder: source.path, reason: "no vocab.txt")
        }
        let layout = ParameterLayout(config: config, heads: .maskedLM)
        let arena = UnsafeMutableBufferPointer<Float>.allocate(capacity: layout.totalCount)
        defer { arena.deallocate() }
        arena.initialize(repeating: 0)
        let report = try checkpoint.loadWeights(into: arena, layout: layout, options: LoadOptions(seed: seed))
        let metadata = CheckpointMetadata(
            configJSON: try configWithArchitecture(configJSON: configJSON, config: config, architecture: "BertForMaskedLM"),
            vocabularyText: vocabularyText, doLowerCase: checkpoint.doLowerCase ?? true)
        try CheckpointFile.write(layout.tensorViews(of: UnsafeBufferPointer(arena)), metadata: metadata.dictionary(),
                                 to: destination, compression: compression)
        return report
    }

    /// The original config.json text (unknown keys kept) with `architectures` set.
    static func configWithArchitecture(configJSON: String?, config: BertConfig, architecture: String) throws -> String {
        var object: [String: Any]
        if let configJSON, let parsed = try? JSONSerialization.jsonObject(with: Data(configJSON.utf8)) as? [String: Any] {
            object = parsed
        } else {
            let data = try config.jsonData()
            object = (try JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
        }
        object["architectures"] = [architecture]
        // The weights we write are F32 whatever the source file held.
        object["dtype"] = "float32"
        if object["torch_dtype"] != nil { object["torch_dtype"] = "float32" }
        return try jsonText(object)
    }

    static func jsonText(_ object: Any) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
