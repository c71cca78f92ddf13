import Corpus
import Foundation
import Testing
@testable import Checkpoint
@testable import Masking
@testable import Model
import Optimization
@testable import Training

@Suite struct AccumulationTests {
    /// Two real 2-row batches from the corpus, whole-word masked (their masked counts differ).
    func halves(_ prepared: PreparedModel, seqLength: Int) throws -> [MicroBatch] {
        let vocabulary = prepared.vocabulary
        let stream = try CorpusStreamer(
            options: CorpusOptions(sources: [TinySetup.corpus.path], maxSeqLength: seqLength, shuffleBufferSize: 0,
                                   validationFraction: 0),
            tokenizer: prepared.tokenizer)
        let masking = try makeMaskingStrategy(
            MaskingOptions(strategy: .wholeWord, probability: 0.2, budget: .bernoulli),
            vocabulary: MaskingVocabulary(size: vocabulary.count, maskId: vocabulary.maskId, specialIds: vocabulary.specialIds))
        return try (0..<2).map { index in
            var tokens = TokenBatch(batchSize: 2, seqLength: seqLength, padId: vocabulary.padId)
            let filled = try stream.nextBatch(into: &tokens)
            #expect(filled && tokens.rowCount == 2)
            var masked = MaskedBatch(batchSize: 2, seqLength: seqLength)
            masking.mask(tokens, seed: 3, epoch: 0, batchIndex: index, into: &masked)
            return MicroBatch(tokens: tokens, masked: masked)
        }
    }

    /// The two halves as one 4-row batch with the same masks.
    func joined(_ parts: [MicroBatch]) -> MicroBatch {
        let s = parts[0].tokens.seqLength
        var tokens = TokenBatch(batchSize: 4, seqLength: s, padId: 0)
        var masked = MaskedBatch(batchSize: 4, seqLength: s)
        tokens.inputIds = parts.flatMap(\.tokens.inputIds)
        tokens.tokenTypeIds = parts.flatMap(\.tokens.tokenTypeIds)
        tokens.attentionMask = parts.flatMap(\.tokens.attentionMask)
        tokens.specialTokensMask = parts.flatMap(\.tokens.specialTokensMask)
        tokens.wordIds = parts.flatMap(\.tokens.wordIds)
        tokens.rowCount = 4
        masked.inputIds = parts.flatMap(\.masked.inputIds)
        masked.labels = parts.flatMap(\.masked.labels)
        masked.maskedPositions = parts[0].masked.maskedPositions + parts[1].masked.maskedPositions.map { $0 + Int32(2 * s) }
        masked.maskedLabels = parts.flatMap(\.masked.maskedLabels)
        masked.rowCount = 4
        return MicroBatch(tokens: tokens, masked: masked)
    }

    func optimizer(_ prepared: PreparedModel, maxGradNorm: Double?) throws -> MaskedLMOptimizer {
        try MaskedLMOptimizer(
            model: prepared.model, spans: TrainableSpans(layout: prepared.model.layout) { _ in true },
            settings: AdamWSettings(), schedule: LearningRateSchedule(kind: .constant, peakRate: 1e-3, warmupSteps: 0, totalSteps: 10),
            maxGradNorm: maxGradNorm, batchSize: 4, seqLength: 32, maxMaskedTokens: 128, threads: 2)
    }

    @Test(arguments: [nil, 0.5])
    func twoMicroBatchesEqualOneBatchOfFour(maxGradNorm: Double?) throws {
        let tiny = try TinySetup(dropout: 0)
        defer { tiny.remove() }
        let big = try ModelLoading.prepare(tiny.source, lowercase: nil, seed: 11)
        let small = try ModelLoading.prepare(tiny.source, lowercase: nil, seed: 11)
        #expect(Array(big.model.parameters) == Array(small.model.parameters))
        let parts = try halves(big, seqLength: 32)
        #expect(parts[0].masked.maskedPositions.count != parts[1].masked.maskedPositions.count,
                "the halves should mask different numbers of tokens, or the weighting goes untested")

        let one = try optimizer(big, maxGradNorm: maxGradNorm).step([joined(parts)]) { _ in 0 }
        let two = try optimizer(small, maxGradNorm: maxGradNorm).step(parts) { _ in 0 }

        #expect(one.maskedTokens == two.maskedTokens)
        #expect(abs(one.loss - two.loss) < 1e-5 * one.loss)
        #expect(abs(one.gradNorm - two.gradNorm) < 1e-5 * one.gradNorm)
        var worstGradient: Float = 0
        let scale = big.model.gradients.map { abs($0) }.max() ?? 1
        for i in 0..<big.model.layout.totalCount {
            worstGradient = max(worstGradient, abs(big.model.gradients[i] - small.model.gradients[i]))
        }
        #expect(worstGradient < 1e-5 * scale, "gradients differ by \(worstGradient) (scale \(scale))")
        var worstWeight: Float = 0
        for i in 0..<big.model.layout.totalCount {
            worstWeight = max(worstWeight, abs(big.model.parameters[i] - small.model.parameters[i]))
        }
        // Adam divides by √v, so tiny gradient differences on near-zero entries move weights by up to lr.
        #expect(worstWeight < 1e-4, "weights differ by \(worstWeight) after one update")
    }
}
