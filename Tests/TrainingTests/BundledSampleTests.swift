import Foundation
import Testing
@testable import Checkpoint
@testable import Model
@testable import Training
import Tokenizer

/// The default job in miniature: the CLI adapts a tiny BERT with the real bert-base-uncased vocab on the
/// committed legal sample (`Corpora/samples/legal.txt`), evaluates on its held-out split, and leaves a
/// checkpoint that loads with the same vocab. It runs the built `mlm-adapt`, as a user would.
@Suite struct BundledSampleTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test func wholeWordAdaptationOnTheBundledLegalSample() throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("mlm-adapt-sample-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let vocabulary = Self.repository.appendingPathComponent("Vocab/bert-base-uncased.txt")
        let corpus = Self.repository.appendingPathComponent("Corpora/samples/legal.txt")
        let config = BertConfig(
            vocabSize: 30522, hiddenSize: 32, numHiddenLayers: 1, numAttentionHeads: 2, intermediateSize: 64,
            maxPositionEmbeddings: 64)
        let configURL = directory.appendingPathComponent("config.json")
        try config.jsonData().write(to: configURL)
        let output = directory.appendingPathComponent("run")

        let (process, errors) = try SignalTests.launch([
            "--corpus", corpus.path, "--mask", "whole-word", "--vocab", vocabulary.path, "--config", configURL.path,
            "--max-seq-length", "64", "--batch-size", "8", "--max-steps", "12", "--lr", "1e-3", "--warmup", "2",
            "--eval-every", "12", "--eval-batches", "2", "--save-every", "12", "--threads", "2",
            "--output-dir", output.path,
        ])
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(stderr)")

        let records = try MetricsLog.read(output.appendingPathComponent("metrics.jsonl"))
        let train = records.filter { $0["type"] as? String == "train" }
        let evals = records.filter { $0["type"] as? String == "eval" }
        #expect(train.count == 12)
        #expect(evals.count == 2, "an eval before training and one at the end")
        let losses = evals.compactMap { $0["token_loss"] as? Double }
        #expect(losses.count == 2, "\(evals)")
        if losses.count == 2 { #expect(losses[1] < losses[0], "held-out loss should fall: \(losses)") }

        let checkpoint = try CheckpointReference.resolve(output.path).weights
        #expect(checkpoint.lastPathComponent == "step-12.safetensors.gz")
        let loaded = try LoadedCheckpoint.open(checkpoint)
        try loaded.verifyVocabulary(try Vocabulary(contentsOf: vocabulary))
        #expect(loaded.metadata.step == 12)
    }
}
