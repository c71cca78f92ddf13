import Checkpoint
import Corpus
import Foundation
import Masking
import Optimization
import Tokenizer

extension AdaptationSettings {
    /// Held-out rows in file order (no shuffle), so every run and every `evaluate` sees the same eval batches.
    public func heldOutCorpusOptions() -> CorpusOptions {
        if !validationCorpus.isEmpty {
            return CorpusOptions(
                sources: validationCorpus, maxSeqLength: maxSeqLength, shuffleBufferSize: 0,
                seed: seed, validationFraction: 0, split: .train, textColumn: textColumn)
        }
        return CorpusOptions(
            sources: corpus, maxSeqLength: maxSeqLength, shuffleBufferSize: 0,
            seed: seed, validationFraction: validationSplit, split: .validation, textColumn: textColumn)
    }

    /// The first `evalBatches` held-out batches; none is an error saying which set is empty and why.
    func heldOutBatches(tokenizer: WordPieceTokenizer, padId: Int32) throws -> [TokenBatch] {
        let stream = try CorpusStreamer(options: heldOutCorpusOptions(), tokenizer: tokenizer)
        var batches: [TokenBatch] = []
        var batch = TokenBatch(batchSize: batchSize, seqLength: maxSeqLength, padId: padId)
        do {
            while batches.count < evalBatches, try stream.nextBatch(into: &batch) {
                batches.append(batch)
            }
        } catch CorpusError.emptyCorpus(_, _, let documents) {
            throw TrainingError.data(emptyHeldOutMessage(documents: documents))
        }
        if batches.isEmpty { throw TrainingError.data(emptyHeldOutMessage(documents: nil)) }
        return batches
    }

    /// Why the held-out set is empty, given the documents its stream read (both splits; nil: unknown).
    func emptyHeldOutMessage(documents: Int?) -> String {
        if !validationCorpus.isEmpty {
            return "the validation set is empty: --validation-corpus \(validationCorpus.joined(separator: ", ")) holds no documents"
        }
        let sources = corpus.joined(separator: ", ")
        switch documents {
        case 0: return "the corpus holds no documents (its files are empty or blank): \(sources)"
        case 1: return "the corpus holds a single document, too few to hold one out: \(sources); pass --validation-corpus FILE"
        case let count?: return "none of the corpus's \(count) documents fell in the held-out split "
            + "(--validation-split \(validationSplit)): \(sources); raise it or pass --validation-corpus FILE"
        case nil: return "the held-out split (--validation-split \(validationSplit)) of \(sources) yields no text; "
            + "raise it or pass --validation-corpus FILE"
        }
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
        // Nothing is trained: the optimizer only supplies the forward pass and its workspace.
        let model = prepared.model
        let expectedMasked = Int((settings.mlmProbability * Double(settings.maxSeqLength)).rounded(.up)) + 8
        let scorer = try MaskedLMOptimizer(
            model: model, spans: TrainableSpans(layout: model.layout) { _ in false }, settings: AdamWSettings(),
            schedule: LearningRateSchedule(kind: .constant, peakRate: 0, warmupSteps: 0, totalSteps: 1),
            maxGradNorm: nil, batchSize: settings.batchSize, seqLength: settings.maxSeqLength,
            maxMaskedTokens: settings.batchSize * min(settings.maxSeqLength, expectedMasked), threads: settings.threads)
        return HeldOutReport(
            batches: evaluation.batchCount, sequences: tokenBatches.reduce(0) { $0 + $1.rowCount },
            results: try evaluation.evaluate(scorer))
    }
}
