import Checkpoint
import DataParallel
import Dispatch
import Foundation
import Optimization
import TensorKernels

/// Domain-adaptive MLM training: streams the corpus, masks, trains, evaluates on held-out data,
/// logs metrics and writes checkpoints, and resumes exactly from any of them. The data, the
/// checkpoints and the reporting each live in their own file; `run()` is the loop that ties them.
///
/// Data-parallel (`group` of several ranks, started by mpirun): every rank runs this same loop on its
/// share of each batch (`AdaptationData`), the step sums the gradients (`MaskedLMOptimizer`), and only
/// rank 0 touches the run folder: it evaluates, logs, writes metrics and checkpoints while the others wait
/// at a barrier. The ranks agree on stopping at every step, so a signal to any of them stops all.
public final class Adaptation {
    public let settings: AdaptationSettings
    public let outputDirectory: URL
    let prepared: PreparedModel
    let resume: ResumePoint?
    let precision: ResolvedPrecision
    /// The head warm-up was chosen because the starting checkpoint has no trained MLM head.
    let automaticHeadWarmup: Bool
    let stop: StopSignal
    let group: ProcessGroup
    let log: (String) -> Void
    let progressIsTerminal: Bool
    /// Called after each optimizer step (and its eval/save) with the step number; tests use it
    /// to request a stop at a chosen step.
    public var afterStep: ((Int) -> Void)?

    /// - Parameters:
    ///   - source: starting weights; ignored when resuming.
    ///   - resume: a checkpoint of an earlier run, already opened (its settings must be `settings`, see
    ///     `resumeSettings`); its file is not read again.
    public init(settings: AdaptationSettings, source: ModelSource, resume: LoadedCheckpoint?, outputDirectory: URL,
                stop: StopSignal = StopSignal(), group: ProcessGroup = .single,
                progressIsTerminal: Bool = isatty(STDERR_FILENO) != 0,
                log: @escaping (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }) throws {
        try settings.validate()
        if settings.batchSize % group.size != 0 {
            throw TrainingError.invalidSetting(
                "--batch-size \(settings.batchSize) does not divide among the \(group.size) ranks of this mpirun job: "
                    + "the batch is global and each rank trains on an equal share of its rows; give a multiple of \(group.size)")
        }
        self.outputDirectory = outputDirectory
        self.stop = stop
        self.group = group
        // Rank 0 speaks for the run.
        self.log = group.isLeader ? log : { _ in }
        self.progressIsTerminal = progressIsTerminal
        precision = try settings.precision.resolved()
        var settings = settings
        if let resume {
            let point = try AdaptationCheckpoints.loadForResume(resume, settings: settings)
            prepared = point.prepared
            self.resume = point
            // A run stored before head warm-up existed had none.
            settings.headWarmupSteps = settings.headWarmupSteps ?? 0
            automaticHeadWarmup = false
        } else {
            let loaded = try ModelLoading.prepare(source, lowercase: settings.lowercase, seed: settings.seed)
            prepared = try Self.extendingVocabulary(of: loaded, source: source, settings: settings)
            self.resume = nil
            let untrainedHead = prepared.createdMaskedLMHead && prepared.checkpoint != nil
            automaticHeadWarmup = settings.headWarmupSteps == nil && untrainedHead
            // A short run keeps half its steps for the encoder.
            let automatic = settings.maxSteps.map { min(AdaptationSettings.automaticHeadWarmupSteps, $0 / 2) }
                ?? AdaptationSettings.automaticHeadWarmupSteps
            settings.headWarmupSteps = settings.headWarmupSteps ?? (untrainedHead ? automatic : 0)
        }
        self.settings = settings
        if group.isDistributed && prepared.model.parameters.count > Int(Int32.max) {
            throw TrainingError.invalidSetting(
                "the model's \(prepared.model.parameters.count) parameters exceed what one MPI call moves (2^31 − 1 floats)")
        }
        prepared.model.setPrecision(precision)
        let config = prepared.model.config
        if settings.maxSeqLength > config.maxPositionEmbeddings {
            throw TrainingError.invalidSetting(
                "--max-seq-length \(settings.maxSeqLength) exceeds the model's max_position_embeddings \(config.maxPositionEmbeddings)")
        }
    }

    /// The starting model with `--vocab-extension`'s vocabulary, when one is given.
    static func extendingVocabulary(of prepared: PreparedModel, source: ModelSource, settings: AdaptationSettings) throws
        -> PreparedModel
    {
        guard let path = settings.vocabularyExtension else { return prepared }
        if case .scratch = source {
            throw TrainingError.invalidSetting(
                "--vocab-extension extends a pretrained model's vocabulary; a model from scratch takes its whole vocabulary as --vocab")
        }
        // Read as the checkpoint's own vocabulary is, so the prefix check compares like with like and a list
        // that drops old tokens is named as such before any other problem.
        let text: String
        do { text = try String(contentsOf: URL(fileURLWithPath: path), encoding: .utf8) } catch {
            throw TrainingError.invalidSetting("--vocab-extension \(path): cannot read it as UTF-8 text (\(error.localizedDescription))")
        }
        return try prepared.extendingVocabulary(to: vocabularyTokens(fromText: text), file: path)
    }

    /// The settings stored in a checkpoint, for `--resume`.
    public static func resumeSettings(from checkpoint: LoadedCheckpoint) throws -> AdaptationSettings {
        guard let json = checkpoint.metadata.runArgumentsJSON else {
            throw TrainingError.resume("\(checkpoint.source) has no run arguments; it was not written by mlm-adapt training")
        }
        return try AdaptationSettings.decode(json: json, source: checkpoint.source)
    }

    public func run() throws -> AdaptationSummary {
        let wallStart = DispatchTime.now()
        try checkRanksAgree()
        var folderLock: RunFolderLock?
        if group.isLeader {
            try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true)
            folderLock = try RunFolderLock(directory: outputDirectory)
            if resume == nil { try AdaptationCheckpoints.claimFolder(outputDirectory, overwrite: settings.overwrite, log: log) }
        }
        defer { withExtendedLifetime(folderLock) {} }
        // Every rank must get here before any trains: a refusal on rank 0 (the folder) stops them all.
        try group.barrier("MPI_Barrier before training")

        // Data: the training stream and the fixed held-out batches (rank 0 evaluates).
        let tokenizer = prepared.tokenizer
        let vocabulary = prepared.vocabulary
        let data = try AdaptationData(settings: settings, tokenizer: tokenizer, vocabulary: vocabulary,
                                      resumeFrom: resume?.cursor, group: group)
        let evaluation = group.isLeader ? try settings.heldOutEvaluation(tokenizer: tokenizer, vocabulary: vocabulary) : nil
        let totalSteps = try settings.plannedSteps(tokenizer: tokenizer, padId: vocabulary.padId, log: log)

        // Model and optimizer of the phase the run is in, and where a resumed run left them.
        let headWarmupSteps = settings.headWarmupSteps ?? 0
        if headWarmupSteps > totalSteps {
            throw TrainingError.invalidSetting(
                "--head-warmup-steps \(headWarmupSteps) exceeds the run's \(totalSteps) steps")
        }
        var state = resume?.state ?? TrainerState(step: 0, epoch: 0, batchInEpoch: 0, seed: settings.seed)
        let startStep = state.step
        if startStep > totalSteps {
            throw TrainingError.resume("the checkpoint is at step \(startStep), beyond --max-steps \(totalSteps)")
        }
        if let planned = state.plannedSteps, planned != totalSteps, !settings.scheduleIgnoresRunLength {
            throw TrainingError.resume(
                "the run planned \(planned) steps and its \(settings.schedule.rawValue) learning rate (warmup \(settings.warmup)) "
                    + "is laid out over them; \(totalSteps) would change the rate of every step still to come. "
                    + "Resume with the same --max-steps/--epochs, or start a new run with --init from this checkpoint")
        }
        state.plannedSteps = totalSteps
        var phase = AdaptationPhase.at(step: startStep, headWarmupSteps: headWarmupSteps)
        var trainer = try makeTrainer(phase, totalSteps: totalSteps)
        let checkpoints = AdaptationCheckpoints(settings: settings, prepared: prepared, directory: outputDirectory)
        // A phase that starts at the resumed step has fresh moments (the saved ones are the previous phase's).
        if let resume, startStep > phase.firstStep(headWarmupSteps: headWarmupSteps) {
            try checkpoints.restoreMoments(
                into: trainer.optimizer, from: resume, phaseStart: phase.firstStep(headWarmupSteps: headWarmupSteps))
        }

        // Reporting (rank 0).
        let report = try group.isLeader ? AdaptationReporter(
            settings: settings, outputDirectory: outputDirectory, startStep: startStep, totalSteps: totalSteps,
            resumed: resume != nil, state: state, progressIsTerminal: progressIsTerminal, log: log) : nil
        if let report, let evaluation {
            try checkpoints.writeRunDescription(to: outputDirectory, worldSize: group.size)
            report.describeStart(
                prepared: prepared, trainable: trainer.optimizer.spans.elementCount, corpusFiles: data.stream.files.count,
                heldOutBatches: evaluation.batchCount, warmupSteps: trainer.schedule.warmupSteps, precision: precision,
                outputDirectory: outputDirectory)
            if group.isDistributed {
                log("data-parallel: \(group.size) ranks × \(settings.threads) thread\(settings.threads == 1 ? "" : "s"), "
                    + "\(settings.batchSize / group.size) of each batch's \(settings.batchSize) sequences per rank")
            }
            report.describePhase(phase, headWarmupSteps: headWarmupSteps, totalSteps: totalSteps,
                                 trainable: trainer.optimizer.spans.elementCount, automatic: automaticHeadWarmup)
        }

        // The loop: one optimizer step, then evaluate and save when due.
        if startStep == 0 { try evaluate(evaluation, trainer, report, &state) }
        var lastSavedStep = resume == nil ? -1 : startStep
        var lastEvalStep = startStep
        var stoppedBySignal = false
        report?.startTraining()
        while state.step < totalSteps {
            if try agreedStop() {
                stoppedBySignal = true
                break
            }
            if phase == .headWarmup && state.step == headWarmupSteps {
                phase = .full
                trainer = try makeTrainer(phase, totalSteps: totalSteps)
                report?.describePhase(phase, headWarmupSteps: headWarmupSteps, totalSteps: totalSteps,
                                      trainable: trainer.optimizer.spans.elementCount, automatic: automaticHeadWarmup)
            }
            let stepStart = DispatchTime.now()
            let (batches, share) = try data.nextStep(state: &state)
            let step = state.step, runSeed = settings.seed
            let result = try trainer.step(batches, share: share) { micro in
                dropoutSeed(runSeed: runSeed, step: step, micro: micro)
            }
            state.step += 1
            state.consecutiveBadSteps = result.skipped ? (state.consecutiveBadSteps ?? 0) + 1 : nil
            report?.trained(result, state: state, seconds: seconds(since: stepStart),
                            nextRate: trainer.schedule.rate(atStep: trainer.completedSteps), ranks: group.size)
            if let bad = state.consecutiveBadSteps, bad >= settings.maxBadSteps {
                throw TrainingError.diverged(
                    "\(bad) steps in a row (to step \(state.step)) had a non-finite loss or gradient norm and were skipped "
                        + "(--max-bad-steps \(settings.maxBadSteps)); nothing was saved past step \(lastSavedStep). "
                        + "Lower --lr, or resume from an earlier checkpoint.")
            }
            if settings.evalEvery > 0 && state.step % settings.evalEvery == 0 {
                try evaluate(evaluation, trainer, report, &state)
                lastEvalStep = state.step
            }
            if settings.saveEvery > 0 && state.step % settings.saveEvery == 0 && state.step < totalSteps {
                try save(trainer, data, checkpoints, report, state)
                lastSavedStep = state.step
            }
            afterStep?(state.step)
        }
        if try agreedStop() { stoppedBySignal = true }
        if !stoppedBySignal && lastEvalStep != state.step { try evaluate(evaluation, trainer, report, &state) }
        if lastSavedStep != state.step { try save(trainer, data, checkpoints, report, state) }
        guard let report else {
            return AdaptationSummary(
                startStep: startStep, finalStep: state.step, totalSteps: totalSteps, trainingSeconds: 0,
                wallSeconds: seconds(since: wallStart), tokens: 0, firstEval: [], lastEval: [], primaryScheme: settings.primaryEvalScheme,
                checkpoints: [], stoppedBySignal: stoppedBySignal, checkpointWriteSeconds: [], outputDirectory: outputDirectory)
        }
        if stoppedBySignal { report.stoppedBySignal() }
        let summary = report.finish(state: state, checkpoints: checkpoints.store.checkpoints().map(\.url),
                                    wallSeconds: seconds(since: wallStart))
        writeRunReport(summary)
        return summary
    }

    /// Whether any rank was asked to stop: a signal to one rank stops every rank after the same step, and
    /// each then reports the same signal.
    private func agreedStop() throws -> Bool {
        let signal = try group.largest(stop.signalNumber, "MPI_Allreduce of the stop flag")
        if signal != 0 { stop.request(signal) }
        return signal != 0
    }

    /// Scores the held-out batches, keeps the best primary-scheme loss in `state`, and reports (rank 0;
    /// the other ranks wait).
    private func evaluate(_ evaluation: HeldOutEvaluation?, _ trainer: MaskedLMOptimizer, _ report: AdaptationReporter?,
                          _ state: inout TrainerState) throws {
        if let evaluation, let report {
            let started = DispatchTime.now()
            let results = try evaluation.evaluate(trainer)
            if let primary = results.first(where: { $0.scheme == report.primaryScheme }) {
                state.record(evalLoss: primary.metrics.loss)
            }
            report.evaluated(results, state: state, seconds: seconds(since: started))
        }
        try group.barrier("MPI_Barrier after the evaluation")
    }

    /// Rank 0 writes the checkpoint once every rank is known to hold the same weights and it holds every
    /// rank's moments; the others wait.
    private func save(_ trainer: MaskedLMOptimizer, _ data: AdaptationData, _ checkpoints: AdaptationCheckpoints,
                      _ report: AdaptationReporter?, _ state: TrainerState) throws {
        try checkWeightsAgree(trainer.model, step: state.step)
        try trainer.gatherMoments()
        if let report {
            report.saved(try checkpoints.save(trainer: trainer, state: state, cursor: data.cursor))
        }
        try group.barrier("MPI_Barrier after the checkpoint")
    }

    /// AdamW over the phase's trainable tensors, at their groups' learning rates, with the phase's schedule.
    func makeTrainer(_ phase: AdaptationPhase, totalSteps: Int) throws -> MaskedLMOptimizer {
        let model = prepared.model
        let (spans, frozen) = phase.trainables(settings, layout: model.layout)
        try model.setFrozenBottom(frozen)
        let expectedMasked = Int((settings.mlmProbability * Double(settings.maxSeqLength)).rounded(.up)) + 8
        return try MaskedLMOptimizer(
            model: model, spans: spans, settings: AdamWSettings(weightDecay: settings.weightDecay),
            schedule: phase.schedule(settings, totalSteps: totalSteps, headWarmupSteps: settings.headWarmupSteps ?? 0),
            maxGradNorm: settings.maxGradNorm > 0 ? settings.maxGradNorm : nil, batchSize: settings.batchSize,
            seqLength: settings.maxSeqLength,
            maxMaskedTokens: settings.batchSize * min(settings.maxSeqLength, expectedMasked), threads: settings.threads,
            group: group)
    }
}
