import Foundation
import Reporting

extension AdaptationSummary {
    /// `summary.json` of the run: the last held-out eval, throughput, the best eval loss and the files.
    public var runSummary: RunSummary {
        var final: [String: Double] = [:]
        for (scheme, metrics) in lastEval {
            let key = scheme.metricKey
            final["\(key)_loss"] = metrics.loss
            final["\(key)_ppl"] = metrics.perplexity
            final["\(key)_acc"] = metrics.accuracy
            final["\(key)_loss_per_word"] = metrics.lossPerWord
        }
        final["tokens_per_s"] = tokensPerSecond
        final["training_seconds"] = trainingSeconds
        final["tokens"] = Double(tokens)
        final["skipped_steps"] = Double(skippedSteps)
        let best = bestEvalLoss.map { RunSummary.Best(metric: "\(primaryScheme.metricKey)_loss", value: $0, step: bestEvalStep) }
        return RunSummary(
            command: "adapt", runFolder: outputDirectory, final: final, best: best, completed: finalStep,
            planned: totalSteps, stoppedEarly: stoppedBySignal || finalStep < totalSteps, seconds: wallSeconds,
            checkpoints: checkpoints, metrics: outputDirectory.appendingPathComponent(RunDirectory.metricsFileName))
    }

    public var reportURL: URL { outputDirectory.appendingPathComponent(RunReportFiles.reportFileName) }
}

extension Adaptation {
    /// Writes `summary.json` and `report.html`; a failure is logged, never fatal: the checkpoints are already safe.
    func writeRunReport(_ summary: AdaptationSummary) {
        do {
            try RunReportFiles.write(summary.runSummary)
        } catch {
            log("warning: \(error)")
        }
    }
}
