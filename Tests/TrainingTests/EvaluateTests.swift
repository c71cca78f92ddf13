import Foundation
import Testing
@testable import Checkpoint
@testable import Training

@Suite(.serialized) struct EvaluateTests {
    /// Re-scoring a run's final checkpoint from its stored settings reproduces the run's last eval line.
    @Test func checkpointScoresMatchTheRunsFinalEvalLine() throws {
        let tiny = try TinySetup()
        defer { tiny.remove() }
        let output = tiny.directory.appendingPathComponent("run")
        let run = try Adaptation(settings: tiny.settings(steps: 10), source: tiny.source, resume: nil,
                                 outputDirectory: output, progressIsTerminal: false, log: LogLines().append)
        _ = try run.run()
        let lastEval = try #require(MetricsLog.read(output.appendingPathComponent("metrics.jsonl"))
            .last { $0["type"] as? String == "eval" })
        #expect(lastEval["step"] as? Int == 10)

        let checkpoint = try #require(try CheckpointStore(directory: output).latest())
        let prepared = try ModelLoading.prepare(CheckpointReference.resolve(checkpoint), heads: .maskedLM)
        let json = try #require(prepared.checkpoint?.metadata.runArgumentsJSON)
        let settings = try AdaptationSettings.decode(json: json, source: checkpoint.path)
        let report = try ModelEvaluation.evaluate(prepared, settings: settings, schemes: [.token, .wholeWord, .span])
        #expect(report.results.map(\.scheme) == [.token, .wholeWord, .span])
        #expect(report.batches == settings.evalBatches)
        for (scheme, metrics) in report.results.prefix(2) {
            // The metrics.jsonl field names other tools read, spelled out.
            let key = try #require([EvalScheme.token: "token", .wholeWord: "whole_word"][scheme])
            #expect(scheme.metricKey == key)
            let loggedLoss = try #require(lastEval["\(key)_loss"] as? Double)
            #expect(abs(metrics.loss - loggedLoss) < 1e-9, "\(scheme): \(metrics.loss) vs logged \(loggedLoss)")
            #expect(metrics.accuracy == lastEval["\(key)_acc"] as? Double)
            #expect(metrics.maskedTokens == lastEval["\(key)_masked"] as? Int)
            let loggedPerWord = try #require(lastEval["\(key)_loss_per_word"] as? Double)
            #expect(abs(metrics.lossPerWord - loggedPerWord) < 1e-9, "\(scheme): \(metrics.lossPerWord) vs logged \(loggedPerWord)")
            #expect(metrics.maskedWords == lastEval["\(key)_masked_words"] as? Int)
        }
        let span = report.results[2].metrics
        #expect(span.maskedTokens > 0 && span.loss.isFinite)

        // The untrained model scores worse on the same batches: the score depends on the weights.
        let untrained = try ModelLoading.prepare(tiny.source, lowercase: nil, seed: 1)
        let before = try ModelEvaluation.evaluate(untrained, settings: settings)
        #expect(before.results[1].metrics.loss > report.results[1].metrics.loss + 0.1)
    }

    @Test func emptyCorpusIsAnErrorNamingTheFile() throws {
        let tiny = try TinySetup()
        defer { tiny.remove() }
        let empty = tiny.directory.appendingPathComponent("empty.txt")
        try Data().write(to: empty)
        let prepared = try ModelLoading.prepare(tiny.source, lowercase: nil, seed: 0)
        var settings = tiny.settings(steps: 1)
        settings.corpus = [empty.path]
        let error = #expect(throws: (any Error).self) { try ModelEvaluation.evaluate(prepared, settings: settings) }
        #expect(error.map { "\($0)".contains(empty.path) } == true, "\(String(describing: error))")
    }
}
