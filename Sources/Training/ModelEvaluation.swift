import Checkpoint
import Corpus
import Foundation
import Masking
import Optimization
import Tokenizer

extension AdaptationSettings {
    /// Held-out rows in file order (no shuffle), so every run and every `evaluate` sees the same eval batches.
    func heldOutCorpusOptions() -> CorpusOptions {
        if !validationCorpus.isEmpty {
            return CorpusOptions(
                sources: validationCorpus, maxSeqLength: maxSeqLength, shuffleBufferSize: 0,
                seed: seed, validationFraction: 0, split: .train, textColumn: textColumn)
        }
        return CorpusOptions(
            sources: corpus, maxSeqLength: maxSeqLength, shuffleBufferSize: 0,
            seed: seed, validationFraction: validationSplit, split: .validation, textColumn: textColumn)
    }

    /// The first `evalBatches` held-out batches.
    func heldOutBatches(tokenizer: WordPieceTokenizer, padId: Int32) throws -> [TokenBatch] {
        let stream = try CorpusStreamer(options: heldOutCorpusOptions(), tokenizer: tokenizer)
        var batches: [TokenBatch] = []
        var batch = TokenBatch(batchSize: batchSize, seqLength: maxSeqLength, padId: padId)
        while batches.count < evalBatches, try stream.nextBatch(into: &batch) {
            batches.append(batch)
        }
        return batches
    }
}

/// Held-out scores of a model, as `mlm-adapt evaluate` reports them.
public struct HeldOutReport {
    public var batches: Int
    public var sequences: Int
    public var results: [SchemeMetrics]
}

public enum ModelEvaluation {
    /// Scores `prepared` on the held-out batches `settings` selects (corpus, validation split,
    /// batch size, sequence length, eval batches), masked with the trainer's fixed eval seed, so
    /// the numbers equal the eval lines of a run with those settings.
    public static func evaluate(_ prepared: PreparedModel, settings: AdaptationSettings,
                                schemes: [EvalScheme] = EvalScheme.trainingDefault) throws -> HeldOutReport {
        let config = prepared.model.config
        if settings.maxSeqLength > config.maxPositionEmbeddings {
            throw TrainingError.invalidSetting(
                "--max-seq-length \(settings.maxSeqLength) exceeds the model's max_position_embeddings \(config.maxPositionEmbeddings)")
        }
        let vocabulary = prepared.vocabulary
        let tokenBatches = try settings.heldOutBatches(tokenizer: prepared.tokenizer, padId: vocabulary.padId)
        let evaluation = try HeldOutEvaluation(
            tokenBatches: tokenBatches,
            vocabulary: try MaskingVocabulary(vocabulary),
            probability: settings.mlmProbability, schemes: schemes)
        guard evaluation.batchCount > 0 else {
            throw TrainingError.data(settings.validationCorpus.isEmpty
                ? "the held-out split (validation split \(settings.validationSplit)) of \(settings.corpus.joined(separator: ", ")) yields no text"
                : "the validation corpus \(settings.validationCorpus.joined(separator: ", ")) yields no text")
        }
        // Nothing is trained: the optimizer only supplies the forward pass and its workspace.
        let model = prepared.model
        let expectedMasked = Int((settings.mlmProbability * Double(settings.maxSeqLength)).rounded(.up)) + 8
        let scorer = MaskedLMOptimizer(
            model: model, spans: TrainableSpans(layout: model.layout) { _ in false }, settings: AdamWSettings(),
            schedule: LearningRateSchedule(kind: .constant, peakRate: 0, warmupSteps: 0, totalSteps: 1),
            maxGradNorm: nil, batchSize: settings.batchSize, seqLength: settings.maxSeqLength,
            maxMaskedTokens: settings.batchSize * min(settings.maxSeqLength, expectedMasked), threads: settings.threads)
        return HeldOutReport(
            batches: evaluation.batchCount, sequences: tokenBatches.reduce(0) { $0 + $1.rowCount },
            results: try evaluation.evaluate(scorer))
    }
}
