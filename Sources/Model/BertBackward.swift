import TensorKernels

extension BertModel {
    /// Backward pass of the last `maskedLMForward`: accumulates every parameter's gradient of the mean
    /// loss over the counted masked tokens into `gradients` (the tied decoder adds into the word embeddings).
    /// `lossDivisor` replaces that count as the divisor of the summed token losses (a data-parallel rank
    /// divides by the masked tokens of every rank's rows).
    public func maskedLMBackward(workspace: BertWorkspace, lossDivisor: Int? = nil) throws {
        guard let transformWeight = offsets.transformWeight, let transformBias = offsets.transformBias,
            let normWeight = offsets.transformNormWeight, let normBias = offsets.transformNormBias,
            let decoderBias = offsets.decoderBias
        else { throw ModelError.invalidInput("the parameter layout has no masked-LM head (cls.predictions.*)") }
        guard workspace.currentBatch > 0 else { throw ModelError.invalidInput("maskedLMBackward before a forward pass") }
        let m = workspace.currentMasked, h = config.hiddenSize, vocab = config.vocabSize
        let t = workspace.currentBatch * workspace.currentSeq
        let hiddenGradient = workspace.hiddenGradient.baseAddress!
        hiddenGradient.update(repeating: 0, count: t * h)
        if m > 0, workspace.maskedCount > 0 {
            CrossEntropy.backward(
                logits: workspace.logitsStorage, labels: workspace.maskedLabels, logSumExp: workspace.logSumExp,
                rows: m, classes: vocab, scale: 1 / Float(lossDivisor ?? workspace.maskedCount),
                gradient: workspace.logitsStorage)
            linearBackward(
                workspace, outputGradient: workspace.logitsStorage, input: workspace.transformOutput,
                weight: offsets.wordEmbeddings, inputGradient: workspace.gradientTransform,
                accumulateInputGradient: false,
                // The tied decoder weight is the word-embedding table: frozen with the embeddings.
                weightGradient: frozenBottom.trainsEmbeddings ? offsets.wordEmbeddings : nil,
                biasGradient: decoderBias, rows: m, inFeatures: h, outFeatures: vocab)
            LayerNorm.backward(
                outputGradient: workspace.gradientTransform, input: workspace.transformActivated,
                gamma: parameter(normWeight), mean: workspace.transformMean, rstd: workspace.transformRstd,
                inputGradient: workspace.gradientMasked, accumulate: false,
                gammaGradient: gradientPointer(normWeight), betaGradient: gradientPointer(normBias), rows: m, columns: h)
            GELU.backward(
                outputGradient: workspace.gradientMasked, input: workspace.transformPre,
                inputGradient: workspace.gradientMasked, count: m * h)
            linearBackward(
                workspace, outputGradient: workspace.gradientMasked, input: workspace.maskedHidden,
                weight: transformWeight, inputGradient: workspace.gradientTransform,
                accumulateInputGradient: false, weightGradient: transformWeight,
                biasGradient: transformBias, rows: m, inFeatures: h, outFeatures: h)
            Embedding.scatterAdd(
                gradient: workspace.gradientTransform, indices: workspace.maskedPositions, count: m, columns: h,
                tableGradient: hiddenGradient)
        }
        encoderBackward(hiddenGradient: UnsafeBufferPointer(workspace.hiddenGradient), workspace: workspace)
    }

    /// Backward of the last `poolerForward`: accumulates the pooler's gradients and returns
    /// `workspace.hiddenGradient` set to the gradient with respect to the last hidden state (zero except
    /// at each row's first token). Add token-level gradients to it if needed, then call `encoderBackward`.
    @discardableResult
    public func poolerBackward(
        pooledGradient: UnsafeBufferPointer<Float>, workspace: BertWorkspace
    ) throws -> UnsafeMutableBufferPointer<Float> {
        guard let weight = offsets.poolerWeight, let bias = offsets.poolerBias else {
            throw ModelError.invalidInput("the parameter layout has no pooler (bert.pooler.dense.*)")
        }
        let b = workspace.currentBatch, s = workspace.currentSeq, h = config.hiddenSize
        guard pooledGradient.count >= b * h else {
            throw ModelError.invalidInput("pooled gradient holds \(pooledGradient.count) values, need \(b * h)")
        }
        Tanh.backward(
            outputGradient: pooledGradient.baseAddress!, output: workspace.pooled,
            inputGradient: workspace.gradientPooled, count: b * h)
        let hiddenGradient = workspace.hiddenGradient.baseAddress!
        hiddenGradient.update(repeating: 0, count: b * s * h)
        linearBackward(
            workspace, outputGradient: workspace.gradientPooled, input: workspace.poolerInput, weight: weight,
            inputGradient: workspace.gradientPoolerInput,
            accumulateInputGradient: false, weightGradient: weight, biasGradient: bias,
            rows: b, inFeatures: h, outFeatures: h)
        for row in 0..<b {
            (hiddenGradient + row * s * h).update(from: workspace.gradientPoolerInput + row * h, count: h)
        }
        return UnsafeMutableBufferPointer(start: hiddenGradient, count: b * s * h)
    }

    /// Backward through the encoder from the gradient of the last hidden state `[B, S, H]`
    /// (e.g. `workspace.hiddenGradient`), accumulating into `gradients`. It stops at
    /// `frozenBottom.lowestTrainableLayer`: frozen layers and embeddings get no gradient.
    public func encoderBackward(hiddenGradient: UnsafeBufferPointer<Float>, workspace: BertWorkspace) {
        let t = workspace.currentBatch * workspace.currentSeq, h = config.hiddenSize
        let gradient = workspace.hiddenGradient.baseAddress!
        if let source = hiddenGradient.baseAddress, source != UnsafePointer(gradient) {
            gradient.update(from: source, count: min(hiddenGradient.count, t * h))
        }
        let lowest = frozenBottom.lowestTrainableLayer, embeddings = frozenBottom.trainsEmbeddings
        for l in stride(from: config.numHiddenLayers - 1, through: lowest, by: -1) {
            let input = l == 0 ? workspace.embeddingOutput : workspace.layers[l - 1].output
            layerBackward(l, input: input, needsInputGradient: l > lowest || embeddings, workspace: workspace)
        }
        if embeddings { embeddingsBackward(workspace) }
    }

    /// On entry `hiddenGradient` holds the gradient of the layer output; on exit that of the layer input
    /// (when `needsInputGradient`; otherwise only part of it).
    private func layerBackward(
        _ l: Int, input: UnsafePointer<Float>, needsInputGradient: Bool, workspace: BertWorkspace
    ) {
        let p = offsets.layers[l], a = workspace.layers[l]
        let t = workspace.currentBatch * workspace.currentSeq, h = config.hiddenSize, inter = config.intermediateSize
        let gradientOut = workspace.hiddenGradient.baseAddress!
        let gradientSum = workspace.gradientSum, gradientBranch = workspace.gradientBranch
        // Output LayerNorm: dR2, then the branch (through dropout) and the residual (into the attention output).
        LayerNorm.backward(
            outputGradient: gradientOut, input: a.outputSum, gamma: parameter(p.outputNormWeight), mean: a.outputMean,
            rstd: a.outputRstd, inputGradient: gradientSum, accumulate: false,
            gammaGradient: gradientPointer(p.outputNormWeight), betaGradient: gradientPointer(p.outputNormBias),
            rows: t, columns: h)
        hiddenDropout(workspace, site: DropoutSite.feedForwardOutput(layer: l))
            .apply(gradientSum, into: gradientBranch, count: t * h)
        linearBackward(
            workspace, outputGradient: gradientBranch, input: savedIntermediateActivation(a), weight: p.output,
            inputGradient: workspace.gradientIntermediate, accumulateInputGradient: false,
            weightGradient: p.output, biasGradient: p.outputBias, rows: t,
            inFeatures: inter, outFeatures: h)
        GELU.backward(
            outputGradient: workspace.gradientIntermediate, input: a.intermediate,
            inputGradient: workspace.gradientIntermediate, count: t * inter)
        // gradientSum (the residual path) += dI · Wᵢ, giving d(attention output).
        linearBackward(
            workspace, outputGradient: workspace.gradientIntermediate, input: a.attentionOutput, weight: p.intermediate,
            inputGradient: gradientSum, accumulateInputGradient: true,
            weightGradient: p.intermediate, biasGradient: p.intermediateBias,
            rows: t, inFeatures: h, outFeatures: inter)
        LayerNorm.backward(
            outputGradient: gradientSum, input: a.attentionSum, gamma: parameter(p.attentionNormWeight),
            mean: a.attentionMean, rstd: a.attentionRstd, inputGradient: gradientOut, accumulate: false,
            gammaGradient: gradientPointer(p.attentionNormWeight), betaGradient: gradientPointer(p.attentionNormBias),
            rows: t, columns: h)
        hiddenDropout(workspace, site: DropoutSite.attentionOutput(layer: l))
            .apply(gradientOut, into: gradientBranch, count: t * h)
        linearBackward(
            workspace, outputGradient: gradientBranch, input: a.context, weight: p.attentionDense,
            inputGradient: workspace.gradientContext, accumulateInputGradient: false,
            weightGradient: p.attentionDense, biasGradient: p.attentionDenseBias,
            rows: t, inFeatures: h, outFeatures: h)
        attentionBackward(l, workspace: workspace)
        // gradientOut holds the residual gradient into the layer input; add the fused Q/K/V path.
        linearBackward(
            workspace, outputGradient: workspace.gradientQKV, input: input, weight: p.qkv,
            inputGradient: needsInputGradient ? gradientOut : nil, accumulateInputGradient: true,
            weightGradient: p.qkv, biasGradient: p.qkvBias, rows: t, inFeatures: h,
            outFeatures: 3 * h)
    }

    private func attentionBackward(_ l: Int, workspace: BertWorkspace) {
        let a = workspace.layers[l]
        if let gemm = mixedPrecision?.gemm {
            MixedAttention.backward(
                contextGradient: workspace.gradientContext, qkv: a.qkv, probabilities: a.probabilities,
                shape: attentionShape(workspace), dropout: attentionDropout(workspace, layer: l),
                probabilityGradient: workspace.gradientProbabilities,
                qkvGradient: workspace.gradientQKV, scratch: workspace.bf16Scratch(), gemm: gemm)
            return
        }
        Attention.backward(
            contextGradient: workspace.gradientContext, query: a.query, key: a.key, value: a.value,
            probabilities: a.probabilities, shape: attentionShape(workspace), dropout: attentionDropout(workspace, layer: l),
            dropped: workspace.droppedProbabilities, probabilityGradient: workspace.gradientProbabilities,
            queryGradient: workspace.gradientQKV, keyGradient: workspace.gradientQKV + config.hiddenSize,
            valueGradient: workspace.gradientQKV + 2 * config.hiddenSize)
    }

    private func embeddingsBackward(_ workspace: BertWorkspace) {
        let t = workspace.currentBatch * workspace.currentSeq, h = config.hiddenSize
        let gradient = workspace.hiddenGradient.baseAddress!
        hiddenDropout(workspace, site: DropoutSite.embeddings()).apply(gradient, count: t * h)
        LayerNorm.backward(
            outputGradient: gradient, input: workspace.embeddingSum, gamma: parameter(offsets.embeddingNormWeight),
            mean: workspace.embeddingMean, rstd: workspace.embeddingRstd, inputGradient: workspace.gradientSum,
            accumulate: false, gammaGradient: gradientPointer(offsets.embeddingNormWeight),
            betaGradient: gradientPointer(offsets.embeddingNormBias), rows: t, columns: h)
        Embedding.scatterAdd(
            gradient: workspace.gradientSum, indices: workspace.inputIds, count: t, columns: h,
            tableGradient: gradientPointer(offsets.wordEmbeddings))
        Embedding.scatterAdd(
            gradient: workspace.gradientSum, indices: workspace.tokenTypeIds, count: t, columns: h,
            tableGradient: gradientPointer(offsets.tokenTypeEmbeddings))
        Embedding.scatterAdd(
            gradient: workspace.gradientSum, indices: workspace.positionIds, count: t, columns: h,
            tableGradient: gradientPointer(offsets.positionEmbeddings))
    }
}
