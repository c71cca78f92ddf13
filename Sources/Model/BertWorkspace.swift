import TensorKernels

/// Hands out 64-byte-aligned slices of one allocation, sized in a first pass. Sizes come from options
/// (batch, sequence length), so the arithmetic is checked: `count` is nil once anything overflowed.
struct ArenaPlan {
    private(set) var count: Int? = 0
    mutating func reserve(_ factors: Int...) -> Int {
        let offset = count ?? 0
        count = MemoryBudget.sum([count, MemoryBudget.product(factors).flatMap { MemoryBudget.sum([$0, 15]) }.map { $0 / 16 * 16 }])
        return offset
    }
}

/// Saved activations of one encoder layer.
struct LayerActivations {
    /// `[T, 3H]`: each row holds the token's query, key and value side by side (one fused projection).
    let qkv: UnsafeMutablePointer<Float>
    let probabilities: UnsafeMutablePointer<Float>  // [B, heads, S, S], before dropout
    let context: UnsafeMutablePointer<Float>  // [T, H]
    let attentionSum: UnsafeMutablePointer<Float>  // [T, H] residual + dropout(dense), the LayerNorm input
    let attentionMean, attentionRstd: UnsafeMutablePointer<Float>  // [T]
    let attentionOutput: UnsafeMutablePointer<Float>  // [T, H]
    let intermediate: UnsafeMutablePointer<Float>  // [T, I] before GELU
    let activated: UnsafeMutablePointer<Float>  // [T, I] after GELU (fp32 runs)
    let outputSum: UnsafeMutablePointer<Float>  // [T, H]
    let outputMean, outputRstd: UnsafeMutablePointer<Float>  // [T]
    let output: UnsafeMutablePointer<Float>  // [T, H], the layer output
    let hiddenSize: Int

    /// In mixed precision the GELU output is kept only in bf16, in the first half of `activated`'s bytes
    /// (written by a C kernel, read by oneDNN: never through a Swift `Float` view at the same time).
    var activatedBFloat16: UnsafeMutablePointer<UInt16> {
        UnsafeMutableRawPointer(activated).assumingMemoryBound(to: UInt16.self)
    }

    var query: UnsafeMutablePointer<Float> { qkv }
    var key: UnsafeMutablePointer<Float> { qkv + hiddenSize }
    var value: UnsafeMutablePointer<Float> { qkv + 2 * hiddenSize }
}

/// Every activation and scratch buffer for batches up to `batchSize × seqLength` tokens with up to
/// `maxMaskedTokens` masked positions, allocated once so that a training step allocates nothing.
public final class BertWorkspace {
    public let batchSize: Int
    public let seqLength: Int
    public let maxMaskedTokens: Int
    let config: BertConfig

    private let floats: UnsafeMutableBufferPointer<Float>
    private let integers: UnsafeMutableBufferPointer<Int32>
    private let bytes: UnsafeMutableBufferPointer<UInt8>

    // Shape and settings of the last forward pass (the backward pass reuses them).
    var currentBatch = 0, currentSeq = 0, currentMasked = 0
    var training = false
    var dropoutSeed: UInt64 = 0
    /// Row 0 here is this row of the whole batch, for the dropout decisions (a data-parallel rank's share).
    var dropoutFirstRow = 0
    var maskedCount = 0

    // Inputs, copied so the backward pass does not depend on the caller's buffers.
    let inputIds, tokenTypeIds, positionIds: UnsafeMutablePointer<Int32>  // [T]
    let attentionMask: UnsafeMutablePointer<UInt8>  // [T]

    // Embeddings.
    let embeddingSum: UnsafeMutablePointer<Float>  // [T, H] word + position + type
    let embeddingMean, embeddingRstd: UnsafeMutablePointer<Float>
    let embeddingOutput: UnsafeMutablePointer<Float>  // [T, H] after LayerNorm and dropout
    let layers: [LayerActivations]

    // Scratch shared by all layers.
    let dense: UnsafeMutablePointer<Float>  // [T, H] projection output before dropout and residual
    let droppedProbabilities: UnsafeMutablePointer<Float>  // [B, heads, S, S]
    let gradientSum, gradientBranch, gradientContext: UnsafeMutablePointer<Float>  // [T, H]
    let gradientQKV: UnsafeMutablePointer<Float>  // [T, 3H], laid out as `LayerActivations.qkv`
    let gradientIntermediate: UnsafeMutablePointer<Float>  // [T, I]
    let gradientProbabilities: UnsafeMutablePointer<Float>  // [B, heads, S, S]

    /// Gradient of the loss with respect to the last hidden state `[B, S, H]`. The MLM head and the
    /// pooler write it; classification heads may fill it directly and pass it to `encoderBackward`.
    public let hiddenGradient: UnsafeMutableBufferPointer<Float>

    // Masked-LM head, at the masked positions only.
    let maskedPositions, maskedLabels: UnsafeMutablePointer<Int32>  // [M]
    let maskedHidden, transformPre, transformActivated, transformOutput: UnsafeMutablePointer<Float>  // [M, H]
    let transformMean, transformRstd, logSumExp, rowLoss: UnsafeMutablePointer<Float>  // [M]
    let rowCorrect: UnsafeMutablePointer<UInt8>  // [M]
    let logitsStorage: UnsafeMutablePointer<Float>  // [M, V]; holds the logits gradient after backward
    let gradientMasked, gradientTransform: UnsafeMutablePointer<Float>  // [M, H]

    // Pooler.
    let poolerInput, pooled, gradientPooled, gradientPoolerInput: UnsafeMutablePointer<Float>  // [B, H]

    /// bf16 copies of one GEMM's activations, made at the first bf16 forward pass (fp32 runs never need them).
    private var lowPrecisionScratch: BF16Scratch?
    /// The largest activation or output gradient a dense layer reads (`[T, max(3H, I)]`, `[M, V]`, `[B, H]`)
    /// or mixed attention's probabilities (`[B, heads, S, S]`); and mixed attention's `[T, H]`.
    private let lowPrecisionScratchCapacity: Int, lowPrecisionContextCapacity: Int

    func bf16Scratch() -> BF16Scratch {
        if let scratch = lowPrecisionScratch { return scratch }
        let scratch = BF16Scratch(capacity: lowPrecisionScratchCapacity, thirdCapacity: lowPrecisionContextCapacity)
        lowPrecisionScratch = scratch
        return scratch
    }

    /// Throws `MemoryBudgetError` when the buffers for this shape would not fit in memory.
    public init(layout: ParameterLayout, batchSize: Int, seqLength: Int, maxMaskedTokens: Int) throws {
        let config = layout.config
        self.config = config
        self.batchSize = max(1, batchSize)
        self.seqLength = max(1, seqLength)
        self.maxMaskedTokens = max(1, maxMaskedTokens)
        let b = self.batchSize, s = self.seqLength, heads = config.numAttentionHeads
        let h = config.hiddenSize, i = config.intermediateSize, m = self.maxMaskedTokens, v = config.vocabSize

        var plan = ArenaPlan()
        guard let t = MemoryBudget.product(b, s) else {
            throw MemoryBudgetError.overflow("the activations for a batch of \(b) × \(s) tokens", hint: Self.sizeHint)
        }
        struct LayerPlan {
            var qkv = 0, p = 0, c = 0, aSum = 0, aMean = 0, aRstd = 0, aOut = 0
            var inter = 0, act = 0, oSum = 0, oMean = 0, oRstd = 0, out = 0
        }
        let embSum = plan.reserve(t, h), embMean = plan.reserve(t), embRstd = plan.reserve(t)
        let embOut = plan.reserve(t, h)
        var layerPlans: [LayerPlan] = []
        for _ in 0..<config.numHiddenLayers {
            var lp = LayerPlan()
            lp.qkv = plan.reserve(t, 3, h)
            lp.p = plan.reserve(b, heads, s, s); lp.c = plan.reserve(t, h)
            lp.aSum = plan.reserve(t, h); lp.aMean = plan.reserve(t); lp.aRstd = plan.reserve(t)
            lp.aOut = plan.reserve(t, h)
            lp.inter = plan.reserve(t, i); lp.act = plan.reserve(t, i)
            lp.oSum = plan.reserve(t, h); lp.oMean = plan.reserve(t); lp.oRstd = plan.reserve(t)
            lp.out = plan.reserve(t, h)
            layerPlans.append(lp)
        }
        let denseOffset = plan.reserve(t, h), droppedOffset = plan.reserve(b, heads, s, s)
        let gSum = plan.reserve(t, h), gBranch = plan.reserve(t, h), gContext = plan.reserve(t, h)
        let gQKV = plan.reserve(t, 3, h)
        let gInter = plan.reserve(t, i), gProbs = plan.reserve(b, heads, s, s)
        let gHidden = plan.reserve(t, h)
        let mHidden = plan.reserve(m, h), tPre = plan.reserve(m, h), tAct = plan.reserve(m, h)
        let tOut = plan.reserve(m, h), tMean = plan.reserve(m), tRstd = plan.reserve(m)
        let lse = plan.reserve(m), rLoss = plan.reserve(m), logitsOffset = plan.reserve(m, v)
        let gMasked = plan.reserve(m, h), gTransform = plan.reserve(m, h)
        let pIn = plan.reserve(b, h), pOut = plan.reserve(b, h), gPooled = plan.reserve(b, h)
        let gPoolerIn = plan.reserve(b, h)

        // The bf16 scratch: two bf16 copies of the largest GEMM operand, as many bytes as that many floats,
        // and the attention context gradient's copy, half as many bytes as its floats.
        let scratchSizes = [
            MemoryBudget.product(t, max(3 * h, i)), MemoryBudget.product(m, max(v, h)), MemoryBudget.product(b, h),
            MemoryBudget.product(b, heads, s, s),
        ]
        let scratchCapacity = scratchSizes.contains(nil) ? nil : scratchSizes.compactMap { $0 }.max()
        let contextCapacity = MemoryBudget.product(t, h)
        let required = MemoryBudget.sum([
            plan.count.flatMap { MemoryBudget.product($0, MemoryLayout<Float>.stride) },
            scratchCapacity.flatMap { MemoryBudget.product($0, MemoryLayout<Float>.stride) },
            contextCapacity.flatMap { MemoryBudget.product($0, MemoryLayout<UInt16>.stride) },
            MemoryBudget.sum([MemoryBudget.product(3, t), MemoryBudget.product(2, m)]).flatMap { MemoryBudget.product($0, MemoryLayout<Int32>.stride) },
            MemoryBudget.sum([t, m]),
        ])
        try MemoryBudget.check(required, for: "the activations for a batch of \(b) × \(s) tokens", hint: Self.sizeHint)
        let count = plan.count!
        lowPrecisionScratchCapacity = scratchCapacity!
        lowPrecisionContextCapacity = contextCapacity!
        let raw = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Float>.stride, alignment: 64)
        let base = raw.bindMemory(to: Float.self, capacity: count)
        base.initialize(repeating: 0, count: count)
        floats = UnsafeMutableBufferPointer(start: base, count: count)
        integers = UnsafeMutableBufferPointer.allocate(capacity: 3 * t + 2 * m)
        integers.initialize(repeating: 0)
        bytes = UnsafeMutableBufferPointer.allocate(capacity: t + m)
        bytes.initialize(repeating: 0)

        inputIds = integers.baseAddress!
        tokenTypeIds = inputIds + t
        positionIds = inputIds + 2 * t
        maskedPositions = inputIds + 3 * t
        maskedLabels = maskedPositions + m
        attentionMask = bytes.baseAddress!
        rowCorrect = attentionMask + t

        embeddingSum = base + embSum; embeddingMean = base + embMean; embeddingRstd = base + embRstd
        embeddingOutput = base + embOut
        layers = layerPlans.map { lp in
            LayerActivations(
                qkv: base + lp.qkv, probabilities: base + lp.p,
                context: base + lp.c, attentionSum: base + lp.aSum, attentionMean: base + lp.aMean,
                attentionRstd: base + lp.aRstd, attentionOutput: base + lp.aOut, intermediate: base + lp.inter,
                activated: base + lp.act, outputSum: base + lp.oSum, outputMean: base + lp.oMean,
                outputRstd: base + lp.oRstd, output: base + lp.out, hiddenSize: h)
        }
        dense = base + denseOffset; droppedProbabilities = base + droppedOffset
        gradientSum = base + gSum; gradientBranch = base + gBranch; gradientContext = base + gContext
        gradientQKV = base + gQKV
        gradientIntermediate = base + gInter; gradientProbabilities = base + gProbs
        hiddenGradient = UnsafeMutableBufferPointer(start: base + gHidden, count: t * h)
        maskedHidden = base + mHidden; transformPre = base + tPre; transformActivated = base + tAct
        transformOutput = base + tOut; transformMean = base + tMean; transformRstd = base + tRstd
        logSumExp = base + lse; rowLoss = base + rLoss; logitsStorage = base + logitsOffset
        gradientMasked = base + gMasked; gradientTransform = base + gTransform
        poolerInput = base + pIn; pooled = base + pOut; gradientPooled = base + gPooled
        gradientPoolerInput = base + gPoolerIn
    }

    static let sizeHint = "lower --batch-size or --max-seq-length"

    deinit {
        floats.baseAddress.map { UnsafeMutableRawPointer($0).deallocate() }
        integers.deallocate()
        bytes.deallocate()
    }

    /// Bytes held by this workspace.
    public var byteCount: Int {
        floats.count * 4 + integers.count * 4 + bytes.count + (lowPrecisionScratch?.byteCount ?? 0)
    }

    /// Logits `[maskedCount, vocab]` at the masked positions from the last `maskedLMForward`
    /// (overwritten by their gradient in `maskedLMBackward`).
    public var logits: UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(start: logitsStorage, count: currentMasked * config.vocabSize)
    }

    /// The last hidden state `[B, S, H]` of the last forward pass.
    public var lastHiddenState: UnsafeBufferPointer<Float> {
        let output = layers.last?.output ?? embeddingOutput
        return UnsafeBufferPointer(start: output, count: currentBatch * currentSeq * config.hiddenSize)
    }

    /// The pooled `[CLS]` output `[B, H]` of the last `poolerForward`.
    public var pooledOutput: UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(start: pooled, count: currentBatch * config.hiddenSize)
    }
}
