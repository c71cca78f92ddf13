import Corpus
import DataParallel
import Dispatch
import Masking
import Model
import Optimization
import SeededRandom
import TensorKernels

/// One micro-batch: the packed rows and their masked version.
public struct MicroBatch {
    public var tokens: TokenBatch
    public var masked: MaskedBatch

    public init(tokens: TokenBatch, masked: MaskedBatch) {
        self.tokens = tokens
        self.masked = masked
    }

    /// This batch as rows `rows` of `whole` (a data-parallel rank's share; see `MaskedBatch.copyRows`).
    public mutating func copyRows(_ rows: Range<Int>, of whole: MicroBatch) {
        let s = tokens.seqLength, first = rows.lowerBound * s, count = rows.count * s
        func copy<T>(_ target: inout [T], _ source: [T]) {
            target.withUnsafeMutableBufferPointer { out in
                source.withUnsafeBufferPointer { out.baseAddress!.update(from: $0.baseAddress! + first, count: count) }
            }
        }
        copy(&tokens.inputIds, whole.tokens.inputIds)
        copy(&tokens.tokenTypeIds, whole.tokens.tokenTypeIds)
        copy(&tokens.attentionMask, whole.tokens.attentionMask)
        copy(&tokens.specialTokensMask, whole.tokens.specialTokensMask)
        copy(&tokens.wordIds, whole.tokens.wordIds)
        tokens.rowCount = rows.count
        masked.copyRows(rows, of: whole.masked)
    }

    /// Real (non-padding) tokens in the filled rows.
    public var realTokenCount: Int {
        let end = tokens.rowCount * tokens.seqLength
        var n = 0
        for i in 0..<end where tokens.attentionMask[i] != 0 { n += 1 }
        return n
    }
}

/// What one optimizer step did.
public struct StepResult: Equatable, Sendable {
    /// Mean MLM loss over all masked tokens of the step's micro-batches.
    public var loss: Double
    public var correct: Int
    public var maskedTokens: Int
    /// Non-padding tokens processed.
    public var tokens: Int
    /// Global gradient norm before clipping.
    public var gradNorm: Double
    /// Learning rate the update used.
    public var learningRate: Double
    /// The loss or the gradient norm was not finite, so no update was applied.
    public var skipped = false
    /// Seconds spent summing the ranks' gradients and counts (0 in one process).
    public var allreduceSeconds = 0.0
}

/// Which part of each micro-batch of a step this process trains on: all of it, or a data-parallel
/// rank's contiguous share of the rows.
public struct BatchShare: Sendable, Equatable {
    /// The rows given are those of the whole micro-batches from this one on (dropout follows it).
    public var firstRow: Int
    /// Masked tokens of the whole step, every rank's rows (nil: those of the rows given).
    public var maskedTokens: Int?

    public init(firstRow: Int = 0, maskedTokens: Int? = nil) {
        self.firstRow = firstRow
        self.maskedTokens = maskedTokens
    }

    public static let whole = BatchShare()
}

/// Forward, backward and AdamW update for the masked-LM objective, with gradient accumulation
/// and clipping. Micro-batch gradients are weighted by their masked-token counts, so
/// accumulating k micro-batches equals one batch of all their rows (loss = mean over every
/// masked token of the step; with equal counts this is the plain 1/k mean). Data-parallel: each rank
/// scales its rows' gradient by the step's global masked-token count, so the sum over the ranks is the
/// one-process gradient; the ranks share the sum and the update (`OptimizerShards`: reduce-scatter, clip
/// and AdamW on each rank's block, all-gather of the weights), so every rank ends the step with the same weights.
public final class MaskedLMOptimizer {
    public let model: BertModel
    public let optimizer: AdamW
    public let schedule: LearningRateSchedule
    /// nil disables clipping.
    public let maxGradNorm: Double?
    public var threads: Int {
        didSet { optimizer.threads = threads }
    }
    public private(set) var workspace: BertWorkspace
    public let group: ProcessGroup
    /// Data-parallel: this rank's part of the optimizer, a receive buffer for its block of the summed
    /// gradients, and the chunks' squared norms followed by the loss sum, correct predictions and tokens
    /// (summed over the ranks in one call).
    let shards: OptimizerShards?
    private let gradientBlock: UnsafeMutableBufferPointer<Float>
    private var partialSums: [Double]

    public var completedSteps: Int { optimizer.stepCount }

    public init(model: BertModel, spans: TrainableSpans, settings: AdamWSettings, schedule: LearningRateSchedule,
                maxGradNorm: Double?, batchSize: Int, seqLength: Int, maxMaskedTokens: Int, threads: Int,
                group: ProcessGroup = .single) throws {
        // The workspace first: it checks that the batch shape fits in memory before anything else is allocated.
        workspace = try BertWorkspace(layout: model.layout, batchSize: batchSize, seqLength: seqLength,
                                      maxMaskedTokens: maxMaskedTokens)
        self.model = model
        self.group = group
        let lower = spans.tensors.map(\.offset).min() ?? 0
        let trainable = lower..<max(lower, spans.tensors.map { $0.offset + $0.count }.max() ?? 0)
        shards = group.isDistributed ? OptimizerShards(spans: spans, arena: trainable, rank: group.rank, ranks: group.size) : nil
        gradientBlock = .allocate(capacity: max(1, shards.map { Int($0.counts.max() ?? 0) } ?? 0))
        partialSums = [Double](repeating: 0, count: group.isDistributed ? spans.chunkCount + 3 : 0)
        self.optimizer = try AdamW(spans: spans, settings: settings, threads: threads)
        self.schedule = schedule
        self.maxGradNorm = maxGradNorm
        self.threads = threads
    }

    deinit {
        gradientBlock.deallocate()
    }

    /// Grows the workspace when a batch masks more tokens than it holds (rare: it is sized
    /// for the expected budget, not the worst case).
    func ensureCapacity(for batch: MicroBatch) throws {
        let needed = batch.masked.maskedPositions.count
        let shape = (batch.tokens.batchSize, batch.tokens.seqLength)
        if needed > workspace.maxMaskedTokens || shape.0 > workspace.batchSize || shape.1 > workspace.seqLength {
            workspace = try BertWorkspace(
                layout: model.layout, batchSize: max(shape.0, workspace.batchSize),
                seqLength: max(shape.1, workspace.seqLength),
                maxMaskedTokens: max(workspace.maxMaskedTokens, needed + needed / 4))
        }
    }

    /// Runs the forward pass of one micro-batch (only its filled rows).
    func forward(_ batch: MicroBatch, training: Bool, dropoutSeed: UInt64, dropoutFirstRow: Int = 0) throws
        -> MaskedLMResult
    {
        try ensureCapacity(for: batch)
        let rows = batch.tokens.rowCount
        let n = rows * batch.tokens.seqLength
        return try batch.masked.inputIds.withUnsafeBufferPointer { ids in
            try batch.tokens.tokenTypeIds.withUnsafeBufferPointer { types in
                try batch.tokens.attentionMask.withUnsafeBufferPointer { attention in
                    try batch.masked.maskedPositions.withUnsafeBufferPointer { positions in
                        try batch.masked.maskedLabels.withUnsafeBufferPointer { labels in
                            let inputs = EncoderInputs(
                                batchSize: rows, seqLength: batch.tokens.seqLength,
                                inputIds: UnsafeBufferPointer(rebasing: ids[0..<n]),
                                tokenTypeIds: UnsafeBufferPointer(rebasing: types[0..<n]),
                                attentionMask: UnsafeBufferPointer(rebasing: attention[0..<n]))
                            return try model.maskedLMForward(
                                inputs, maskedPositions: positions, labels: labels, workspace: workspace,
                                training: training, dropoutSeed: dropoutSeed, dropoutFirstRow: dropoutFirstRow)
                        }
                    }
                }
            }
        }
    }

    /// One optimizer step over `microBatches` (this rank's `share` of each). `dropoutSeed(i)` seeds
    /// micro-batch i's dropout.
    public func step(_ microBatches: [MicroBatch], share: BatchShare = .whole, dropoutSeed: (Int) -> UInt64) throws
        -> StepResult
    {
        let spans = optimizer.spans
        let gradients = model.gradients
        let total = share.maskedTokens ?? microBatches.reduce(0) { $0 + $1.masked.maskedPositions.count }
        model.zeroGradients()
        var lossSum = 0.0, correct = 0, tokens = 0
        // Invariant after micro-batch i: gradients = Σ_{j≤i} (c_j / c_i) g_j, where g_j is the
        // gradient of micro-batch j's mean loss. The last rescale makes it Σ (c_j / C) g_j. A data-parallel
        // rank divides every token's loss by the step's global C in the backward pass instead, so its rows'
        // gradient needs no rescaling before the ranks sum it.
        let lossDivisor = shards != nil && total > 0 ? total : nil
        var previousCount = 0
        for (index, batch) in microBatches.enumerated() {
            tokens += batch.realTokenCount
            let count = batch.masked.maskedPositions.count
            guard count > 0, batch.tokens.rowCount > 0 else { continue }
            if lossDivisor == nil && previousCount > 0 && previousCount != count {
                GradientClipping.scale(gradients, by: Float(Double(previousCount) / Double(count)),
                                       spans: spans, threads: threads)
            }
            let result = try forward(batch, training: true, dropoutSeed: dropoutSeed(index),
                                     dropoutFirstRow: share.firstRow)
            try model.maskedLMBackward(workspace: workspace, lossDivisor: lossDivisor)
            lossSum += Double(result.loss) * Double(result.count)
            correct += result.correct
            previousCount = count
        }
        if lossDivisor == nil && total > 0 && previousCount > 0 && previousCount != total {
            GradientClipping.scale(gradients, by: Float(Double(previousCount) / Double(total)),
                                   spans: spans, threads: threads)
        }
        guard let shards else {
            let clipping = GradientClipping.factor(
                of: UnsafeBufferPointer(gradients), spans: spans, maxNorm: maxGradNorm, threads: threads)
            return finish(loss: lossSum, correct: correct, total: total, tokens: tokens, norm: clipping.norm,
                          gradientScale: clipping.factor, chunks: nil, allreduceSeconds: 0)
        }
        // The ranks' sums: this rank's block of the gradients, then every chunk's squared norm and the counts.
        let started = DispatchTime.now()
        let block = shards.ownBlock
        try group.reduceScatterSum(
            UnsafeBufferPointer(rebasing: gradients[shards.coveredArena]), into: gradientBlock, counts: shards.counts,
            "MPI_Reduce_scatter of the gradients")
        if let target = gradients.baseAddress, let source = gradientBlock.baseAddress {
            (target + block.lowerBound).update(from: source, count: block.count)
        }
        let chunkCount = spans.chunkCount
        for i in partialSums.indices { partialSums[i] = 0 }
        try partialSums.withUnsafeMutableBufferPointer { sums in
            GradientClipping.squaredNorms(
                of: UnsafeBufferPointer(gradients), spans: spans, chunks: shards.chunks, threads: threads,
                into: UnsafeMutableBufferPointer(rebasing: sums[0..<chunkCount]))
            sums[chunkCount] = lossSum
            sums[chunkCount + 1] = Double(correct)
            sums[chunkCount + 2] = Double(tokens)
            try group.allreduceSum(sums, "MPI_Allreduce of the gradient norms and the step's counts")
        }
        var communication = seconds(since: started)
        let norm = partialSums.withUnsafeBufferPointer {
            GradientClipping.norm(ofSquaredNorms: UnsafeBufferPointer(rebasing: $0[0..<chunkCount]))
        }
        var result = finish(
            loss: partialSums[chunkCount], correct: Int(partialSums[chunkCount + 1]), total: total,
            tokens: Int(partialSums[chunkCount + 2]), norm: norm,
            gradientScale: Float(GradientClipping.coefficient(norm: norm, maxNorm: maxGradNorm)), chunks: shards.chunks,
            allreduceSeconds: 0)
        if !result.skipped {
            let gathering = DispatchTime.now()
            try group.allgather(
                UnsafeMutableBufferPointer(rebasing: model.parameters[shards.coveredArena]), counts: shards.counts,
                offsets: shards.offsets, "MPI_Allgatherv of the updated weights")
            communication += seconds(since: gathering)
        }
        result.allreduceSeconds = communication
        return result
    }

    /// The update (of `chunks`, default all) on the gradients times clipping's `gradientScale`, unless the loss
    /// or the norm is not finite, and the step's figures.
    private func finish(loss lossSum: Double, correct: Int, total: Int, tokens: Int, norm: Double, gradientScale: Float,
                        chunks: Range<Int>?, allreduceSeconds: Double) -> StepResult {
        let rate = schedule.rate(atStep: optimizer.stepCount)
        let loss = total > 0 ? lossSum / Double(total) : .nan
        // One NaN or Inf would spread into every weight through AdamW's moments: such a step is skipped.
        if (total > 0 && !loss.isFinite) || !norm.isFinite {
            optimizer.skipUpdate()
            return StepResult(loss: loss, correct: correct, maskedTokens: total, tokens: tokens, gradNorm: norm,
                              learningRate: rate, skipped: true, allreduceSeconds: allreduceSeconds)
        }
        // A step without masked tokens (all gradients zero) still updates, as torch would.
        optimizer.update(parameters: model.parameters, gradients: UnsafeBufferPointer(model.gradients),
                         gradientScale: gradientScale, learningRate: rate, chunks: chunks)
        model.parametersDidChange()
        return StepResult(
            loss: loss, correct: correct, maskedTokens: total, tokens: tokens, gradNorm: norm, learningRate: rate,
            allreduceSeconds: allreduceSeconds)
    }

    /// Data-parallel: completes every rank's moment buffers from their owners (before a checkpoint).
    func gatherMoments() throws {
        guard let shards else { return }
        for moments in [optimizer.firstMoments, optimizer.secondMoments] {
            try group.allgather(moments, counts: shards.stateCounts, offsets: shards.stateOffsets,
                                "MPI_Allgatherv of the optimizer moments")
        }
    }
}

/// The dropout seed of micro-batch `micro` of optimizer step `step` (0-based).
public func dropoutSeed(runSeed: UInt64, step: Int, micro: Int) -> UInt64 {
    mix64(mix64(runSeed ^ 0xD80F_0D80_F0D8_0F0D) &+ UInt64(truncatingIfNeeded: step) &* 1024
        &+ UInt64(truncatingIfNeeded: micro))
}
