import Foundation

/// A metrics or report file that cannot be used, with the file and line.
struct ReportInputError: Error, CustomStringConvertible {
    let description: String
}

/// Held-out MLM figures at one step, under the trainer's fixed eval masks.
struct EvalPoint: Equatable, Sendable {
    let step: Int
    /// Keyed by eval scheme ("token", "whole_word"): loss and accuracy.
    let loss: [String: Double]
    let accuracy: [String: Double]
}

extension EvalPoint {
    /// The `<scheme>_loss` and `<scheme>_acc` fields of a metrics eval line or an `evaluate --json`
    /// object; nil when there is no loss.
    init?(fields object: [String: Any], step: Int) {
        var loss: [String: Double] = [:], accuracy: [String: Double] = [:]
        for scheme in AdaptationMetrics.evalSchemes {
            // JSON null (a non-finite value) reads as NSNull and is left out.
            if let value = object["\(scheme)_loss"] as? NSNumber { loss[scheme] = value.doubleValue }
            if let value = object["\(scheme)_acc"] as? NSNumber { accuracy[scheme] = value.doubleValue }
        }
        if loss.isEmpty { return nil }
        self.init(step: step, loss: loss, accuracy: accuracy)
    }

    /// The object `mlm-adapt evaluate --json` printed, saved in `url` (step: the checkpoint's, else 0).
    static func readEvaluation(_ url: URL) throws -> EvalPoint {
        let object = try readJSONObject(url)
        guard let point = EvalPoint(fields: object, step: (object["step"] as? NSNumber)?.intValue ?? 0) else {
            throw ReportInputError(description: "\(url.path): no token_loss or whole_word_loss")
        }
        return point
    }
}

func readJSONObject(_ url: URL) throws -> [String: Any] {
    let data: Data
    do { data = try Data(contentsOf: url) } catch {
        throw ReportInputError(description: "\(url.path): cannot read: \(error.localizedDescription)")
    }
    guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
        throw ReportInputError(description: "\(url.path): not a JSON object")
    }
    return object
}

/// What the benchmark needs from an adaptation run's `metrics.jsonl`.
struct AdaptationMetrics: Equatable, Sendable {
    let evals: [EvalPoint]
    /// The trainer's running tokens/s over training steps (eval and checkpoint time excluded), from the last train line.
    let trainTokensPerSecond: Double?
    let trainSteps: Int
    /// Tokens seen in training (sum of the train lines' `tokens`).
    let trainTokens: Int

    var first: EvalPoint? { evals.first }
    var last: EvalPoint? { evals.last }

    /// Eval schemes the trainer writes: `<scheme>_loss` and `<scheme>_acc` keys of eval lines.
    static let evalSchemes = ["token", "whole_word"]

    static func read(_ url: URL) throws -> AdaptationMetrics {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw ReportInputError(description: "\(url.path): cannot read: \(error.localizedDescription)")
        }
        return try parse(text, source: url.path)
    }

    static func parse(_ text: String, source: String) throws -> AdaptationMetrics {
        var evals: [EvalPoint] = []
        var tokensPerSecond: Double?
        var trainSteps = 0, trainTokens = 0
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            guard let object = (try? JSONSerialization.jsonObject(with: Data(trimmed.utf8))) as? [String: Any] else {
                throw ReportInputError(description: "\(source):\(index + 1): not a JSON object")
            }
            guard let type = object["type"] as? String, let step = (object["step"] as? NSNumber)?.intValue else {
                throw ReportInputError(description: "\(source):\(index + 1): a metrics line needs \"type\" and \"step\"")
            }
            switch type {
            case "eval":
                guard let point = EvalPoint(fields: object, step: step) else {
                    throw ReportInputError(description: "\(source):\(index + 1): eval line without token_loss or whole_word_loss")
                }
                evals.append(point)
            case "train":
                trainSteps = max(trainSteps, step)
                trainTokens += (object["tokens"] as? NSNumber)?.intValue ?? 0
                if let value = object["tokens_per_s"] as? NSNumber { tokensPerSecond = value.doubleValue }
            default:
                continue  // other line types (summaries, notes) do not matter here
            }
        }
        evals.sort { $0.step < $1.step }
        return AdaptationMetrics(evals: evals, trainTokensPerSecond: tokensPerSecond, trainSteps: trainSteps,
                                 trainTokens: trainTokens)
    }
}

/// Test-split (and dev-split) scores from a fine-tuning run's `report.json`.
struct FineTuneScores: Equatable, Sendable {
    var testAccuracy: Double?
    var testMacroF1: Double?
    var testEntityF1: Double?
    var validationAccuracy: Double?
    var validationMacroF1: Double?
    var validationEntityF1: Double?
    var seconds: Double?

    static func read(_ url: URL) throws -> FineTuneScores {
        let object = try readJSONObject(url)
        func split(_ name: String) -> (accuracy: Double?, macroF1: Double?, entityF1: Double?) {
            guard let metrics = object[name] as? [String: Any] else { return (nil, nil, nil) }
            let classification = metrics["classification"] as? [String: Any]
            let entities = metrics["entities"] as? [String: Any]
            return ((classification?["accuracy"] as? NSNumber)?.doubleValue,
                    (classification?["macroF1"] as? NSNumber)?.doubleValue,
                    (entities?["f1"] as? NSNumber)?.doubleValue)
        }
        let test = split("test"), validation = split("validation")
        let scores = FineTuneScores(
            testAccuracy: test.accuracy, testMacroF1: test.macroF1, testEntityF1: test.entityF1,
            validationAccuracy: validation.accuracy, validationMacroF1: validation.macroF1,
            validationEntityF1: validation.entityF1, seconds: (object["seconds"] as? NSNumber)?.doubleValue)
        if scores.testAccuracy == nil && scores.testEntityF1 == nil && scores.validationAccuracy == nil
            && scores.validationEntityF1 == nil {
            throw ReportInputError(description: "\(url.path): no test or validation scores (classification.accuracy or entities.f1)")
        }
        return scores
    }
}
