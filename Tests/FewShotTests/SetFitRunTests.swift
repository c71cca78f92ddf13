import Checkpoint
import Classification
import Foundation
import SeededRandom
import Testing

@testable import FewShot

/// End-to-end SetFit runs on the tiny sentence-transformers fixture: a toy three-class task whose class is
/// told by its words, and the bad inputs the run must refuse with the file and line.
@Suite struct SetFitRunTests {
    static let classWords = ["alpha": ["alpha", "apple", "red"], "bravo": ["bravo", "banana", "green"],
                             "charlie": ["charlie", "cherry", "blue"]]
    static let filler = ["the", "one", "is", "and", "of", "this", "text", "about", "some", "thing", "here"]

    /// `perClass` texts per class: the class's three words among two to four filler words.
    static func toyTable(perClass: Int, seed: UInt64) -> String {
        var generator = SplitMix64(state: seed)
        var lines = ["text\tlabel"]
        for index in 0..<perClass {
            for label in classWords.keys.sorted() {
                var words = (0..<(2 + index % 3)).map { _ in filler[Int(generator.next() % UInt64(filler.count))] }
                for word in classWords[label]! {
                    words.insert(word, at: Int(generator.next() % UInt64(words.count + 1)))
                }
                lines.append(words.joined(separator: " ") + "\t" + label)
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    func options(folder: URL, train: String, settings: SetFitOptions, test: Bool = true) throws -> SetFitRunOptions {
        let trainURL = folder.appendingPathComponent("train.tsv"), devURL = folder.appendingPathComponent("dev.tsv")
        let testURL = folder.appendingPathComponent("test.tsv")
        try train.write(to: trainURL, atomically: true, encoding: .utf8)
        try Self.toyTable(perClass: 4, seed: 2).write(to: devURL, atomically: true, encoding: .utf8)
        try Self.toyTable(perClass: 10, seed: 3).write(to: testURL, atomically: true, encoding: .utf8)
        return SetFitRunOptions(
            initCheckpoint: Fixtures.tinyModel, train: trainURL, validation: devURL, test: test ? testURL : nil,
            settings: settings, outputDirectory: folder.appendingPathComponent("run"))
    }

    static var toySettings: SetFitOptions {
        var settings = SetFitOptions()
        settings.samplesPerClass = 4
        settings.numIterations = 5
        settings.epochs = 3
        settings.batchSize = 8
        settings.learningRate = 2e-3
        settings.maxSeqLength = 32
        return settings
    }

    @Test func toyFewShotTaskIsLearnedAndPredictReadsTheCheckpoint() throws {
        let folder = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let options = try options(folder: folder, train: Self.toyTable(perClass: 10, seed: 1), settings: Self.toySettings)
        let report = try SetFitRun.run(options, log: { _ in })
        let fewShot = try #require(report.fewShot)
        #expect(report.trainExamples == 12)
        #expect(fewShot.pairs == 2 * 5 * 12)
        #expect(fewShot.contrastiveSteps == 3 * 15)
        #expect(fewShot.contrastiveLoss.count == 3)
        #expect(fewShot.contrastiveLoss.last! < fewShot.contrastiveLoss.first!)
        #expect(fewShot.headConverged)
        let test = try #require(report.test?.classification)
        #expect(test.accuracy == 1.0)
        #expect(test.macroF1 == 1.0)
        #expect(test.confusion.count == 3)
        // report.json has classify's shape.
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: options.reportURL)) as? [String: Any])
        #expect(((json["test"] as? [String: Any])?["classification"] as? [String: Any])?["accuracy"] as? Double == 1.0)
        // The checkpoint holds encoder, head and labels: predict gives the same labels.
        let checkpoint = try CheckpointReference.resolve(options.outputDirectory).open()
        #expect(SetFitModel.isSetFit(checkpoint))
        let loaded = try SetFitModel.load(checkpoint)
        #expect(loaded.labels.names == ["alpha", "bravo", "charlie"])
        let texts = try DataReader.readExamples(from: try #require(options.test))
        let lines = try loaded.predictionLines(texts + [TextExample(text: " ", label: nil, line: 0)], batchSize: 7)
        #expect(lines.count == texts.count + 1)
        for (line, text) in zip(lines, texts) {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(object["label"] as? String == text.label)
        }
        #expect(lines.last!.contains("\"label\":null"))
        // The contrastive phase separates the classes more than the frozen encoder does: a lower test loss.
        var frozen = options
        frozen.settings.contrastive = false
        frozen.saveCheckpoint = false
        frozen.outputDirectory = folder.appendingPathComponent("frozen")
        let baseline = try SetFitRun.run(frozen, log: { _ in })
        #expect(report.test!.loss < baseline.test!.loss)
    }

    @Test func differentiableHeadLearnsTheToyTaskEndToEnd() throws {
        let folder = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        var settings = Self.toySettings
        settings.head = .differentiable
        settings.headEpochs = 8
        settings.bodyLearningRate = 1e-3
        var options = try options(folder: folder, train: Self.toyTable(perClass: 10, seed: 1), settings: settings)
        options.saveCheckpoint = false
        let report = try SetFitRun.run(options, log: { _ in })
        #expect(report.fewShot?.head == "differentiable")
        #expect(report.test?.classification?.accuracy == 1.0)
        #expect((report.fewShot?.headTrainLoss ?? 1) < 0.5)
    }

    @Test func frozenBaselineLeavesTheEncoderUntouched() throws {
        let folder = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        var settings = Self.toySettings
        settings.contrastive = false
        let options = try options(folder: folder, train: Self.toyTable(perClass: 10, seed: 1), settings: settings, test: false)
        let report = try SetFitRun.run(options, log: { _ in })
        #expect(report.fewShot?.pairs == 0 && report.fewShot?.contrastiveLoss == [])
        let saved = try CheckpointReference.resolve(options.outputDirectory).open()
        let source = try CheckpointReference.resolve(Fixtures.tinyModel).open()
        for name in ["embeddings.word_embeddings.weight", "encoder.layer.1.output.dense.weight"] {
            let ours = try saved.tensors.floats("bert." + name), theirs = try source.tensors.floats(name)
            #expect(ours == theirs)
        }
    }

    @Test(arguments: [
        ("few", "text\tlabel\nalpha apple\talpha\nalpha red\talpha\nbravo one\tbravo\n", 0,
         "train.tsv:4: class 'bravo' has only this one example; SetFit needs at least 2 per class (a positive pair)"),
        ("single", "text\tlabel\nalpha apple\talpha\nalpha red\talpha\n", 0,
         "train.tsv: every example has the label 'alpha'; SetFit needs at least 2 classes (negative pairs)"),
        ("empty", "text\tlabel\nalpha apple\talpha\n\talpha\nbravo one\tbravo\nbravo two\tbravo\n", 0, "train.tsv:3: empty text"),
        ("larger", "text\tlabel\nalpha apple\talpha\nalpha red\talpha\nalpha one\talpha\nbravo one\tbravo\nbravo two\tbravo\n", 3,
         "train.tsv: --samples-per-class 3 is larger than class 'bravo', which has 2 examples"),
    ])
    func badTrainingDataIsRefusedNamingFileAndLine(name: String, table: String, perClass: Int, message: String) throws {
        let folder = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        var settings = Self.toySettings
        settings.samplesPerClass = perClass > 0 ? perClass : nil
        let options = try options(folder: folder, train: table, settings: settings)
        do {
            _ = try SetFitRun.run(options, log: { _ in })
            Issue.record("\(name): no error")
        } catch let error as FewShotError {
            #expect(error.description == options.train.path.dropLast("train.tsv".count) + message)
        }
    }
}
