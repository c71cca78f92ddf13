import Corpus
import DataParallel
import Foundation
import Masking
import Tokenizer

/// The training data of a run: the shuffled corpus stream, where it stands (the cursor a checkpoint
/// stores), and the masked micro-batches of each optimizer step.
///
/// Data-parallel, every rank reads and masks the same whole micro-batches (the masks of a batch are drawn
/// row after row from one generator, so only the whole batch gives the one-process masks) and trains on
/// its contiguous share of the rows: `--batch-size` stays the global batch, and the data order, the masks
/// and the dropout do not depend on the number of ranks.
final class AdaptationData {
    let settings: AdaptationSettings
    let stream: CorpusStreamer
    let masking: any MaskingStrategy
    let group: ProcessGroup
    /// Reused every step: each holds its token and mask buffers.
    private var microBatches: [MicroBatch]
    /// This rank's rows of each micro-batch (empty in one process).
    private var shares: [MicroBatch]

    /// The rows of a `batchSize`-row micro-batch that rank `rank` of `size` trains on.
    static func shareRows(batchSize: Int, rank: Int, size: Int) -> Range<Int> {
        let rows = batchSize / size
        return rank * rows..<(rank + 1) * rows
    }

    init(settings: AdaptationSettings, tokenizer: WordPieceTokenizer, vocabulary: Vocabulary,
         resumeFrom cursor: CorpusCursor?, group: ProcessGroup = .single) throws {
        self.settings = settings
        self.group = group
        stream = try CorpusStreamer(options: settings.trainCorpusOptions(), tokenizer: tokenizer, resumeFrom: cursor)
        masking = try makeMaskingStrategy(settings.maskingOptions, vocabulary: try MaskingVocabulary(vocabulary))
        let padId = vocabulary.padId
        microBatches = (0..<settings.gradAccum).map { _ in
            MicroBatch(
                tokens: TokenBatch(batchSize: settings.batchSize, seqLength: settings.maxSeqLength, padId: padId),
                masked: MaskedBatch(batchSize: settings.batchSize, seqLength: settings.maxSeqLength))
        }
        let shareSize = settings.batchSize / group.size
        shares = group.isDistributed ? (0..<settings.gradAccum).map { _ in
            MicroBatch(
                tokens: TokenBatch(batchSize: shareSize, seqLength: settings.maxSeqLength, padId: padId),
                masked: MaskedBatch(batchSize: shareSize, seqLength: settings.maxSeqLength))
        } : []
    }

    var cursor: CorpusCursor { stream.cursor }

    /// Reads and masks the next step's (up to `gradAccum`) micro-batches: this rank's share of each, and
    /// where that share lies. A step never spans two epochs: at the end of one it takes what is left (as
    /// HF `Trainer` does), and the next step starts the next epoch. A short last batch is used as it is
    /// (a rank whose rows it lacks trains on none).
    func nextStep(state: inout TrainerState) throws -> (batches: [MicroBatch], share: BatchShare) {
        let whole = try nextWholeStep(state: &state)
        guard group.isDistributed else { return (whole, .whole) }
        let rows = Self.shareRows(batchSize: settings.batchSize, rank: group.rank, size: group.size)
        var masked = 0
        for (index, batch) in whole.enumerated() {
            shares[index].copyRows(rows.clamped(to: rows.lowerBound..<max(rows.lowerBound, batch.tokens.rowCount)), of: batch)
            masked += batch.masked.maskedPositions.count
        }
        return (whole.count == shares.count ? shares : Array(shares[0..<whole.count]), BatchShare(firstRow: rows.lowerBound, maskedTokens: masked))
    }

    private func nextWholeStep(state: inout TrainerState) throws -> [MicroBatch] {
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
        return filled == microBatches.count ? microBatches : Array(microBatches[0..<filled])
    }
}

extension AdaptationSettings {
    /// The training documents: the corpus without its held-out split (all of it with a validation corpus).
    public func trainCorpusOptions() -> CorpusOptions {
        CorpusOptions(
            sources: corpus, maxSeqLength: maxSeqLength, seed: seed,
            validationFraction: validationCorpus.isEmpty ? validationSplit : 0, split: .train, textColumn: textColumn)
    }

    /// The fixed held-out batches every evaluation of the run scores.
    func heldOutEvaluation(tokenizer: WordPieceTokenizer, vocabulary: Vocabulary) throws -> HeldOutEvaluation {
        try HeldOutEvaluation(
            tokenBatches: try heldOutBatches(tokenizer: tokenizer, padId: vocabulary.padId),
            vocabulary: try MaskingVocabulary(vocabulary))
    }

    /// `--max-steps`, or `--epochs` worth of steps (which costs one pass to count the rows).
    func plannedSteps(tokenizer: WordPieceTokenizer, padId: Int32, log: (String) -> Void) throws -> Int {
        if let maxSteps { return maxSteps }
        log("counting training sequences for --epochs…")
        var options = trainCorpusOptions()
        options.shuffleBufferSize = 0
        let stream = try CorpusStreamer(options: options, tokenizer: tokenizer)
        var batch = TokenBatch(batchSize: batchSize, seqLength: maxSeqLength, padId: padId)
        var batches = 0
        while try stream.nextBatch(into: &batch) { batches += 1 }
        guard batches > 0 else { throw TrainingError.data("the training corpus yields no sequences") }
        let stepsPerEpoch = (batches + gradAccum - 1) / gradAccum
        return max(1, Int((Double(stepsPerEpoch) * (epochs ?? 1)).rounded(.up)))
    }
}
