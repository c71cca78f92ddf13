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

    /// Writes `config.json` (with `architectures` naming the heads), plain `model.safetensors` with HF names
    /// (no optimizer state), `vocab.txt`, `tokenizer.json` (HF fast tokenizer), `tokenizer_config.json` and
    /// `special_tokens_map.json`.
    public static func export(_ prepared: PreparedModel, to folder: URL) throws {
        do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
            throw CheckpointError.io(file: folder.path, reason: "cannot create the folder (\(error.localizedDescription))")
        }
        let layout = prepared.model.layout
        try AtomicFile.write(text: prepared.configJSON, to: folder.appendingPathComponent("config.json"))
        try CheckpointFile.write(prepared.model.parameterViews(), metadata: ["format": "pt"],
                                 to: folder.appendingPathComponent("model.safetensors"))
        try AtomicFile.write(text: prepared.vocabularyText, to: folder.appendingPathComponent("vocab.txt"))
        try AtomicFile.write(text: try prepared.tokenizer.huggingFaceJSON(), to: folder.appendingPathComponent("tokenizer.json"))
        let specialTokens = ["unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
                             "mask_token": "[MASK]"]
        var tokenizerConfig: [String: Any] = specialTokens
        tokenizerConfig["do_lower_case"] = prepared.lowercase
        tokenizerConfig["tokenizer_class"] = "BertTokenizer"
        tokenizerConfig["model_max_length"] = layout.config.maxPositionEmbeddings
        try AtomicFile.write(text: try jsonText(tokenizerConfig), to: folder.appendingPathComponent("tokenizer_config.json"))
        try AtomicFile.write(text: try jsonText(specialTokens), to: folder.appendingPathComponent("special_tokens_map.json"))
    }

    /// Exports a checkpoint with the heads it holds (none created).
    @discardableResult
    public static func export(checkpoint: LoadedCheckpoint, to folder: URL) throws -> LoadReport {
        let prepared = try ModelLoading.prepare(checkpoint, heads: .stored)
        try export(prepared, to: folder)
        return prepared.report
    }

    /// Converts any `CheckpointReference` (an HF or sentence-transformers folder, ...) into our checkpoint
    /// file, as a BertForMaskedLM: an absent MLM head is created (seeded), a pooler is dropped as unused.
    public static func importModel(from source: URL, to destination: URL, seed: UInt64 = 0,
                                   compression: Gzip.Options = Gzip.Options()) throws -> LoadReport {
        let prepared = try ModelLoading.prepare(CheckpointReference.resolve(source), heads: .maskedLM, seed: seed)
        let metadata = CheckpointMetadata(
            configJSON: prepared.configJSON, vocabularyText: prepared.vocabularyText, doLowerCase: prepared.lowercase)
        try CheckpointFile.write(prepared.model.parameterViews(), metadata: metadata.dictionary(), to: destination,
                                 compression: compression)
        return prepared.report
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
