import Checkpoint
import Foundation
import Model
import Testing
import Tokenizer

@testable import Classification

/// A tiny vocabulary whose ids 0–4 are the special tokens, so toy ids and real text share one model.
enum TinyVocabulary {
    static let tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "new", "york", "is", "big", "##gest", "city",
                         "the", "-", "a", "good", "bad", "movie", "film", ".", "!", "it", "was", "not", "very",
                         "i", "liked", "hated", "##s", "great", "boring", "plot", "on"]
    static var text: String { tokens.joined(separator: "\n") + "\n" }
    static func tokenizer() throws -> WordPieceTokenizer { WordPieceTokenizer(vocabulary: try Vocabulary(tokens: tokens)) }
}

func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("classification-\(UUID())")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

@Suite struct CheckpointAndEncodingTests {
    @Test func wordsKeepOneIdAndOnlyTheFirstPieceIsLabelled() throws {
        let tokenizer = try TinyVocabulary.tokenizer()
        let labels = try LabelSet(names: ["B-loc", "I-loc", "O"])
        let sentence = TaggedSentence(words: ["New-York", "is", "biggest"], tags: ["B-loc", "O", "O"], line: 1)
        let encoded = try TaskEncoder.encode([sentence], labels: labels, tokenizer: tokenizer, maxLength: 16, path: "t.conll")[0]
        // [CLS] new - york is big ##gest [SEP]
        #expect(encoded.ids == [2, 5, 12, 6, 7, 8, 9, 3])
        #expect(encoded.wordIds == [-1, 0, 0, 0, 1, 2, 2, -1])
        #expect(encoded.tokenLabels == [-100, 0, -100, -100, 2, 2, -100, -100])
        // Cut to 5 tokens: the third word is lost, and counted as truncated.
        let cut = try TaskEncoder.encode([sentence], labels: labels, tokenizer: tokenizer, maxLength: 5, path: "t.conll")[0]
        #expect(cut.ids == [2, 5, 12, 6, 3] && cut.truncated && cut.wordCount == 3)
        // A word of control characters has no piece (as in HF) and so no label position.
        let empty = TaggedSentence(words: ["is", "\u{7}", "big"], tags: ["O", "B-loc", "O"], line: 1)
        let withEmpty = try TaskEncoder.encode([empty], labels: labels, tokenizer: tokenizer, maxLength: 16, path: "t.conll")[0]
        #expect(withEmpty.ids == [2, 7, 8, 3] && withEmpty.wordIds == [-1, 0, 2, -1] && withEmpty.wordCount == 3)
        let unknown = TaggedSentence(words: ["city"], tags: ["B-org"], line: 9)
        #expect(throws: ClassificationError.self) {
            try TaskEncoder.encode([unknown], labels: labels, tokenizer: tokenizer, maxLength: 8, path: "t.conll")
        }
    }

    @Test func sequenceTruncationKeepsSpecialTokens() throws {
        let tokenizer = try TinyVocabulary.tokenizer()
        let examples = [TextExample(text: "the film was not very good", pair: "boring plot", label: "0", line: 2)]
        let full = TaskEncoder.encode(examples, labels: [0], tokenizer: tokenizer, maxLength: 64)[0]
        #expect(full.ids.count == 11 && !full.truncated)
        #expect(full.typeIds == [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1])
        let cut = TaskEncoder.encode(examples, labels: [0], tokenizer: tokenizer, maxLength: 8)[0]
        #expect(cut.ids.count == 8 && cut.truncated && cut.ids.first == 2 && cut.ids.last == 3)
    }

    /// save → load gives the same kind, labels and bit-identical probabilities.
    @Test(arguments: [ClassifierKind.sequence, .token])
    func classifierCheckpointRoundTrips(kind: ClassifierKind) throws {
        let tokenizer = try TinyVocabulary.tokenizer()
        let labels = try LabelSet(names: kind == .sequence ? ["neg", "pos"] : ["B-loc", "I-loc", "O"])
        let model = ToyTask.model(kind: kind, classes: labels.count, seed: 9)
        let original = LoadedClassifier(
            kind: kind, model: model, labels: labels, tokenizer: tokenizer, vocabularyText: TinyVocabulary.text,
            initializedTensors: [], notes: [])
        let url = try temporaryDirectory().appendingPathComponent("model.safetensors.gz")
        try ClassifierCheckpoint.save(original, runArguments: ["command": "test"], metricsJSON: nil, to: url)
        let loaded = try ClassifierCheckpoint.load(from: url)
        #expect(loaded.kind == kind)
        #expect(loaded.labels == labels)
        #expect(loaded.model.config.architectures == [kind.architecture])
        #expect(Array(loaded.model.parameters) == Array(model.parameters))

        let texts = ["new york is the biggest city", "i liked it", "a boring film !"].enumerated().map {
            TextExample(text: $0.element, label: nil, line: $0.offset + 1)
        }
        let before = try Predictor.predict(texts, with: original, maxSeqLength: 16, batchSize: 2)
        let after = try Predictor.predict(texts, with: loaded, maxSeqLength: 16, batchSize: 2)
        #expect(before == after)
        #expect(before.count == 3)
    }

    /// An MLM checkpoint has no pooler or classifier: both are created, and reported.
    @Test func poolerMissingFromAnMLMCheckpointIsInitialisedAndReported() throws {
        var config = ToyTask.model(kind: .token, classes: 2).config
        config.architectures = ["BertForMaskedLM"]
        let mlm = BertModel(layout: ParameterLayout(config: config, heads: .maskedLM))
        mlm.initializeWeights(seed: 4)
        let metadata = CheckpointMetadata(
            configJSON: String(decoding: try config.jsonData(), as: UTF8.self), vocabularyText: TinyVocabulary.text,
            doLowerCase: true)
        let url = try temporaryDirectory().appendingPathComponent("mlm.safetensors.gz")
        try CheckpointFile.write(
            mlm.layout.tensorViews(of: UnsafeBufferPointer(mlm.parameters)), metadata: metadata.dictionary(), to: url)

        // A run folder's `latest` pointer (as `adapt` writes it) names the checkpoint.
        try Data("mlm.safetensors.gz\n".utf8).write(to: url.deletingLastPathComponent().appendingPathComponent("latest"))
        #expect(try CheckpointReference.resolve(url.deletingLastPathComponent()).weights == url)
        #expect(try CheckpointReference.resolve(url.deletingLastPathComponent().appendingPathComponent("latest")).weights == url)
        let loaded = try ClassifierCheckpoint.initialize(
            from: url.deletingLastPathComponent(), kind: .sequence, labels: try LabelSet(names: ["a", "b", "c"]), seed: 1)
        #expect(Set(loaded.initializedTensors) == [
            "bert.pooler.dense.weight", "bert.pooler.dense.bias", "classifier.weight", "classifier.bias",
        ])
        #expect(loaded.notes.contains { $0.contains("bert.pooler.dense.weight") })
        let name = "bert.encoder.layer.1.output.dense.weight"
        #expect(Array(loaded.model.tensor(name)!) == Array(mlm.tensor(name)!))
        // Not all zero: the pooler was initialised, not left empty.
        #expect(loaded.model.tensor("bert.pooler.dense.weight")!.contains { $0 != 0 })
    }
}
