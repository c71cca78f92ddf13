import Foundation
import Testing
@testable import Checkpoint
@testable import Model
@testable import Training

/// Numbers that go wrong mid-run: a step with a non-finite loss is skipped and logged, K in a row stop the
/// run with an error, and a loss far above the smoothed loss is reported as a spike.
@Suite(.serialized) struct BadStepTests {
    /// The decoder bias of token `id`, which the next step's loss reads at every masked position.
    static func decoderBias(_ adaptation: Adaptation) -> UnsafeMutableBufferPointer<Float> {
        adaptation.prepared.model.tensor("cls.predictions.bias")!
    }

    static func trainLines(_ folder: URL) throws -> [[String: Any]] {
        try MetricsLog.read(folder.appendingPathComponent("metrics.jsonl")).filter { $0["type"] as? String == "train" }
    }

    @Test func aNonFiniteStepIsSkippedAndTheRunGoesOn() throws {
        let tiny = try TinySetup()
        defer { tiny.remove() }
        var settings = tiny.settings(steps: 12)
        settings.saveEvery = 0
        let output = tiny.directory.appendingPathComponent("one-bad")
        let lines = LogLines()
        let adaptation = try Adaptation(settings: settings, source: tiny.source, resume: nil, outputDirectory: output,
                                        progressIsTerminal: false, log: lines.append)
        let bias = Self.decoderBias(adaptation)
        var saved: Float = 0
        adaptation.afterStep = { step in
            if step == 4 { saved = bias[0]; bias[0] = .nan }  // step 5 computes a NaN loss
            if step == 5 { bias[0] = saved }
        }
        let summary = try adaptation.run()
        #expect(summary.finalStep == 12 && summary.skippedSteps == 1)
        let skipped = try Self.trainLines(output).filter { $0["skipped"] as? Bool == true }
        #expect(skipped.compactMap { $0["step"] as? Int } == [5])
        #expect(lines.lines.contains { $0.hasPrefix("warning: step 5 skipped: loss NaN, gradient norm NaN (1 in a row") }, "\(lines.lines.filter { $0.contains("warning") })")
        // The skipped update left no NaN behind: the final checkpoint loads (non-finite weights are refused).
        let end = try LoadedCheckpoint.open(output.appendingPathComponent("step-12.safetensors.gz"))
        #expect(try end.tensors.floats("bert.encoder.layer.0.attention.self.query.weight").allSatisfy(\.isFinite))
    }

    @Test func stepsThatStayNonFiniteStopTheRunWithAClearError() throws {
        let tiny = try TinySetup()
        defer { tiny.remove() }
        var settings = tiny.settings(steps: 30)
        settings.maxBadSteps = 3
        settings.saveEvery = 5
        let output = tiny.directory.appendingPathComponent("diverged")
        let adaptation = try Adaptation(settings: settings, source: tiny.source, resume: nil, outputDirectory: output,
                                        progressIsTerminal: false, log: { _ in })
        let bias = Self.decoderBias(adaptation)
        adaptation.afterStep = { step in if step == 6 { bias[0] = .infinity } }
        #expect {
            try adaptation.run()
        } throws: { error in
            guard case TrainingError.diverged(let message) = error else { return false }
            return message.contains("3 steps in a row (to step 9)") && message.contains("--max-bad-steps 3")
                && message.contains("past step 5")
        }
        #expect(try Self.trainLines(output).filter { $0["skipped"] as? Bool == true }.count == 3)
        // `latest` still names the last good checkpoint.
        #expect(try CheckpointReference.resolve(output.path).weights.lastPathComponent == "step-5.safetensors.gz")
    }

    @Test func aLossSpikeIsReported() throws {
        let tiny = try TinySetup()
        defer { tiny.remove() }
        var settings = tiny.settings(steps: 26)
        settings.saveEvery = 0
        let lines = LogLines()
        let adaptation = try Adaptation(settings: settings, source: tiny.source, resume: nil,
                                        outputDirectory: tiny.directory.appendingPathComponent("spike"),
                                        progressIsTerminal: false, log: lines.append)
        let bias = Self.decoderBias(adaptation)
        // Every prediction goes to one token: a finite loss several times the smoothed one.
        adaptation.afterStep = { step in if step == 23 { bias[5] = 60 } }
        _ = try adaptation.run()
        #expect(lines.lines.contains { $0.hasPrefix("warning: loss spike at step 24:") }, "\(lines.lines.suffix(8))")
        #expect(!lines.lines.contains { $0.hasPrefix("warning: loss spike at step 23:") })
    }
}
