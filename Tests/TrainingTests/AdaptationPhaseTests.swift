import Foundation
import Testing
@testable import Checkpoint
@testable import Model
@testable import Optimization
@testable import Training

/// Head warm-up (only the MLM head trains, on a frozen encoder), the phase boundary under resume, and the
/// per-group learning rates of the phase after it.
@Suite(.serialized) struct AdaptationPhaseTests {
    static func isHead(_ name: String) -> Bool { name.hasPrefix("cls.predictions.") }

    @Test func headWarmupTrainsOnlyTheHeadAndKeepsNoStateForTheEncoder() throws {
        let tiny = try TinySetup()
        defer { tiny.remove() }
        var settings = tiny.settings(steps: 6)
        settings.headWarmupSteps = 6
        let output = tiny.directory.appendingPathComponent("warmup")
        let lines = LogLines()
        _ = try Adaptation(settings: settings, source: tiny.source, resume: nil, outputDirectory: output,
                           progressIsTerminal: false, log: lines.append).run()
        #expect(lines.lines.contains { $0.hasPrefix("phase head-warmup: steps 0→6 train only the MLM head") })
        #expect(!lines.lines.contains { $0.hasPrefix("phase full") })

        let start = try ModelLoading.prepare(tiny.source, lowercase: nil, seed: settings.seed).model
        let end = try LoadedCheckpoint.open(output.appendingPathComponent("step-6.safetensors.gz"))
        let heads = start.layout.tensors.filter { Self.isHead($0.name) }
        #expect(heads.map(\.name).sorted() == [
            "cls.predictions.bias", "cls.predictions.transform.LayerNorm.bias", "cls.predictions.transform.LayerNorm.weight",
            "cls.predictions.transform.dense.bias", "cls.predictions.transform.dense.weight",
        ])
        for tensor in start.layout.tensors {
            let before = Array(start.tensor(tensor.name)!), after = try end.tensors.floats(tensor.name)
            if Self.isHead(tensor.name) {
                #expect(before != after, "\(tensor.name) did not train in the head warm-up")
            } else {
                // Bit-identical: no update, and no weight decay either.
                #expect(before.map(\.bitPattern) == after.map(\.bitPattern), "\(tensor.name) moved during the head warm-up")
            }
        }
        let moments = try CheckpointFile.read(CheckpointStore.optimizerURL(for: output.appendingPathComponent("step-6.safetensors.gz")))
        #expect(Set(moments.entries.map(\.name)) == Set(heads.flatMap { ["exp_avg." + $0.name, "exp_avg_sq." + $0.name] }))
    }

    @Test func theEncoderTrainsAfterTheWarmup() throws {
        let tiny = try TinySetup()
        defer { tiny.remove() }
        var settings = tiny.settings(steps: 8)
        settings.headWarmupSteps = 5
        settings.saveEvery = 5
        let output = tiny.directory.appendingPathComponent("two-phases")
        let lines = LogLines()
        _ = try Adaptation(settings: settings, source: tiny.source, resume: nil, outputDirectory: output,
                           progressIsTerminal: false, log: lines.append).run()
        #expect(lines.lines.contains { $0.hasPrefix("phase full: steps 5→8") })
        let boundary = try LoadedCheckpoint.open(output.appendingPathComponent("step-5.safetensors.gz"))
        let end = try LoadedCheckpoint.open(output.appendingPathComponent("step-8.safetensors.gz"))
        for name in ["bert.encoder.layer.0.attention.self.query.weight", "bert.embeddings.word_embeddings.weight"] {
            #expect(try boundary.tensors.floats(name) != end.tensors.floats(name), "\(name) stayed frozen after the warm-up")
        }
        let moments = try CheckpointFile.read(CheckpointStore.optimizerURL(for: output.appendingPathComponent("step-8.safetensors.gz")))
        #expect(moments.entries.count == 2 * boundary.tensors.entries.count)
    }

    /// Stopped inside the warm-up, exactly at its end, and after it: the resumed run equals an uninterrupted one.
    @Test(arguments: [3, 5, 7])
    func resumeAcrossThePhaseBoundaryIsExact(stopAt: Int) throws {
        let tiny = try TinySetup()
        defer { tiny.remove() }
        var settings = tiny.settings(steps: 10)
        settings.headWarmupSteps = 5
        let straight = tiny.directory.appendingPathComponent("straight")
        _ = try Adaptation(settings: settings, source: tiny.source, resume: nil, outputDirectory: straight,
                           progressIsTerminal: false, log: { _ in }).run()

        let interrupted = tiny.directory.appendingPathComponent("interrupted")
        let stop = StopSignal()
        let first = try Adaptation(settings: settings, source: tiny.source, resume: nil, outputDirectory: interrupted,
                                   stop: stop, progressIsTerminal: false, log: { _ in })
        first.afterStep = { step in if step == stopAt { stop.request() } }
        #expect(try first.run().finalStep == stopAt)
        let checkpoint = try CheckpointReference.resolve(interrupted.path).open()
        let resumed = try Adaptation(settings: try Adaptation.resumeSettings(from: checkpoint), source: tiny.source,
                                     resume: checkpoint, outputDirectory: interrupted, progressIsTerminal: false,
                                     log: { _ in }).run()
        #expect(resumed.startStep == stopAt && resumed.finalStep == 10)

        let a = try LoadedCheckpoint.open(straight.appendingPathComponent("step-10.safetensors.gz"))
        let b = try LoadedCheckpoint.open(interrupted.appendingPathComponent("step-10.safetensors.gz"))
        for entry in a.tensors.entries {
            #expect(try a.tensors.floats(entry.name) == b.tensors.floats(entry.name), "\(entry.name) differs after resume at \(stopAt)")
        }
        #expect(try comparableMetrics(straight.appendingPathComponent("metrics.jsonl"))
            == comparableMetrics(interrupted.appendingPathComponent("metrics.jsonl")))
    }

    /// After the warm-up, each tensor steps at its group's rate times the phase schedule's factor. With zero
    /// weights, no weight decay and a constant gradient, every Adam update moves a weight by exactly −rate
    /// (m̂/√v̂ = 1), so after k updates it sits at −Σ rate: compared with rates worked out by hand.
    @Test func perGroupLearningRatesFollowAHandComputedSchedule() throws {
        let tiny = try TinySetup()
        defer { tiny.remove() }
        var settings = tiny.settings(steps: 10)
        settings.headWarmupSteps = 2
        settings.learningRate = 1e-2
        settings.headLearningRate = 4e-2
        settings.encoderLearningRate = 2e-2
        settings.layerLearningRateDecay = 0.5
        settings.warmup = .steps(2)
        settings.schedule = .linear
        settings.weightDecay = 0
        let layout = ParameterLayout(config: tiny.config, heads: .maskedLM)
        let (spans, frozen) = AdaptationPhase.full.trainables(settings, layout: layout)
        #expect(frozen == .nothing)
        let schedule = AdaptationPhase.full.schedule(settings, totalSteps: 10, headWarmupSteps: 2)
        // The phase has 8 updates: linear warmup over 2, then linear decay to 0 at update 8.
        let factors = [0, 0.5, 1, 5.0 / 6, 4.0 / 6]
        for (k, factor) in factors.enumerated() { #expect(abs(schedule.factor(atStep: k) - factor) < 1e-12) }

        let parameters = UnsafeMutableBufferPointer<Float>.allocate(capacity: layout.totalCount)
        let gradients = UnsafeMutableBufferPointer<Float>.allocate(capacity: layout.totalCount)
        defer { parameters.deallocate(); gradients.deallocate() }
        parameters.initialize(repeating: 0)
        gradients.initialize(repeating: 0.25)
        let optimizer = try AdamW(spans: spans, settings: AdamWSettings(epsilon: 1e-12, weightDecay: 0), threads: 2)
        for k in factors.indices {
            optimizer.update(parameters: parameters, gradients: UnsafeBufferPointer(gradients),
                             learningRate: schedule.rate(atStep: k))
        }
        // Two layers: layer 1 (top) at the encoder rate, layer 0 at half of it, the embeddings at a quarter.
        let peak: [(prefix: String, rate: Double)] = [
            ("cls.predictions.", 4e-2), ("bert.encoder.layer.1.", 2e-2), ("bert.encoder.layer.0.", 1e-2),
            ("bert.embeddings.", 5e-3),
        ]
        let sum = factors.reduce(0, +)
        for tensor in layout.tensors {
            let rate = try #require(peak.first { tensor.name.hasPrefix($0.prefix) }?.rate, "\(tensor.name) has no group")
            let expected = -rate * sum
            let values = parameters[tensor.offset..<tensor.offset + tensor.count]
            #expect(values.allSatisfy { abs(Double($0) - expected) <= 1e-5 * abs(expected) },
                    "\(tensor.name): \(values.first!) ≠ \(expected)")
        }
    }

    @Test func theDefaultGroupsLeaveEveryRateAtTheSchedules() throws {
        let layout = ParameterLayout(config: try TinySetup().config, heads: .maskedLM)
        let spans = AdaptationPhase.full.trainables(AdaptationSettings(corpus: ["x"]), layout: layout).spans
        #expect(spans.rateScales.values.allSatisfy { $0 == 1 })
        #expect(spans.tensors.count == layout.tensors.count)
    }

    static let miniLM = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("cache/models/all-MiniLM-L6-v2")

    /// all-MiniLM-L6-v2 ships no MLM head: the warm-up is on unless the run says otherwise.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: miniLM.appendingPathComponent("config.json").path)),
          arguments: [(nil, AdaptationSettings.automaticHeadWarmupSteps), (0, 0), (17, 17)] as [(Int?, Int)])
    func aBaseWithoutAnMLMHeadGetsTheWarmupByDefault(given: Int?, expected: Int) throws {
        let tiny = try TinySetup()
        defer { tiny.remove() }
        var settings = tiny.settings(steps: 1000)
        settings.headWarmupSteps = given
        let adaptation = try Adaptation(settings: settings, source: .checkpoint(try CheckpointReference.resolve(Self.miniLM.path)),
                                        resume: nil, outputDirectory: tiny.directory, progressIsTerminal: false, log: { _ in })
        #expect(adaptation.settings.headWarmupSteps == expected)
        #expect(adaptation.automaticHeadWarmup == (given == nil))
        // A model trained from scratch has no pretrained encoder to protect.
        let scratch = try Adaptation(settings: tiny.settings(steps: 3), source: tiny.source, resume: nil,
                                     outputDirectory: tiny.directory, progressIsTerminal: false, log: { _ in })
        #expect(scratch.settings.headWarmupSteps == 0)
        // A short run keeps half its steps for the encoder.
        if given == nil {
            let short = try Adaptation(settings: tiny.settings(steps: 30), source: .checkpoint(try CheckpointReference.resolve(Self.miniLM.path)),
                                       resume: nil, outputDirectory: tiny.directory, progressIsTerminal: false, log: { _ in })
            #expect(short.settings.headWarmupSteps == 15)
        }
    }
}

/// Raising `--max-steps` on resume: refused where the schedule is laid out over the planned steps, allowed
/// where every step's rate is the same whatever the length (constant, warmup in steps).
@Suite(.serialized) struct ResumeRunLengthTests {
    @Test(arguments: [(ScheduleKind.linear, false), (.cosine, false), (.constant, true)])
    func aLongerResumedRunKeepsItsSchedule(schedule: ScheduleKind, allowed: Bool) throws {
        let tiny = try TinySetup()
        defer { tiny.remove() }
        var settings = tiny.settings(steps: 6)
        settings.schedule = schedule
        settings.warmup = .steps(2)
        let output = tiny.directory.appendingPathComponent("run")
        _ = try Adaptation(settings: settings, source: tiny.source, resume: nil, outputDirectory: output,
                           progressIsTerminal: false, log: { _ in }).run()
        let checkpoint = try CheckpointReference.resolve(output.path).open()
        var longer = try Adaptation.resumeSettings(from: checkpoint)
        longer.maxSteps = 10
        let resumed = { try Adaptation(settings: longer, source: tiny.source, resume: checkpoint, outputDirectory: output,
                                       progressIsTerminal: false, log: { _ in }).run() }
        if allowed {
            #expect(try resumed().finalStep == 10)
        } else {
            #expect {
                try resumed()
            } throws: { error in
                "\(error)".contains("the run planned 6 steps and its \(schedule.rawValue) learning rate")
            }
        }
    }
}
