import Checkpoint
import Foundation
import Model
import Testing
import Tokenizer

@testable import Classification

/// classify and ner start from an adapted checkpoint with an extended vocabulary: they read text with that
/// checkpoint's own vocabulary, take its grown embeddings, and their checkpoints keep both.
@Suite struct ExtendedVocabularyTests {
    static let added = ["films", "biggest", "movies"]

    /// An MLM checkpoint of the tiny vocabulary extended by `added`, as `adapt --vocab-extension` saves it.
    static func extendedCheckpoint() throws -> (url: URL, prepared: PreparedModel) {
        var config = ToyTask.model(kind: .token, classes: 2).config
        config.architectures = ["BertForMaskedLM"]
        let mlm = BertModel(layout: ParameterLayout(config: config, heads: .maskedLM))
        mlm.initializeWeights(seed: 4)
        let folder = try temporaryDirectory()
        let baseURL = folder.appendingPathComponent("base.safetensors.gz")
        let baseMetadata = CheckpointMetadata(
            configJSON: String(decoding: try config.jsonData(), as: UTF8.self), vocabularyText: TinyVocabulary.text, doLowerCase: true)
        try CheckpointFile.write(mlm.parameterViews(), metadata: baseMetadata.dictionary(), to: baseURL)
        let base = try ModelLoading.prepare(CheckpointReference.resolve(baseURL), heads: .maskedLM)
        let extended = try base.extendingVocabulary(to: TinyVocabulary.tokens + added, file: "extension.txt")
        let url = folder.appendingPathComponent("extended.safetensors.gz")
        let metadata = CheckpointMetadata(
            configJSON: extended.configJSON, vocabularyText: extended.vocabularyText, doLowerCase: true)
        try CheckpointFile.write(extended.model.parameterViews(), metadata: metadata.dictionary(), to: url)
        return (url, extended)
    }

    @Test(arguments: [ClassifierKind.sequence, .token])
    func fineTuningUsesTheCheckpointsOwnVocabulary(kind: ClassifierKind) throws {
        let (url, extended) = try Self.extendedCheckpoint()
        let labels = try LabelSet(names: kind == .token ? ["B-x", "I-x", "O"] : ["a", "b"])
        let loaded = try ClassifierCheckpoint.initialize(from: url, kind: kind, labels: labels, seed: 1)
        let tokens = TinyVocabulary.tokens + Self.added
        #expect(loaded.tokenizer.vocabulary.tokens == tokens)
        #expect(loaded.model.config.vocabSize == tokens.count)
        #expect(loaded.tokenizer.encode("the films", addSpecialTokens: false).ids == [11, 32])
        let name = "bert.embeddings.word_embeddings.weight"
        #expect(Array(loaded.model.tensor(name)!) == Array(extended.model.tensor(name)!))
        // The task encoders read with it: "biggest" is one token now, not big ##gest.
        let sentence = TaggedSentence(words: ["biggest", "films"], tags: ["O", "O"], line: 1)
        let encoded = try TaskEncoder.encode([sentence], labels: try LabelSet(names: ["O"]), tokenizer: loaded.tokenizer,
                                             maxLength: 16, path: "t.conll")[0]
        #expect(encoded.ids == [2, 33, 32, 3])

        // The fine-tuned checkpoint keeps the extended vocabulary, and predict reads it back.
        let saved = url.deletingLastPathComponent().appendingPathComponent("model.safetensors.gz")
        try ClassifierCheckpoint.save(loaded, runArguments: [:], metricsJSON: nil, to: saved)
        let reloaded = try ClassifierCheckpoint.load(from: saved)
        #expect(reloaded.tokenizer.vocabulary.tokens == tokens)
        #expect(reloaded.model.config.vocabSize == tokens.count)
    }
}
