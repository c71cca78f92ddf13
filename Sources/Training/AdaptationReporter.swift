import Checkpoint
import Dispatch
import Foundation
import Model
import Optimization
import TensorKernels

/// The run's outcome, for the final summary.
public struct AdaptationSummary {
    public var startStep: Int
    public var finalStep: Int
    public var totalSteps: Int
    public var trainingSeconds: Double
    public var wallSeconds: Double
    public var tokens: Int
    /// Steps whose update was skipped for a non-finite loss or gradient norm.
    public var skippedSteps = 0
    public var tokensPerSecond: Double { trainingSeconds > 0 ? Double(tokens) / trainingSeconds : 0 }
    public var firstEval: [SchemeMetrics]
    public var lastEval: [SchemeMetrics]
    public var bestEvalLoss: Double?
    public var bestEvalStep: Int?
    public var primaryScheme: EvalScheme
    public var checkpoints: [URL]
    public var stoppedBySignal: Bool
    public var lastCheckpoint: URL?
    public var checkpointWriteSeconds: [Double]
    public var checkpointBytes: Int?
    public var outputDirectory: URL
}

/// Everything a run tells the world as it goes: the start lines, the progress line, metrics.jsonl
/// (one train line per step, one eval line per evaluation) and the summary it returns.
final class AdaptationReporter {
    let settings: AdaptationSettings
    let metrics: MetricsLog
    let progress: ProgressReporter
    let log: (String) -> Void
    /// The eval scheme whose loss picks the best checkpoint.
    let primaryScheme: EvalScheme
    private(set) var summary: AdaptationSummary
    private var runStart = DispatchTime.now()

    init(settings: AdaptationSettings, outputDirectory: URL, startStep: Int, totalSteps: Int, resumed: Bool,
         state: TrainerState, progressIsTerminal: Bool, log: @escaping (String) -> Void) throws {
        self.settings = settings
        self.log = log
        primaryScheme = settings.primaryEvalScheme
        metrics = try MetricsLog(url: outputDirectory.appendingPathComponent(RunDirectory.metricsFileName),
                                 resumeStep: resumed ? startStep : nil)
        progress = ProgressReporter(totalSteps: totalSteps, isTerminal: progressIsTerminal)
        summary = AdaptationSummary(
            startStep: startStep, finalStep: startStep, totalSteps: totalSteps, trainingSeconds: 0, wallSeconds: 0,
            tokens: 0, firstEval: [], lastEval: [], bestEvalLoss: state.bestEvalLoss, bestEvalStep: state.bestEvalStep,
            primaryScheme: primaryScheme, checkpoints: [], stoppedBySignal: false, lastCheckpoint: nil,
            checkpointWriteSeconds: [], checkpointBytes: nil, outputDirectory: outputDirectory)
    }

    /// The lines that open a run: model, data, training plan, output folder.
    func describeStart(prepared: PreparedModel, trainable: Int, corpusFiles: Int, heldOutBatches: Int,
                       warmupSteps: Int, precision: ResolvedPrecision, outputDirectory: URL) {
        let config = prepared.model.config
        log("model: \(prepared.checkpoint?.source ?? "scratch") — \(config.numHiddenLayers) layers, hidden "
            + "\(config.hiddenSize), \(trainable) trainable parameters\(settings.freezeEmbeddings ? " (embeddings frozen)" : ""), "
            + (prepared.lowercase ? "uncased" : "cased"))
        for note in prepared.notes { log("note: \(note)") }
        log("corpus: \(corpusFiles) file(s); held out: \(heldOutBatches) batch(es) of \(settings.batchSize)×\(settings.maxSeqLength)")
        log("training: \(settings.mask.rawValue) masking p=\(settings.mlmProbability), steps \(summary.startStep)→\(summary.totalSteps), batch "
            + "\(settings.batchSize)×\(settings.gradAccum), lr \(settings.learningRate) \(settings.schedule.rawValue), warmup "
            + "\(warmupSteps), \(settings.threads) thread(s), \(precision.precision.rawValue)")
        log(precision.logLine)
        log("output: \(outputDirectory.path)")
    }

    /// The line that opens a phase: what trains, at which rates, until which step.
    func describePhase(_ phase: AdaptationPhase, headWarmupSteps: Int, totalSteps: Int, trainable: Int, automatic: Bool) {
        switch phase {
        case .headWarmup:
            let why = automatic ? " (automatic: the starting model has no trained MLM head; --head-warmup-steps 0 turns it off)" : ""
            log("phase head-warmup: steps 0→\(headWarmupSteps) train only the MLM head (\(trainable) parameters), "
                + "encoder frozen, lr \(settings.headWarmupLearningRate)\(why)")
        case .full:
            guard headWarmupSteps < totalSteps else { return }
            let groups = [("head", settings.headLearningRate), ("encoder", settings.encoderLearningRate)]
                .compactMap { name, rate in rate.map { "\(name) lr \($0)" } }
                + (settings.layerLearningRateDecay < 1 ? ["layer decay \(settings.layerLearningRateDecay)"] : [])
            log("phase full: steps \(headWarmupSteps)→\(totalSteps) train \(trainable) parameters, lr \(settings.learningRate)"
                + (groups.isEmpty ? "" : " (" + groups.joined(separator: ", ") + ")"))
        }
    }

    /// Starts the clock of the train lines' `elapsed`.
    func startTraining() { runStart = DispatchTime.now() }

    /// One optimizer step: a metrics.jsonl train line and the progress line.
    /// `ranks` > 1 adds the seconds the step spent summing over the ranks (`allreduce_s`).
    func trained(_ result: StepResult, state: TrainerState, seconds stepSeconds: Double, nextRate: Double, ranks: Int = 1) {
        summary.trainingSeconds += stepSeconds
        summary.tokens += result.tokens
        if result.skipped {
            summary.skippedSteps += 1
            warn("warning: step \(state.step) skipped: loss \(spelled(result.loss)), gradient norm "
                + "\(spelled(result.gradNorm)) "
                + "(\(state.consecutiveBadSteps ?? 1) in a row, --max-bad-steps \(settings.maxBadSteps))")
        } else {
            let smoothed = progress.smoothedLoss
            if smoothed.isFinite, state.step - summary.startStep > 20,
               result.loss > AdaptationSettings.lossSpikeFactor * smoothed {
                warn("warning: loss spike at step \(state.step): \(format(result.loss, digits: 4)) is "
                    + "\(format(result.loss / smoothed, digits: 1))× the smoothed loss \(format(smoothed, digits: 4))")
            }
            progress.record(loss: result.loss)
        }
        let throughput = summary.tokensPerSecond
        metrics.append(MetricRecord([
            ("type", .string("train")), ("step", .int(state.step)), ("epoch", .int(state.epoch)),
            ("loss", .double(result.loss)), ("acc", .double(Double(result.correct) / Double(max(1, result.maskedTokens)))),
            ("masked", .int(result.maskedTokens)), ("lr", .double(result.learningRate)),
            ("grad_norm", .double(result.gradNorm)), ("tokens", .int(result.tokens)),
            ("tokens_per_s", .double(throughput.rounded())), ("elapsed", .double(seconds(since: runStart))),
        ] + (ranks > 1 ? [("allreduce_s", .double(result.allreduceSeconds))] : [])
            + (result.skipped ? [("skipped", .bool(true))] : [])))
        let secondsPerStep = summary.trainingSeconds / Double(state.step - summary.startStep)
        progress.show(step: state.step, learningRate: nextRate, tokensPerSecond: throughput,
                      secondsPerStep: secondsPerStep, now: seconds(since: runStart))
    }

    /// A number as a person reads it, NaN and infinities included.
    private func spelled(_ value: Double) -> String {
        value.isNaN ? "NaN" : value.isInfinite ? (value > 0 ? "Inf" : "-Inf") : format(value, digits: 4)
    }

    /// A warning goes to the run's log (which the caller may capture), not only to the terminal.
    private func warn(_ text: String) {
        progress.clearLine()
        log(text)
    }

    /// One evaluation: a metrics.jsonl eval line (fields `<scheme key>_loss`, `_ppl`, `_acc`, `_masked`,
    /// `_loss_per_word`, `_masked_words`) and a message.
    func evaluated(_ results: [SchemeMetrics], state: TrainerState, seconds evalSeconds: Double) {
        var fields: [(String, MetricValue)] = [("type", .string("eval")), ("step", .int(state.step))]
        var parts: [String] = []
        for (scheme, m) in results {
            let key = scheme.metricKey
            fields += [("\(key)_loss", .double(m.loss)), ("\(key)_ppl", .double(m.perplexity)),
                       ("\(key)_acc", .double(m.accuracy)), ("\(key)_masked", .int(m.maskedTokens)),
                       ("\(key)_loss_per_word", .double(m.lossPerWord)), ("\(key)_masked_words", .int(m.maskedWords))]
            parts.append("\(scheme.rawValue) loss \(format(m.loss, digits: 4)) ppl \(format(m.perplexity, digits: 2)) acc "
                + format(100 * m.accuracy, digits: 2) + "%, loss per word \(format(m.lossPerWord, digits: 4))")
        }
        fields.append(("seconds", .double(evalSeconds)))
        metrics.append(MetricRecord(fields))
        progress.message("eval @ step \(state.step): " + parts.joined(separator: "; "))
        if summary.firstEval.isEmpty { summary.firstEval = results }
        summary.lastEval = results
        summary.bestEvalLoss = state.bestEvalLoss
        summary.bestEvalStep = state.bestEvalStep
    }

    func saved(_ checkpoint: (url: URL, seconds: Double)) {
        let (url, saveSeconds) = checkpoint
        summary.checkpointWriteSeconds.append(saveSeconds)
        summary.lastCheckpoint = url
        summary.checkpointBytes = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? nil
        progress.message("saved \(url.path) (" + String(format: "%.1f", saveSeconds) + " s)")
    }

    func stoppedBySignal() { summary.stoppedBySignal = true }

    func finish(state: TrainerState, checkpoints: [URL], wallSeconds: Double) -> AdaptationSummary {
        progress.finish()
        summary.finalStep = state.step
        summary.wallSeconds = wallSeconds
        summary.checkpoints = checkpoints
        return summary
    }
}

extension AdaptationSettings {
    /// The eval scheme whose loss picks the best checkpoint: the run's own masking where it is one
    /// of the eval schemes, else whole-word.
    var primaryEvalScheme: EvalScheme { mask == .token ? .token : .wholeWord }
}

func seconds(since start: DispatchTime) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
}
