import Foundation
import Model
import Reporting
import Testing

@testable import Classification

/// Collects progress text.
final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var parts: [String] = []
    func append(_ s: String) { lock.withLock { parts.append(s) } }
    var text: String { lock.withLock { parts.joined() } }
}

@Suite struct GradientAccumulationTests {
    /// Without dropout, k batches of b accumulated are one batch of k·b: the same mean gradient, the same update.
    @Test(arguments: [ClassifierKind.sequence, .token])
    func accumulatedBatchesMatchOneLargeBatch(kind: ClassifierKind) throws {
        let labels = try LabelSet(names: kind == .sequence ? ["zero", "one"] : ["B-X", "O"])
        let (train, tags) = kind == .sequence
            ? (ToyTask.sequenceExamples(count: 16, seed: 4), nil) : ToyTask.taggedExamples(count: 16, seed: 4)
        func parameters(batchSize: Int, accumulate: Int) throws -> [Float] {
            let model = ToyTask.model(kind: kind, classes: 2, seed: 3, dropout: 0)
            let classifier = try Classifier(kind: kind, model: model, labels: labels, batchSize: batchSize, maxSeqLength: 16)
            let tuner = try FineTuner(classifier: classifier, options: FineTuneOptions(
                epochs: 2, batchSize: batchSize, learningRate: 1e-3, warmup: .steps(0), schedule: .constant,
                gradAccum: accumulate, maxGradNorm: 0, patience: nil, seed: 5, maxSeqLength: 16))
            tuner.log = { _ in }
            _ = try tuner.train(train, validation: train, validationTags: tags)
            // The arena belongs to the model: keep it alive while copying.
            return withExtendedLifetime(model) { Array(model.parameters) }
        }
        let large = try parameters(batchSize: 8, accumulate: 1)
        let accumulated = try parameters(batchSize: 4, accumulate: 2)
        let small = try parameters(batchSize: 4, accumulate: 1)
        let initial = ToyTask.model(kind: kind, classes: 2, seed: 3, dropout: 0)
        let start = withExtendedLifetime(initial) { Array(initial.parameters) }
        func distance(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) }.max()! }
        #expect(distance(large, accumulated) < 1e-5, "accumulated differs from the large batch by \(distance(large, accumulated))")
        // The comparison can fail: plain small batches take twice the steps and land elsewhere.
        #expect(distance(large, small) > 1e-4)
        #expect(distance(large, start) > 1e-4)
    }

    @Test func badOptionsAreNamed() throws {
        let config = ToyTask.model(kind: .sequence, classes: 2).config
        for (options, flag) in [(FineTuneOptions(gradAccum: 0), "--grad-accum"), (FineTuneOptions(warmup: .ratio(1.5)), "--warmup"),
                                (FineTuneOptions(maxGradNorm: -1), "--max-grad-norm")] {
            #expect { try options.validate(config: config) } throws: { "\($0)".contains(flag) }
        }
    }

    @Test func progressWithinEpochsReachesTheSink() throws {
        let labels = try LabelSet(names: ["zero", "one"])
        let classifier = try Classifier(
            kind: .sequence, model: ToyTask.model(kind: .sequence, classes: 2), labels: labels, batchSize: 4, maxSeqLength: 16)
        let tuner = try FineTuner(classifier: classifier, options: FineTuneOptions(epochs: 2, batchSize: 4, patience: nil, maxSeqLength: 16))
        tuner.log = { _ in }
        let collected = Collected()
        tuner.progress = ProgressStyle(isTerminal: false, plainInterval: 0) { collected.append($0) }
        let data = ToyTask.sequenceExamples(count: 16, seed: 1)
        _ = try tuner.train(data, validation: data)
        let lines = collected.text.split(separator: "\n")
        // 4 steps per epoch; plain mode leaves the last step to the epoch's own line.
        #expect(lines.count == 6)
        #expect(lines.first?.hasPrefix("epoch 1/2 step 1/4  loss ") == true)
        #expect(lines.last?.hasPrefix("epoch 2/2 step 3/4") == true && lines.last?.contains("ex/s  ETA ") == true)
    }
}

@Suite struct PredictOutputTests {
    func loaded(_ kind: ClassifierKind) throws -> LoadedClassifier {
        let labels = try LabelSet(names: kind == .sequence ? ["neg", "pos"] : ["B-loc", "I-loc", "O"])
        return LoadedClassifier(
            kind: kind, model: ToyTask.model(kind: kind, classes: labels.count, seed: 9), labels: labels,
            tokenizer: try TinyVocabulary.tokenizer(), vocabularyText: TinyVocabulary.text, initializedTensors: [], notes: [])
    }

    @Test(arguments: [ClassifierKind.sequence, .token])
    func blankLinesKeepTheirPlaceWithAnIndex(kind: ClassifierKind) throws {
        let folder = try temporaryDirectory()
        let file = folder.appendingPathComponent("texts.txt")
        try "i liked it\n\n  \nnew york is big\n".write(to: file, atomically: true, encoding: .utf8)
        let texts = try DataReader.readLines(from: file)
        #expect(texts.count == 4)
        let lines = try Predictor.predict(texts, with: try loaded(kind), maxSeqLength: 16, batchSize: 2)
        let objects = try lines.map { try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        #expect(objects.map { $0["index"] as? Int } == [0, 1, 2, 3])
        #expect(objects.map { $0["text"] as? String } == ["i liked it", "", "  ", "new york is big"])
        if kind == .sequence {
            #expect(objects[1]["label"] is NSNull && objects[2]["label"] is NSNull)
            #expect(objects[0]["label"] as? String != nil && objects[3]["label"] as? String != nil)
        } else {
            #expect((objects[1]["words"] as? [Any])?.isEmpty == true && (objects[1]["entities"] as? [Any])?.isEmpty == true)
            #expect((objects[3]["words"] as? [String]) == ["new", "york", "is", "big"])
            #expect(objects[3]["entities"] is [Any])
        }
    }

    @Test func entitiesAreGroupedIntoSpansWithWordAndCharacterOffsets() {
        let words = Predictor.Words("  Visit Néw  York, then   Paris ")
        #expect(words.words == ["Visit", "Néw", "York,", "then", "Paris"])
        let spans = words.entities(tags: ["O", "B-loc", "I-loc", "O", "I-loc"])
        #expect(spans.count == 2)
        #expect(spans[0]["type"] as? String == "loc")
        #expect(spans[0]["start"] as? Int == 1 && spans[0]["end"] as? Int == 3)
        #expect(spans[0]["char_start"] as? Int == 8 && spans[0]["char_end"] as? Int == 18)
        #expect(spans[0]["text"] as? String == "Néw  York,")
        // seqeval's rule: an I- after O opens an entity.
        #expect(spans[1]["text"] as? String == "Paris" && spans[1]["start"] as? Int == 4 && spans[1]["char_start"] as? Int == 26)
    }
}
