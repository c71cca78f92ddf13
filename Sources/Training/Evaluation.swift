import Corpus
import Foundation
import Masking

/// Held-out masked-LM quality under one masking scheme.
public struct EvalMetrics: Equatable, Sendable {
    /// Mean cross-entropy over all masked tokens.
    public var loss: Double
    public var perplexity: Double { exp(loss) }
    /// Share of masked tokens whose arg-max prediction is the original token.
    public var accuracy: Double
    public var maskedTokens: Int
    /// Summed cross-entropy of the masked tokens over `maskedWords`. Under whole-word masking a word's
    /// pieces are all masked, so this is each masked word's total loss, comparable between vocabularies
    /// that cut the same text into different numbers of tokens (the per-token loss is not).
    public var lossPerWord: Double
    /// Distinct words (`TokenBatch.wordIds`) with at least one masked token.
    public var maskedWords: Int

    /// The metrics of `maskedTokens` masked tokens in `maskedWords` words whose cross-entropies add up
    /// to `lossSum`, `correct` of them predicted right; NaN where nothing was masked.
    public init(lossSum: Double, correct: Int, maskedTokens: Int, maskedWords: Int) {
        loss = maskedTokens > 0 ? lossSum / Double(maskedTokens) : .nan
        accuracy = maskedTokens > 0 ? Double(correct) / Double(maskedTokens) : .nan
        lossPerWord = maskedWords > 0 ? lossSum / Double(maskedWords) : .nan
        self.maskedTokens = maskedTokens
        self.maskedWords = maskedWords
    }

    /// Scores the model on `batches` as they are masked (no dropout, weights unchanged).
    public init(scoring batches: [MicroBatch], with trainer: MaskedLMOptimizer) throws {
        var lossSum = 0.0, correct = 0, tokens = 0, words = 0
        for batch in batches where batch.tokens.rowCount > 0 {
            let result = try trainer.forward(batch, training: false, dropoutSeed: 0)
            lossSum += Double(result.loss) * Double(result.count)
            correct += result.correct
            tokens += result.count
            words += batch.masked.maskedWordCount(wordsOf: batch.tokens)
        }
        self.init(lossSum: lossSum, correct: correct, maskedTokens: tokens, maskedWords: words)
    }
}

/// A held-out masking under which the model is scored: the run's strategy at the BERT rate with
/// the default 80/10/10 replacement, the same for every run so strategies compare on equal terms.
public enum EvalScheme: String, CaseIterable, Codable, Sendable, CustomStringConvertible {
    case token
    case wholeWord = "whole-word"
    case span

    public var description: String { rawValue }

    /// The schemes every training run reports.
    public static let trainingDefault: [EvalScheme] = [.token, .wholeWord]

    public var strategy: MaskingStrategyKind {
        switch self {
        case .token: .token
        case .wholeWord: .wholeWord
        case .span: .span
        }
    }

    /// The prefix of this scheme's fields in metrics.jsonl and `evaluate --json` (`whole_word_loss`, …).
    public var metricKey: String {
        switch self {
        case .token: "token"
        case .wholeWord: "whole_word"
        case .span: "span"
        }
    }
}

/// One scheme's scores.
public typealias SchemeMetrics = (scheme: EvalScheme, metrics: EvalMetrics)

/// A fixed set of held-out batches, each masked once per eval scheme with a seed that does not
/// depend on the run, so every evaluation of every run and strategy scores the same masks.
public final class HeldOutEvaluation {
    /// The eval masks' seed: a constant, not the run's `--seed`.
    public static let maskingSeed: UInt64 = 0x0E7A_15EE_D000_0001
    public let schemes: [EvalScheme]
    let batchesByScheme: [[MicroBatch]]

    public var batchCount: Int { batchesByScheme.first?.count ?? 0 }

    /// Masks `tokenBatches` once per scheme. `vocabulary` gives the `[MASK]` id and the ids a
    /// random replacement may take.
    public init(tokenBatches: [TokenBatch], vocabulary: MaskingVocabulary, probability: Double = 0.15,
                schemes: [EvalScheme] = EvalScheme.trainingDefault) throws {
        var all: [[MicroBatch]] = []
        for scheme in schemes {
            let strategy = try makeMaskingStrategy(
                MaskingOptions(strategy: scheme.strategy, probability: probability), vocabulary: vocabulary)
            var list: [MicroBatch] = []
            for (index, batch) in tokenBatches.enumerated() {
                var masked = MaskedBatch(batchSize: batch.batchSize, seqLength: batch.seqLength)
                strategy.mask(batch, seed: Self.maskingSeed, epoch: 0, batchIndex: index, into: &masked)
                list.append(MicroBatch(tokens: batch, masked: masked))
            }
            all.append(list)
        }
        self.schemes = schemes
        batchesByScheme = all
    }

    /// Scores the model under every scheme (no dropout, weights unchanged).
    public func evaluate(_ trainer: MaskedLMOptimizer) throws -> [SchemeMetrics] {
        try zip(schemes, batchesByScheme).map { scheme, batches in
            (scheme, try EvalMetrics(scoring: batches, with: trainer))
        }
    }
}
