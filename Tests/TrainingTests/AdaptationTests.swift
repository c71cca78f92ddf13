import Corpus
import Foundation
import Testing
@testable import Checkpoint
@testable import Model
@testable import Training

/// Metrics lines without the fields that measure time.
func comparableMetrics(_ url: URL) throws -> [String] {
    let timing: Set<String> = ["tokens_per_s", "elapsed", "seconds"]
    return try MetricsLog.read(url).map { object in
        object.filter { !timing.contains($0.key) }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            .joined(separator: " ")
    }
}

@Suite(.serialized) struct AdaptationTests {
    @Test func shortRunLowersHeldOutLoss() throws {
        let tiny = try TinySetup()
        defer { tiny.remove() }
        let output = tiny.directory.appendingPathComponent("run")
        let logLines = LogLines()
        let run = try Adaptation(settings: tiny.settings(steps: 40), source: tiny.source, resume: nil,
                                 outputDirectory: output, progressIsTerminal: false, log: logLines.append)
        let summary = try run.run()
        #expect(summary.finalStep == 40)
        #expect(!summary.stoppedBySignal)

        let before = try #require(summary.firstEval.first { $0.scheme == .wholeWord }?.metrics)
        let after = try #require(summary.lastEval.first { $0.scheme == .wholeWord }?.metrics)
        // Random init predicts uniformly (loss ≈ ln V); 40 steps must at least learn which tokens are frequent.
        #expect(abs(before.loss - log(Double(tiny.config.vocabSize))) < 0.5)
        #expect(after.loss < before.loss - 0.6, "held-out loss \(before.loss) → \(after.loss)")
        #expect(after.accuracy > before.accuracy)
        #expect(summary.firstEval.map(\.scheme) == [.token, .wholeWord])

        // metrics.jsonl: one train line per step, evals at 0, 10, 20, 30, 40.
        let lines = try MetricsLog.read(output.appendingPathComponent("metrics.jsonl"))
        let train = lines.filter { $0["type"] as? String == "train" }
        let evals = lines.filter { $0["type"] as? String == "eval" }
        #expect(train.map { $0["step"] as? Int } == (1...40).map { $0 })
        #expect(evals.map { $0["step"] as? Int } == [0, 10, 20, 30, 40])
        for key in ["loss", "lr", "grad_norm", "tokens_per_s", "elapsed"] {
            #expect(train.allSatisfy { $0[key] is Double }, "train lines lack \(key)")
        }
        for key in ["token_loss", "token_ppl", "token_acc", "whole_word_loss", "whole_word_ppl", "whole_word_acc"] {
            #expect(evals.allSatisfy { $0[key] is Double }, "eval lines lack \(key)")
        }
        // Warmup 5 steps then linear decay to 0 at step 40, as transformers.
        let rates = train.compactMap { $0["lr"] as? Double }
        #expect(rates[0] == 0)
        #expect(abs(rates[5] - 5e-3) < 1e-12)
        #expect(abs(rates[39] - 5e-3 / 35) < 1e-12)

        // Checkpoints: every 10 steps, the last 2 kept, `latest` names step 40.
        let store = CheckpointStore(directory: output)
        #expect(store.checkpoints().map(\.step) == [30, 40])
        #expect(try store.latest()?.lastPathComponent == "step-40.safetensors.gz")
        let saved = try LoadedCheckpoint.open(output.appendingPathComponent("step-40.safetensors.gz"))
        #expect(saved.metadata.step == 40)
        #expect(saved.config?.hiddenSize == 32)
        // The stored settings hold what the run used: no head warm-up for a model trained from scratch.
        var used = tiny.settings(steps: 40)
        used.headWarmupSteps = 0
        #expect(try AdaptationSettings.decode(json: #require(saved.metadata.runArgumentsJSON), source: "test") == used)
    }

    @Test func resumeReproducesAnUninterruptedRun() throws {
        let tiny = try TinySetup()
        defer { tiny.remove() }
        let settings = tiny.settings(steps: 16)
        let straight = tiny.directory.appendingPathComponent("straight")
        _ = try Adaptation(settings: settings, source: tiny.source, resume: nil, outputDirectory: straight,
                           progressIsTerminal: false, log: { _ in }).run()

        // Same run, stopped after step 7 (as Ctrl-C would), then resumed from its folder.
        let interrupted = tiny.directory.appendingPathComponent("interrupted")
        let stop = StopSignal()
        let first = try Adaptation(settings: settings, source: tiny.source, resume: nil, outputDirectory: interrupted,
                                   stop: stop, progressIsTerminal: false, log: { _ in })
        first.afterStep = { step in if step == 7 { stop.request() } }
        let stopped = try first.run()
        #expect(stopped.stoppedBySignal)
        #expect(stopped.finalStep == 7)
        let reference = try CheckpointReference.resolve(interrupted.path)
        #expect(reference.kind == .runFolder)
        #expect(reference.weights.lastPathComponent == "step-7.safetensors.gz")

        let checkpoint = try reference.open()
        let resumed = try Adaptation(settings: try Adaptation.resumeSettings(from: checkpoint), source: tiny.source,
                                     resume: checkpoint, outputDirectory: interrupted, progressIsTerminal: false,
                                     log: { _ in }).run()
        #expect(resumed.startStep == 7)
        #expect(resumed.finalStep == 16)

        let a = try LoadedCheckpoint.open(straight.appendingPathComponent("step-16.safetensors.gz"))
        let b = try LoadedCheckpoint.open(interrupted.appendingPathComponent("step-16.safetensors.gz"))
        for entry in a.tensors.entries {
            let x = try a.tensors.floats(entry.name)
            let y = try b.tensors.floats(entry.name)
            #expect(x == y, "\(entry.name) differs after resume")
        }
        #expect(try comparableMetrics(straight.appendingPathComponent("metrics.jsonl"))
            == comparableMetrics(interrupted.appendingPathComponent("metrics.jsonl")))
    }

    @Test func epochsWithAccumulationPlanStepsFromTheCorpus() throws {
        let tiny = try TinySetup()
        defer { tiny.remove() }
        var settings = tiny.settings(steps: 1)
        settings.maxSteps = nil
        settings.epochs = 2
        settings.gradAccum = 2
        settings.evalEvery = 0
        settings.saveEvery = 0
        let output = tiny.directory.appendingPathComponent("epochs")
        let summary = try Adaptation(settings: settings, source: tiny.source, resume: nil, outputDirectory: output,
                                     progressIsTerminal: false, log: { _ in }).run()

        // Count the training split's batches independently.
        let prepared = try ModelLoading.prepare(tiny.source, lowercase: nil, seed: 0)
        let stream = try CorpusStreamer(
            options: CorpusOptions(sources: settings.corpus, maxSeqLength: settings.maxSeqLength, shuffleBufferSize: 0,
                                   seed: settings.seed, validationFraction: settings.validationSplit, split: .train),
            tokenizer: prepared.tokenizer)
        var batch = TokenBatch(batchSize: settings.batchSize, seqLength: settings.maxSeqLength, padId: 0)
        var batches = 0
        while try stream.nextBatch(into: &batch) { batches += 1 }
        #expect(batches > 4)
        #expect(summary.totalSteps == 2 * ((batches + 1) / 2))
        #expect(summary.finalStep == summary.totalSteps)
        let train = try MetricsLog.read(output.appendingPathComponent("metrics.jsonl")).filter { $0["type"] as? String == "train" }
        #expect(train.count == summary.totalSteps)
        #expect(train.compactMap { $0["epoch"] as? Int }.max() == 1)
    }

    @Test func frozenEmbeddingsStayPut() throws {
        let tiny = try TinySetup()
        defer { tiny.remove() }
        var settings = tiny.settings(steps: 3)
        settings.freezeEmbeddings = true
        let output = tiny.directory.appendingPathComponent("frozen")
        _ = try Adaptation(settings: settings, source: tiny.source, resume: nil, outputDirectory: output,
                           progressIsTerminal: false, log: { _ in }).run()
        let start = try ModelLoading.prepare(tiny.source, lowercase: nil, seed: settings.seed).model
        let end = try LoadedCheckpoint.open(output.appendingPathComponent("step-3.safetensors.gz"))
        var changed = 0
        for tensor in start.layout.tensors {
            let before = Array(start.tensor(tensor.name)!)
            let after = try end.tensors.floats(tensor.name)
            if tensor.name.hasPrefix("bert.embeddings.") {
                #expect(before == after, "\(tensor.name) moved although frozen")
            } else if before != after {
                changed += 1
            }
        }
        #expect(changed == start.layout.tensors.filter { !$0.name.hasPrefix("bert.embeddings.") }.count)
        // Frozen tensors have no optimizer moments in the checkpoint.
        let moments = try CheckpointFile.read(CheckpointStore.optimizerURL(for: output.appendingPathComponent("step-3.safetensors.gz")))
        #expect(moments.entries.allSatisfy { !$0.name.contains("bert.embeddings.") })
        #expect(moments.entries.count == 2 * changed)
    }

    /// A new run into a folder that holds a run is refused (its metrics would be lost and `--keep-last` would
    /// prune the new run's checkpoints against the old run's higher steps); `--overwrite` replaces it.
    @Test func aFolderHoldingARunIsNotReusedSilently() throws {
        let tiny = try TinySetup()
        defer { tiny.remove() }
        let output = tiny.directory.appendingPathComponent("taken")
        func adapt(steps: Int, overwrite: Bool) throws {
            var settings = tiny.settings(steps: steps)
            settings.overwrite = overwrite
            _ = try Adaptation(settings: settings, source: tiny.source, resume: nil, outputDirectory: output,
                               progressIsTerminal: false, log: { _ in }).run()
        }
        try adapt(steps: 4, overwrite: false)
        let error = try #require(throws: TrainingError.self) { try adapt(steps: 2, overwrite: false) }
        #expect("\(error)".contains("already holds a run") && "\(error)".contains("--resume") && "\(error)".contains("--overwrite"),
                "\(error)")
        #expect(CheckpointStore(directory: output).checkpoints().map(\.step) == [4], "the first run is untouched")
        try adapt(steps: 2, overwrite: true)
        #expect(CheckpointStore(directory: output).checkpoints().map(\.step) == [2])
        let trainLines = try MetricsLog.read(output.appendingPathComponent(RunDirectory.metricsFileName))
            .filter { $0["type"] as? String == "train" }
        #expect(trainLines.count == 2)
    }
}
