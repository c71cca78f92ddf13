import Foundation
import Model
import SeededRandom
import Testing

@testable import Classification

/// A tiny random BERT and toy tasks built from token ids, so the tests need no tokenizer or download.
enum ToyTask {
    static let cls: Int32 = 2, sep: Int32 = 3

    static func model(kind: ClassifierKind, classes: Int, seed: UInt64 = 1, dropout: Float = 0.1) -> BertModel {
        var config = BertConfig(
            vocabSize: 32, hiddenSize: 16, numHiddenLayers: 2, numAttentionHeads: 2, intermediateSize: 32,
            maxPositionEmbeddings: 16)
        config.hiddenDropoutProb = dropout
        config.attentionProbsDropoutProb = dropout
        let model = BertModel(layout: ParameterLayout(
            config: config, heads: ModelHeads(maskedLM: false, pooler: kind == .sequence, classifierLabels: classes)))
        model.initializeWeights(seed: seed)
        return model
    }

    /// Class 0 or 1 is told by a marker token (5 or 6) hidden among random filler tokens (10..<32).
    static func sequenceExamples(count: Int, seed: UInt64) -> [EncodedExample] {
        var generator = SplitMix64(state: seed)
        return (0..<count).map { index in
            let label = Int32(index % 2)
            var body = (0..<Int.random(in: 3...8, using: &generator)).map { _ in Int32.random(in: 10..<32, using: &generator) }
            body.insert(5 + label, at: Int.random(in: 0...body.count, using: &generator))
            let ids = [cls] + body + [sep]
            return EncodedExample(
                ids: ids, typeIds: [Int32](repeating: 0, count: ids.count), label: label, tokenLabels: [], wordIds: [],
                wordCount: 0, truncated: false)
        }
    }

    /// Tags: a word whose id is below 20 is an entity `B-X` (tag 0), others `O` (tag 1). Every other word
    /// is split into two pieces (the second piece gets -100), as WordPiece does.
    static func taggedExamples(count: Int, seed: UInt64) -> ([EncodedExample], [[String]]) {
        var generator = SplitMix64(state: seed)
        var examples: [EncodedExample] = [], tags: [[String]] = []
        for _ in 0..<count {
            let words = (0..<Int.random(in: 2...5, using: &generator)).map { _ in Int32.random(in: 10..<32, using: &generator) }
            var ids: [Int32] = [cls], labels: [Int32] = [-100], wordIds: [Int32] = [-1]
            for (w, id) in words.enumerated() {
                ids.append(id); labels.append(id < 20 ? 0 : 1); wordIds.append(Int32(w))
                if w % 2 == 1 { ids.append(4); labels.append(-100); wordIds.append(Int32(w)) }
            }
            ids.append(sep); labels.append(-100); wordIds.append(-1)
            examples.append(EncodedExample(
                ids: ids, typeIds: [Int32](repeating: 0, count: ids.count), label: -100, tokenLabels: labels,
                wordIds: wordIds, wordCount: words.count, truncated: false))
            tags.append(words.map { $0 < 20 ? "B-X" : "O" })
        }
        return (examples, tags)
    }
}

@Suite struct FineTuneTests {
    @Test func learnsSeparableSequenceTask() throws {
        let labels = try LabelSet(names: ["zero", "one"])
        let classifier = try Classifier(
            kind: .sequence, model: ToyTask.model(kind: .sequence, classes: 2), labels: labels, batchSize: 8, maxSeqLength: 16)
        let tuner = try FineTuner(
            classifier: classifier,
            options: FineTuneOptions(epochs: 25, batchSize: 8, learningRate: 3e-3, warmup: .ratio(0.1), patience: nil, seed: 7,
                                     maxSeqLength: 16))
        tuner.log = { _ in }
        let train = ToyTask.sequenceExamples(count: 64, seed: 1), dev = ToyTask.sequenceExamples(count: 32, seed: 2)
        let outcome = try tuner.train(train, validation: dev)
        let (metrics, predictions) = try tuner.evaluate(dev, goldTags: nil)
        #expect(metrics.classification?.accuracy == 1)
        #expect(metrics.classification?.macroF1 == 1)
        #expect(outcome.epochs.first!.trainLoss > outcome.epochs.last!.trainLoss)
        #expect(predictions.probabilities.allSatisfy { abs($0.reduce(0, +) - 1) < 1e-5 })
    }

    @Test func learnsSeparableTokenTask() throws {
        let labels = try LabelSet(names: ["B-X", "O"])
        let classifier = try Classifier(
            kind: .token, model: ToyTask.model(kind: .token, classes: 2), labels: labels, batchSize: 8, maxSeqLength: 16)
        let tuner = try FineTuner(
            classifier: classifier,
            options: FineTuneOptions(epochs: 15, batchSize: 8, learningRate: 3e-3, patience: nil, seed: 3, maxSeqLength: 16))
        tuner.log = { _ in }
        let (train, _) = ToyTask.taggedExamples(count: 64, seed: 4)
        let (dev, devTags) = ToyTask.taggedExamples(count: 24, seed: 5)
        _ = try tuner.train(train, validation: dev, validationTags: devTags)
        let (metrics, predictions) = try tuner.evaluate(dev, goldTags: devTags)
        #expect(metrics.entities?.f1 == 1)
        #expect(classifier.tagNames(predictions) == devTags)
    }

    /// Frozen tensors stay bit-identical (and have no optimizer state); trainable ones move.
    @Test(arguments: [
        FreezeOptions(embeddings: true), FreezeOptions(bottomLayers: 1), FreezeOptions(encoder: true),
    ])
    func frozenTensorsStayBitIdentical(freeze: FreezeOptions) throws {
        let labels = try LabelSet(names: ["zero", "one"])
        let model = ToyTask.model(kind: .sequence, classes: 2)
        let before = Array(model.parameters)
        let classifier = try Classifier(kind: .sequence, model: model, labels: labels, batchSize: 8, maxSeqLength: 16)
        let tuner = try FineTuner(
            classifier: classifier,
            options: FineTuneOptions(epochs: 2, batchSize: 8, learningRate: 1e-3, patience: nil, maxSeqLength: 16, freeze: freeze))
        tuner.log = { _ in }
        _ = try tuner.train(ToyTask.sequenceExamples(count: 24, seed: 1), validation: ToyTask.sequenceExamples(count: 8, seed: 2))
        var frozenCount = 0
        for tensor in model.layout.tensors {
            let old = before[tensor.offset..<(tensor.offset + tensor.count)]
            let new = model.parameters[tensor.offset..<(tensor.offset + tensor.count)]
            if freeze.isFrozen(tensor.name) {
                frozenCount += 1
                #expect(old.elementsEqual(new) { $0.bitPattern == $1.bitPattern }, "\(tensor.name) changed")
                #expect(tuner.optimizer.moments(of: tensor.name) == nil, "\(tensor.name) has optimizer state")
            } else if !tensor.name.contains("LayerNorm.bias") || tensor.name.hasPrefix("bert.encoder") {
                #expect(!old.elementsEqual(new), "\(tensor.name) did not train")
            }
        }
        #expect(frozenCount > 0)
        if freeze.encoder { #expect(tuner.trainableParameterCount == 16 * 16 + 16 + 2 * 16 + 2) }
    }

    /// The frozen-features path scores exactly as a full forward pass does.
    @Test(arguments: [ClassifierKind.sequence, .token])
    func cachedFeaturesPredictAsTheFullModel(kind: ClassifierKind) throws {
        let labels = try LabelSet(names: kind == .sequence ? ["zero", "one"] : ["B-X", "O"])
        let classifier = try Classifier(
            kind: kind, model: ToyTask.model(kind: kind, classes: 2), labels: labels, batchSize: 4, maxSeqLength: 16)
        let examples = kind == .sequence
            ? ToyTask.sequenceExamples(count: 10, seed: 8) : ToyTask.taggedExamples(count: 10, seed: 8).0
        let full = try classifier.predict(examples)
        let cached = try FeatureCache(classifier: classifier, examples: examples).predict(classifier: classifier)
        #expect(cached.labels == full.labels && cached.wordTags == full.wordTags)
        for (a, b) in zip(cached.probabilities + cached.wordConfidences, full.probabilities + full.wordConfidences) {
            #expect(zip(a, b).allSatisfy { abs($0 - $1) < 1e-5 })
        }
        #expect(abs(cached.loss - full.loss) < 1e-5)
    }

    @Test func freezeOptionsSelectByName() {
        let layers = FreezeOptions(bottomLayers: 2)
        #expect(layers.isFrozen("bert.embeddings.word_embeddings.weight"))
        #expect(layers.isFrozen("bert.encoder.layer.1.output.dense.weight"))
        #expect(!layers.isFrozen("bert.encoder.layer.2.output.dense.weight"))
        #expect(!layers.isFrozen("bert.encoder.layer.10.output.dense.weight"))
        #expect(!FreezeOptions(encoder: true).isFrozen("bert.pooler.dense.weight"))
        #expect(!FreezeOptions(encoder: true).isFrozen("classifier.bias"))
        #expect(!FreezeOptions(embeddings: true).isFrozen("bert.encoder.layer.0.attention.self.query.weight"))
    }
}
