import TensorKernels

/// Dropout sites, so each gets its own random stream within a step.
enum DropoutSite {
    static func embeddings() -> UInt64 { 0 }
    static func attentionProbabilities(layer: Int) -> UInt64 { UInt64(layer) * 4 + 1 }
    static func attentionOutput(layer: Int) -> UInt64 { UInt64(layer) * 4 + 2 }
    static func feedForwardOutput(layer: Int) -> UInt64 { UInt64(layer) * 4 + 3 }
}

extension BertModel {
    // Element indices count from the batch's first row, `workspace.dropoutFirstRow`.
    func hiddenDropout(_ workspace: BertWorkspace, site: UInt64) -> DropoutMask {
        DropoutMask(
            probability: workspace.training ? config.hiddenDropoutProb : 0, seed: workspace.dropoutSeed, stream: site,
            firstIndex: workspace.dropoutFirstRow * workspace.currentSeq * config.hiddenSize)
    }

    func attentionDropout(_ workspace: BertWorkspace, layer: Int) -> DropoutMask {
        let s = workspace.currentSeq
        return DropoutMask(
            probability: workspace.training ? config.attentionProbsDropoutProb : 0, seed: workspace.dropoutSeed,
            stream: DropoutSite.attentionProbabilities(layer: layer),
            firstIndex: workspace.dropoutFirstRow * config.numAttentionHeads * s * s)
    }

    /// Runs the encoder and returns the last hidden state `[B, S, H]` (valid until the next forward pass).
    /// Throws when the shapes exceed the workspace or an id is out of range. `dropoutFirstRow`: the rows are
    /// those of a larger batch from this row on, and drop what that batch's run would drop.
    @discardableResult
    public func encoderForward(
        _ inputs: EncoderInputs, workspace: BertWorkspace, training: Bool, dropoutSeed: UInt64, dropoutFirstRow: Int = 0
    ) throws -> UnsafeBufferPointer<Float> {
        try loadInputs(inputs, into: workspace)
        refreshLowPrecisionWeights()
        workspace.training = training
        workspace.dropoutSeed = dropoutSeed
        workspace.dropoutFirstRow = dropoutFirstRow
        workspace.currentMasked = 0
        embeddingsForward(workspace)
        var input = UnsafePointer(workspace.embeddingOutput)
        for l in 0..<config.numHiddenLayers {
            layerForward(l, input: input, workspace: workspace)
            input = UnsafePointer(workspace.layers[l].output)
        }
        return workspace.lastHiddenState
    }

    /// Encoder plus MLM head at `maskedPositions` (flat `row * seqLength + column`), with one label per
    /// position (labels < 0 are ignored). The logits are left in `workspace.logits`.
    public func maskedLMForward(
        _ inputs: EncoderInputs, maskedPositions: UnsafeBufferPointer<Int32>, labels: UnsafeBufferPointer<Int32>,
        workspace: BertWorkspace, training: Bool, dropoutSeed: UInt64, dropoutFirstRow: Int = 0
    ) throws -> MaskedLMResult {
        guard let transformWeight = offsets.transformWeight, let transformBias = offsets.transformBias,
            let normWeight = offsets.transformNormWeight, let normBias = offsets.transformNormBias,
            let decoderBias = offsets.decoderBias
        else { throw ModelError.invalidInput("the parameter layout has no masked-LM head (cls.predictions.*)") }
        let m = maskedPositions.count
        guard labels.count == m else {
            throw ModelError.invalidInput("\(labels.count) labels for \(m) masked positions")
        }
        guard m <= workspace.maxMaskedTokens else {
            throw ModelError.invalidInput("\(m) masked positions exceed the workspace's \(workspace.maxMaskedTokens)")
        }
        let tokens = inputs.batchSize * inputs.seqLength, vocab = config.vocabSize
        for j in 0..<m {
            let position = Int(maskedPositions[j]), label = Int(labels[j])
            guard position >= 0, position < tokens else {
                throw ModelError.invalidInput("masked position \(position) outside the \(tokens)-token batch")
            }
            guard label < vocab else { throw ModelError.invalidInput("label \(label) outside the vocabulary of \(vocab)") }
            workspace.maskedPositions[j] = Int32(position)
            workspace.maskedLabels[j] = Int32(label)
        }
        try encoderForward(
            inputs, workspace: workspace, training: training, dropoutSeed: dropoutSeed, dropoutFirstRow: dropoutFirstRow)
        workspace.currentMasked = m
        let h = config.hiddenSize
        let hidden = UnsafePointer(workspace.layers.last?.output ?? workspace.embeddingOutput)
        Embedding.gather(
            table: hidden, indices: workspace.maskedPositions, count: m, columns: h, output: workspace.maskedHidden,
            accumulate: false)
        linearForward(
            workspace, input: workspace.maskedHidden, weight: transformWeight, bias: nil,
            output: workspace.transformPre, rows: m, inFeatures: h, outFeatures: h)
        GELU.forwardAddingBias(
            parameter(transformBias), to: workspace.transformPre, into: workspace.transformActivated, rows: m, columns: h)
        LayerNorm.forward(
            input: workspace.transformActivated, gamma: parameter(normWeight), beta: parameter(normBias),
            output: workspace.transformOutput, mean: workspace.transformMean, rstd: workspace.transformRstd,
            rows: m, columns: h, eps: config.layerNormEps)
        // The decoder is tied to the word embeddings: logits = t · Eᵀ + b.
        linearForward(
            workspace, input: workspace.transformOutput, weight: offsets.wordEmbeddings, bias: decoderBias,
            output: workspace.logitsStorage, rows: m, inFeatures: h, outFeatures: vocab)
        guard m > 0 else { return MaskedLMResult(loss: 0, correct: 0, count: 0) }
        let (lossSum, correct, counted) = CrossEntropy.forward(
            logits: workspace.logitsStorage, labels: workspace.maskedLabels, rows: m, classes: vocab,
            logSumExp: workspace.logSumExp, rowLoss: workspace.rowLoss, rowCorrect: workspace.rowCorrect)
        workspace.maskedCount = counted
        return MaskedLMResult(
            loss: counted > 0 ? Float(lossSum / Double(counted)) : 0, correct: correct, count: counted)
    }

    /// Pooler (dense + tanh) on each row's first (`[CLS]`) hidden state of the last forward pass: `[B, H]`.
    public func poolerForward(workspace: BertWorkspace) throws -> UnsafeBufferPointer<Float> {
        guard let weight = offsets.poolerWeight, let bias = offsets.poolerBias else {
            throw ModelError.invalidInput("the parameter layout has no pooler (bert.pooler.dense.*)")
        }
        let b = workspace.currentBatch, s = workspace.currentSeq, h = config.hiddenSize
        let hidden = workspace.lastHiddenState.baseAddress!
        for row in 0..<b {
            (workspace.poolerInput + row * h).update(from: hidden + row * s * h, count: h)
        }
        linearForward(
            workspace, input: workspace.poolerInput, weight: weight, bias: bias,
            output: workspace.gradientPooled, rows: b, inFeatures: h, outFeatures: h)
        Tanh.forward(workspace.gradientPooled, into: workspace.pooled, count: b * h)
        return workspace.pooledOutput
    }

    private func loadInputs(_ inputs: EncoderInputs, into workspace: BertWorkspace) throws {
        let b = inputs.batchSize, s = inputs.seqLength, t = b * s
        guard b > 0, s > 0 else { throw ModelError.invalidInput("empty batch (\(b) × \(s))") }
        guard b <= workspace.batchSize, s <= workspace.seqLength else {
            throw ModelError.invalidInput(
                "batch \(b) × \(s) exceeds the workspace's \(workspace.batchSize) × \(workspace.seqLength)")
        }
        guard s <= config.maxPositionEmbeddings else {
            throw ModelError.invalidInput("sequence length \(s) exceeds max_position_embeddings \(config.maxPositionEmbeddings)")
        }
        guard inputs.inputIds.count >= t, inputs.tokenTypeIds.count >= t, inputs.attentionMask.count >= t else {
            throw ModelError.invalidInput("inputs hold fewer than \(b) × \(s) tokens")
        }
        let vocab = Int32(config.vocabSize), types = Int32(config.typeVocabSize)
        for i in 0..<t {
            let id = inputs.inputIds[i], type = inputs.tokenTypeIds[i]
            guard id >= 0, id < vocab else {
                throw ModelError.invalidInput("token id \(id) at row \(i / s), column \(i % s) outside the vocabulary of \(vocab)")
            }
            guard type >= 0, type < types else {
                throw ModelError.invalidInput("token type id \(type) at row \(i / s), column \(i % s) outside 0..<\(types)")
            }
            workspace.inputIds[i] = id
            workspace.tokenTypeIds[i] = type
            workspace.positionIds[i] = Int32(i % s)
            workspace.attentionMask[i] = inputs.attentionMask[i] != 0 ? 1 : 0
        }
        workspace.currentBatch = b
        workspace.currentSeq = s
    }

    private func embeddingsForward(_ workspace: BertWorkspace) {
        let t = workspace.currentBatch * workspace.currentSeq, h = config.hiddenSize
        let sum = workspace.embeddingSum
        Embedding.gather(
            table: parameter(offsets.wordEmbeddings), indices: workspace.inputIds, count: t, columns: h, output: sum,
            accumulate: false)
        Embedding.gather(
            table: parameter(offsets.tokenTypeEmbeddings), indices: workspace.tokenTypeIds, count: t, columns: h,
            output: sum, accumulate: true)
        Embedding.gather(
            table: parameter(offsets.positionEmbeddings), indices: workspace.positionIds, count: t, columns: h,
            output: sum, accumulate: true)
        LayerNorm.forward(
            input: sum, gamma: parameter(offsets.embeddingNormWeight), beta: parameter(offsets.embeddingNormBias),
            output: workspace.embeddingOutput, mean: workspace.embeddingMean, rstd: workspace.embeddingRstd,
            rows: t, columns: h, eps: config.layerNormEps)
        hiddenDropout(workspace, site: DropoutSite.embeddings()).apply(workspace.embeddingOutput, count: t * h)
    }

    private func layerForward(_ l: Int, input: UnsafePointer<Float>, workspace: BertWorkspace) {
        let p = offsets.layers[l], a = workspace.layers[l]
        let b = workspace.currentBatch, s = workspace.currentSeq, t = b * s
        let h = config.hiddenSize, inter = config.intermediateSize
        // One GEMM for the query, key and value projections: their weights form one [3H, H] matrix.
        linearForward(
            workspace, input: input, weight: p.qkv, bias: p.qkvBias, output: a.qkv, rows: t,
            inFeatures: h, outFeatures: 3 * h)
        attentionForward(l, workspace: workspace)
        // Dense biases are added inside the next elementwise pass (LayerNorm, GELU), not in a pass of their own.
        linearForward(
            workspace, input: a.context, weight: p.attentionDense, bias: nil, output: workspace.dense, rows: t,
            inFeatures: h, outFeatures: h)
        LayerNorm.forward(
            input: workspace.dense, inputBias: parameter(p.attentionDenseBias), residual: input,
            dropout: hiddenDropout(workspace, site: DropoutSite.attentionOutput(layer: l)),
            sum: a.attentionSum, gamma: parameter(p.attentionNormWeight), beta: parameter(p.attentionNormBias),
            output: a.attentionOutput, mean: a.attentionMean, rstd: a.attentionRstd, rows: t, columns: h,
            eps: config.layerNormEps)
        linearForward(
            workspace, input: a.attentionOutput, weight: p.intermediate, bias: nil, output: a.intermediate, rows: t,
            inFeatures: h, outFeatures: inter)
        linearForward(
            workspace, input: intermediateActivation(a, bias: p.intermediateBias, rows: t), weight: p.output, bias: nil,
            output: workspace.dense, rows: t, inFeatures: inter, outFeatures: h)
        LayerNorm.forward(
            input: workspace.dense, inputBias: parameter(p.outputBias), residual: a.attentionOutput,
            dropout: hiddenDropout(workspace, site: DropoutSite.feedForwardOutput(layer: l)),
            sum: a.outputSum, gamma: parameter(p.outputNormWeight), beta: parameter(p.outputNormBias),
            output: a.output, mean: a.outputMean, rstd: a.outputRstd, rows: t, columns: h, eps: config.layerNormEps)
    }

    /// Bias + GELU of the intermediate projection: in float, or in mixed precision straight to bf16 (in the
    /// same buffer), the only form the output projection and its backward pass read.
    private func intermediateActivation(_ a: LayerActivations, bias: Int, rows: Int) -> MixedOperand {
        let bias = parameter(bias), columns = config.intermediateSize
        if mixedPrecision != nil {
            GELU.forwardAddingBias(bias, to: a.intermediate, intoBFloat16: a.activatedBFloat16, rows: rows, columns: columns)
        } else {
            GELU.forwardAddingBias(bias, to: a.intermediate, into: a.activated, rows: rows, columns: columns)
        }
        return savedIntermediateActivation(a)
    }

    /// The GELU output where `intermediateActivation` left it.
    func savedIntermediateActivation(_ a: LayerActivations) -> MixedOperand {
        mixedPrecision != nil ? .bfloat16(a.activatedBFloat16) : .float(a.activated)
    }

    func attentionShape(_ workspace: BertWorkspace) -> Attention.Shape {
        Attention.Shape(
            batch: workspace.currentBatch, heads: config.numAttentionHeads, seq: workspace.currentSeq,
            headSize: config.hiddenSize / config.numAttentionHeads, qkvStride: 3 * config.hiddenSize)
    }

    private func attentionForward(_ l: Int, workspace: BertWorkspace) {
        let a = workspace.layers[l]
        if let gemm = mixedPrecision?.gemm {
            MixedAttention.forward(
                qkv: a.qkv, keyMask: workspace.attentionMask, shape: attentionShape(workspace),
                dropout: attentionDropout(workspace, layer: l), probabilities: a.probabilities, context: a.context,
                scratch: workspace.bf16Scratch(), gemm: gemm)
            return
        }
        Attention.forward(
            query: a.query, key: a.key, value: a.value, keyMask: workspace.attentionMask,
            shape: attentionShape(workspace), dropout: attentionDropout(workspace, layer: l),
            probabilities: a.probabilities, dropped: workspace.droppedProbabilities, context: a.context)
    }
}
