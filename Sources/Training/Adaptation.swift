import Checkpoint
import Corpus
import Dispatch
import Foundation
import Masking
import Model
import Optimization
import Tokenizer

/// Counters that, with the run seed, fix every random choice still to come: masks are a function
/// of (seed, epoch, batch in epoch) and dropout of (seed, step, micro-batch), so this is the whole
/// "RNG state" a checkpoint needs (the corpus cursor carries the shuffle state).
public struct TrainerState: Codable, Equatable, Sendable {
    public var step: Int
    public var epoch: Int
    public var batchInEpoch: Int
    public var seed: UInt64
    public var bestEvalLoss: Double?
    public var bestEvalStep: Int?
}

/// The run's outcome, for the final summary.
public struct AdaptationSummary {
    public var startStep: Int
    public var finalStep: Int
    public var totalSteps: Int
    public var trainingSeconds: Double
    public var wallSeconds: Double
    public var tokens: Int
    public var tokensPerSecond: Double { trainingSeconds > 0 ? Double(tokens) / trainingSeconds : 0 }
    public var firstEval: [(scheme: String, metrics: EvalMetrics)]
    public var lastEval: [(scheme: String, metrics: EvalMetrics)]
    public var bestEvalLoss: Double?
    public var bestEvalStep: Int?
    public var primaryScheme: String
    public var checkpoints: [URL]
    public var stoppedBySignal: Bool
    public var lastCheckpoint: URL?
    public var checkpointWriteSeconds: [Double]
    public var checkpointBytes: Int?
    public var outputDirectory: URL
}

/// Domain-adaptive MLM training: streams the corpus, masks, trains, evaluates on held-out data,
/// logs metrics and writes checkpoints, and resumes exactly from any of them.
public final class Adaptation {
    public let settings: AdaptationSettings
    public let outputDirectory: URL
    let prepared: PreparedModel
    let resumeState: (state: TrainerState, cursor: CorpusCursor, checkpoint: URL)?
    let stop: StopSignal
    let log: (String) -> Void
    let progressIsTerminal: Bool
    /// Called after each optimizer step (and its eval/save) with the step number; tests use it
    /// to request a stop at a chosen step.
    public var afterStep: ((Int) -> Void)?
    /// Micro-batches masked ahead and handed to the optimizer together.
    private var microBatches: [MicroBatch] = []

    /// - Parameters:
    ///   - source: starting weights; ignored when resuming.
    ///   - resume: a checkpoint of an earlier run, already opened (its settings must be `settings`, see
    ///     `resumeSettings`); its file is not read again.
    public init(settings: AdaptationSettings, source: ModelSource, resume: LoadedCheckpoint?, outputDirectory: URL,
                stop: StopSignal = StopSignal(), progressIsTerminal: Bool = isatty(STDERR_FILENO) != 0,
                log: @escaping (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }) throws {
        try settings.validate()
        self.settings = settings
        self.outputDirectory = outputDirectory
        self.stop = stop
        self.log = log
        self.progressIsTerminal = progressIsTerminal
        if let resume {
            let loaded = try Self.loadForResume(resume, settings: settings)
            prepared = loaded.prepared
            resumeState = (loaded.state, loaded.cursor, resume.reference.weights)
        } else {
            prepared = try ModelLoading.prepare(source, lowercase: settings.lowercase, seed: settings.seed)
            resumeState = nil
        }
        let config = prepared.model.config
        if settings.maxSeqLength > config.maxPositionEmbeddings {
            throw TrainingError.invalidSetting(
                "--max-seq-length \(settings.maxSeqLength) exceeds the model's max_position_embeddings \(config.maxPositionEmbeddings)")
        }
    }

    /// The settings stored in a checkpoint, for `--resume`.
    public static func resumeSettings(from checkpoint: LoadedCheckpoint) throws -> AdaptationSettings {
        guard let json = checkpoint.metadata.runArgumentsJSON else {
            throw TrainingError.resume("\(checkpoint.source) has no run arguments; it was not written by mlm-adapt training")
        }
        return try AdaptationSettings.decode(json: json, source: checkpoint.source)
    }

    // MARK: - Run

    public func run() throws -> AdaptationSummary {
        let wallStart = DispatchTime.now()
        let model = prepared.model
        let tokenizer = prepared.tokenizer
        let vocabulary = prepared.vocabulary
        try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true)
        let folderLock = try RunFolderLock(directory: outputDirectory)
        defer { withExtendedLifetime(folderLock) {} }
        let store = CheckpointStore(directory: outputDirectory, keepLast: settings.keepLast)

        // Data.
        let trainOptions = corpusOptions(split: .train)
        let trainStream = try CorpusStreamer(options: trainOptions, tokenizer: tokenizer, resumeFrom: resumeState?.cursor)
        let evaluation = try HeldOutEvaluation(
            tokenBatches: try settings.heldOutBatches(tokenizer: tokenizer, padId: vocabulary.padId),
            vocabulary: MaskingVocabulary(size: vocabulary.count, maskId: vocabulary.maskId, specialIds: vocabulary.specialIds))
        guard evaluation.batchCount > 0 else {
            throw TrainingError.data(settings.validationCorpus.isEmpty
                ? "the held-out split (--validation-split \(settings.validationSplit)) of \(settings.corpus.joined(separator: ", ")) is empty; raise it or pass --validation-corpus"
                : "--validation-corpus \(settings.validationCorpus.joined(separator: ", ")) yields no text")
        }
        let totalSteps = try plannedSteps(tokenizer: tokenizer)
        let maskingOptions = MaskingOptions(strategy: maskingStrategyKind, probability: settings.mlmProbability)
        let masking = try makeMaskingStrategy(
            maskingOptions,
            vocabulary: MaskingVocabulary(size: vocabulary.count, maskId: vocabulary.maskId, specialIds: vocabulary.specialIds))

        // Model and optimiser.
        let spans = TrainableSpans(layout: model.layout) { tensor in
            !(settings.freezeEmbeddings && tensor.name.hasPrefix("bert.embeddings."))
        }
        try model.setFrozenBottom(settings.freezeEmbeddings ? .embeddingsAndLayers(0) : .nothing)
        let schedule = LearningRateSchedule(
            kind: settings.schedule, peakRate: settings.learningRate,
            warmupSteps: settings.warmup.steps(totalSteps: totalSteps), totalSteps: totalSteps)
        let expectedMasked = Int((settings.mlmProbability * Double(settings.maxSeqLength)).rounded(.up)) + 8
        let trainer = MaskedLMOptimizer(
            model: model, spans: spans, settings: AdamWSettings(weightDecay: settings.weightDecay), schedule: schedule,
            maxGradNorm: settings.maxGradNorm > 0 ? settings.maxGradNorm : nil, batchSize: settings.batchSize,
            seqLength: settings.maxSeqLength,
            maxMaskedTokens: settings.batchSize * min(settings.maxSeqLength, expectedMasked), threads: settings.threads)

        var state = TrainerState(step: 0, epoch: 0, batchInEpoch: 0, seed: settings.seed)
        if let resumeState {
            state = resumeState.state
            guard let checkpoint = prepared.checkpoint else { throw TrainingError.resume("\(resumeState.checkpoint.path): not a checkpoint") }
            try restoreMoments(into: trainer.optimizer, from: checkpoint, step: state.step)
        }
        let startStep = state.step
        if startStep > totalSteps {
            throw TrainingError.resume("the checkpoint is at step \(startStep), beyond --max-steps \(totalSteps)")
        }

        let metrics = try MetricsLog(url: outputDirectory.appendingPathComponent(RunDirectory.metricsFileName),
                                     resumeStep: resumeState == nil ? nil : startStep)
        try writeRunDescription()
        let primary = primaryScheme
        let trainable = spans.elementCount
        log("model: \(prepared.checkpoint?.source ?? "scratch") — \(model.config.numHiddenLayers) layers, hidden "
            + "\(model.config.hiddenSize), \(trainable) trainable parameters\(settings.freezeEmbeddings ? " (embeddings frozen)" : ""), "
            + (prepared.lowercase ? "uncased" : "cased"))
        for note in prepared.notes { log("note: \(note)") }
        log("corpus: \(trainStream.files.count) file(s); held out: \(evaluation.batchCount) batch(es) of \(settings.batchSize)×\(settings.maxSeqLength)")
        log("training: \(settings.mask.rawValue) masking p=\(settings.mlmProbability), steps \(startStep)→\(totalSteps), batch "
            + "\(settings.batchSize)×\(settings.gradAccum), lr \(settings.learningRate) \(settings.schedule.rawValue), warmup "
            + "\(schedule.warmupSteps), \(settings.threads) thread(s)")
        log("output: \(outputDirectory.path)")

        let progress = ProgressReporter(totalSteps: totalSteps, isTerminal: progressIsTerminal)
        var summary = AdaptationSummary(
            startStep: startStep, finalStep: startStep, totalSteps: totalSteps, trainingSeconds: 0, wallSeconds: 0,
            tokens: 0, firstEval: [], lastEval: [], bestEvalLoss: state.bestEvalLoss, bestEvalStep: state.bestEvalStep,
            primaryScheme: primary, checkpoints: [], stoppedBySignal: false, lastCheckpoint: nil,
            checkpointWriteSeconds: [], checkpointBytes: nil, outputDirectory: outputDirectory)

        func evaluate() throws {
            let started = DispatchTime.now()
            let results = try evaluation.evaluate(trainer)
            var fields: [(String, MetricValue)] = [("type", .string("eval")), ("step", .int(state.step))]
            var parts: [String] = []
            for (scheme, m) in results {
                let key = scheme.replacingOccurrences(of: "-", with: "_")
                fields += [("\(key)_loss", .double(m.loss)), ("\(key)_ppl", .double(m.perplexity)),
                           ("\(key)_acc", .double(m.accuracy)), ("\(key)_masked", .int(m.maskedTokens))]
                parts.append("\(scheme) loss \(format(m.loss, digits: 4)) ppl \(format(m.perplexity, digits: 2)) acc "
                    + format(100 * m.accuracy, digits: 2) + "%")
                if scheme == primary, m.loss.isFinite, state.bestEvalLoss.map({ m.loss < $0 }) ?? true {
                    state.bestEvalLoss = m.loss
                    state.bestEvalStep = state.step
                }
            }
            fields.append(("seconds", .double(seconds(since: started))))
            metrics.append(MetricRecord(fields))
            progress.message("eval @ step \(state.step): " + parts.joined(separator: "; "))
            if summary.firstEval.isEmpty { summary.firstEval = results }
            summary.lastEval = results
            summary.bestEvalLoss = state.bestEvalLoss
            summary.bestEvalStep = state.bestEvalStep
        }

        func save() throws -> URL {
            let started = DispatchTime.now()
            let url = try writeCheckpoint(store: store, trainer: trainer, state: state, cursor: trainStream.cursor)
            let elapsed = seconds(since: started)
            summary.checkpointWriteSeconds.append(elapsed)
            summary.lastCheckpoint = url
            summary.checkpointBytes = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? nil
            progress.message("saved \(url.path) (" + String(format: "%.1f", elapsed) + " s)")
            return url
        }

        if startStep == 0 { try evaluate() }
        var lastSavedStep = resumeState == nil ? -1 : startStep
        var lastEvalStep = startStep
        var trainingSeconds = 0.0
        var tokens = 0
        let runStart = DispatchTime.now()

        prepareMicroBatches(count: settings.gradAccum, padId: vocabulary.padId)
        while state.step < totalSteps {
            if stop.isRequested {
                summary.stoppedBySignal = true
                break
            }
            let stepStart = DispatchTime.now()
            let filled = try fillMicroBatches(stream: trainStream, masking: masking, state: &state)
            let step = state.step
            let runSeed = settings.seed
            let batches = filled == microBatches.count ? microBatches : Array(microBatches[0..<filled])
            let result = try trainer.step(batches) { micro in
                dropoutSeed(runSeed: runSeed, step: step, micro: micro)
            }
            state.step += 1
            let stepSeconds = seconds(since: stepStart)
            trainingSeconds += stepSeconds
            tokens += result.tokens
            progress.record(loss: result.loss)
            let throughput = trainingSeconds > 0 ? Double(tokens) / trainingSeconds : 0
            metrics.append(MetricRecord([
                ("type", .string("train")), ("step", .int(state.step)), ("epoch", .int(state.epoch)),
                ("loss", .double(result.loss)), ("acc", .double(Double(result.correct) / Double(max(1, result.maskedTokens)))),
                ("masked", .int(result.maskedTokens)), ("lr", .double(result.learningRate)),
                ("grad_norm", .double(result.gradNorm)), ("tokens", .int(result.tokens)),
                ("tokens_per_s", .double(throughput.rounded())), ("elapsed", .double(seconds(since: runStart))),
            ]))
            let secondsPerStep = trainingSeconds / Double(state.step - startStep)
            progress.show(step: state.step, learningRate: schedule.rate(atStep: state.step), tokensPerSecond: throughput,
                          secondsPerStep: secondsPerStep, now: seconds(since: runStart))
            if settings.evalEvery > 0 && state.step % settings.evalEvery == 0 {
                try evaluate()
                lastEvalStep = state.step
            }
            if settings.saveEvery > 0 && state.step % settings.saveEvery == 0 && state.step < totalSteps {
                summary.checkpoints.append(try save())
                lastSavedStep = state.step
            }
            afterStep?(state.step)
        }
        if !summary.stoppedBySignal && stop.isRequested { summary.stoppedBySignal = true }
        if !summary.stoppedBySignal && lastEvalStep != state.step { try evaluate() }
        if lastSavedStep != state.step {
            summary.checkpoints.append(try save())
        }
        progress.finish()
        summary.finalStep = state.step
        summary.trainingSeconds = trainingSeconds
        summary.tokens = tokens
        summary.wallSeconds = seconds(since: wallStart)
        summary.checkpoints = store.checkpoints().map(\.url)
        writeRunReport(summary)
        return summary
    }

    // MARK: - Data

    var maskingStrategyKind: MaskingStrategyKind { settings.mask.strategyKind }

    /// The eval scheme whose loss picks the best checkpoint: the run's own masking where it is
    /// one of the eval schemes, else whole-word.
    var primaryScheme: String { settings.mask == .token ? "token" : "whole-word" }

    func corpusOptions(split: CorpusSplit) -> CorpusOptions {
        let separateValidation = !settings.validationCorpus.isEmpty
        switch split {
        case .train:
            return CorpusOptions(
                sources: settings.corpus, maxSeqLength: settings.maxSeqLength, seed: settings.seed,
                validationFraction: separateValidation ? 0 : settings.validationSplit, split: .train)
        case .validation:
            return settings.heldOutCorpusOptions()
        }
    }

    /// `--max-steps`, or `--epochs` worth of steps (which costs one pass to count the rows).
    func plannedSteps(tokenizer: WordPieceTokenizer) throws -> Int {
        if let maxSteps = settings.maxSteps { return maxSteps }
        let epochs = settings.epochs ?? 1
        log("counting training sequences for --epochs…")
        var options = corpusOptions(split: .train)
        options.shuffleBufferSize = 0
        let stream = try CorpusStreamer(options: options, tokenizer: tokenizer)
        var batch = TokenBatch(batchSize: settings.batchSize, seqLength: settings.maxSeqLength, padId: prepared.vocabulary.padId)
        var batches = 0
        while try stream.nextBatch(into: &batch) { batches += 1 }
        guard batches > 0 else { throw TrainingError.data("the training corpus yields no sequences") }
        let stepsPerEpoch = (batches + settings.gradAccum - 1) / settings.gradAccum
        return max(1, Int((Double(stepsPerEpoch) * epochs).rounded(.up)))
    }

    func prepareMicroBatches(count: Int, padId: Int32) {
        microBatches = (0..<count).map { _ in
            MicroBatch(
                tokens: TokenBatch(batchSize: settings.batchSize, seqLength: settings.maxSeqLength, padId: padId),
                masked: MaskedBatch(batchSize: settings.batchSize, seqLength: settings.maxSeqLength))
        }
    }

    /// Reads and masks up to `gradAccum` micro-batches and returns how many it filled. A step
    /// never spans two epochs: at the end of one it takes what is left (as HF `Trainer` does), and
    /// the next step starts the next epoch. A short last batch is used as it is.
    func fillMicroBatches(stream: CorpusStreamer, masking: any MaskingStrategy, state: inout TrainerState) throws -> Int {
        var filled = 0
        while filled < microBatches.count {
            if try !stream.nextBatch(into: &microBatches[filled].tokens) {
                if filled > 0 { break }
                stream.startNextEpoch()
                state.epoch = stream.epoch
                state.batchInEpoch = 0
                guard try stream.nextBatch(into: &microBatches[filled].tokens) else {
                    throw TrainingError.data("the training corpus \(settings.corpus.joined(separator: ", ")) yields no sequences")
                }
            }
            state.epoch = stream.epoch
            masking.mask(microBatches[filled].tokens, seed: settings.seed, epoch: state.epoch,
                         batchIndex: state.batchInEpoch, into: &microBatches[filled].masked)
            state.batchInEpoch += 1
            filled += 1
        }
        return filled
    }

    // MARK: - Checkpoints

    static let firstMomentPrefix = "exp_avg."
    static let secondMomentPrefix = "exp_avg_sq."

    func writeCheckpoint(store: CheckpointStore, trainer: MaskedLMOptimizer, state: TrainerState,
                         cursor: CorpusCursor) throws -> URL {
        let model = trainer.model
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var metadata = CheckpointMetadata(
            configJSON: prepared.configJSON, vocabularyText: prepared.vocabularyText, doLowerCase: prepared.lowercase,
            runArgumentsJSON: try settings.jsonString(), step: state.step,
            dataCursorJSON: String(decoding: try encoder.encode(cursor), as: UTF8.self),
            rngState: String(decoding: try encoder.encode(state), as: UTF8.self))
        var moments: [TensorView] = []
        for tensor in trainer.optimizer.spans.tensors {
            guard let pair = trainer.optimizer.moments(of: tensor.name) else { continue }
            moments.append(TensorView(name: Self.firstMomentPrefix + tensor.name, shape: tensor.shape,
                                      values: UnsafeBufferPointer(pair.first)))
            moments.append(TensorView(name: Self.secondMomentPrefix + tensor.name, shape: tensor.shape,
                                      values: UnsafeBufferPointer(pair.second)))
        }
        return try store.save(
            step: state.step, model: model.layout.tensorViews(of: UnsafeBufferPointer(model.parameters)),
            optimizer: moments, metadata: metadata)
    }

    static func loadForResume(_ checkpoint: LoadedCheckpoint, settings: AdaptationSettings)
        throws -> (prepared: PreparedModel, state: TrainerState, cursor: CorpusCursor)
    {
        let url = checkpoint.reference.weights
        let prepared = try ModelLoading.prepare(
            checkpoint, heads: .exactly(.maskedLM), lowercase: settings.lowercase, seed: settings.seed)
        guard let stateJSON = checkpoint.metadata.rngState,
              let cursorJSON = checkpoint.metadata.dataCursorJSON else {
            throw TrainingError.resume("\(url.path) lacks the training state (rng_state, data_cursor); it is not a training checkpoint")
        }
        let decoder = JSONDecoder()
        do {
            let state = try decoder.decode(TrainerState.self, from: Data(stateJSON.utf8))
            let cursor = try decoder.decode(CorpusCursor.self, from: Data(cursorJSON.utf8))
            return (prepared, state, cursor)
        } catch {
            throw TrainingError.resume("\(url.path): unreadable training state (\(error))")
        }
    }

    func restoreMoments(into optimizer: AdamW, from checkpoint: LoadedCheckpoint, step: Int) throws {
        let url = CheckpointStore.optimizerURL(for: checkpoint.url)
        let file = try CheckpointStore.readOptimizer(pairedWith: checkpoint)
        for tensor in optimizer.spans.tensors {
            guard let pair = optimizer.moments(of: tensor.name) else { continue }
            for (prefix, buffer) in [(Self.firstMomentPrefix, pair.first), (Self.secondMomentPrefix, pair.second)] {
                guard let entry = file.entry(prefix + tensor.name), entry.elementCount == tensor.count else {
                    throw TrainingError.resume("\(url.path): no moment \(prefix + tensor.name) of \(tensor.count) values "
                        + "(was the run started with other --freeze-* options?)")
                }
                try file.readFloats(entry, into: buffer)
            }
        }
        if let saved = file.metadata["step"].flatMap(Int.init), saved != step {
            throw TrainingError.resume("\(url.path) is the optimizer state of step \(saved), the model is at step \(step)")
        }
        optimizer.restore(stepCount: step)
    }

    func writeRunDescription() throws {
        let url = outputDirectory.appendingPathComponent(RunDirectory.settingsFileName)
        let object: [String: Any] = [
            "settings": (try? JSONSerialization.jsonObject(with: Data(try settings.jsonString().utf8))) ?? [:],
            "model": prepared.checkpoint?.source ?? "scratch",
            "lowercase": prepared.lowercase,
        ]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: url, options: .atomic)
    }
}

func seconds(since start: DispatchTime) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
}
