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
}

extension BertModel {
    /// Views of every parameter with HF names, for `CheckpointFile.write` / `CheckpointStore.save`.
    public func parameterViews() -> [TensorView] {
        layout.tensorViews(of: UnsafeBufferPointer(parameters))
    }
}
