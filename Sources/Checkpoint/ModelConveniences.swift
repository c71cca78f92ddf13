import Foundation
import Model
import Tokenizer

extension LoadedCheckpoint {
    /// Fills a model's parameter arena; see `loadWeights(into:layout:options:)`.
    public func loadWeights(into model: BertModel, options: LoadOptions = LoadOptions()) throws -> LoadReport {
        try loadWeights(into: model.parameters, layout: model.layout, options: options)
    }

    /// Refuses a checkpoint whose embedded vocabulary differs from the one in use.
    public func verifyVocabulary(_ vocabulary: Vocabulary) throws {
        try verifyVocabulary(inUse: vocabulary.tokens)
    }

    /// A new model with this checkpoint's config and the given heads, weights loaded.
    public func makeModel(heads: ModelHeads, options: LoadOptions = LoadOptions()) throws -> (BertModel, LoadReport) {
        guard let config else {
            throw CheckpointError.configMismatch(file: source, reason: "no config in the metadata and no config.json beside it")
        }
        let model = BertModel(layout: ParameterLayout(config: config, heads: heads))
        let report = try loadWeights(into: model, options: options)
        return (model, report)
    }
}

/// Loads any supported checkpoint (`.safetensors.gz`, `.safetensors`, HF folder) into `model`.
@discardableResult
public func loadModelWeights(from url: URL, into model: BertModel, options: LoadOptions = LoadOptions()) throws -> LoadReport {
    try LoadedCheckpoint.open(url).loadWeights(into: model, options: options)
}

extension BertModel {
    /// Views of every parameter with HF names, for `CheckpointFile.write` / `CheckpointStore.save`.
    public func parameterViews() -> [TensorView] {
        layout.tensorViews(of: UnsafeBufferPointer(parameters))
    }
}
