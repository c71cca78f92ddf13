import TensorKernels

/// The dense layers' GEMMs in the model's precision: fp32 on OpenBLAS, or bf16 operands with float
/// accumulation (autocast) on the bf16 backend, reading the bf16 weight copies. Weights and biases are
/// arena offsets.
extension BertModel {
    /// The bf16 backend and the bf16 weight copies, when the model runs in mixed precision.
    var mixedPrecision: (gemm: any BF16Gemm, weights: UnsafeMutablePointer<UInt16>)? {
        guard let gemm = precision.bf16Gemm, let copies = lowPrecisionWeights?.baseAddress else { return nil }
        return (gemm, copies)
    }

    func linearForward(
        _ workspace: BertWorkspace, input: UnsafePointer<Float>, weight: Int, bias: Int?,
        output: UnsafeMutablePointer<Float>, rows: Int, inFeatures: Int, outFeatures: Int
    ) {
        linearForward(
            workspace, input: .float(input), weight: weight, bias: bias, output: output, rows: rows,
            inFeatures: inFeatures, outFeatures: outFeatures)
    }

    /// `input` may be in bf16 only in mixed precision, where a kernel wrote the operand so.
    func linearForward(
        _ workspace: BertWorkspace, input: MixedOperand, weight: Int, bias: Int?,
        output: UnsafeMutablePointer<Float>, rows: Int, inFeatures: Int, outFeatures: Int
    ) {
        let bias = bias.map { UnsafePointer(parameter($0)) }
        if let mixed = mixedPrecision {
            MixedLinear.forward(
                input: input, weight: mixed.weights + weight, bias: bias, output: output, rows: rows,
                inFeatures: inFeatures, outFeatures: outFeatures, scratch: workspace.bf16Scratch(), gemm: mixed.gemm)
        } else if case .float(let input) = input {
            Linear.forward(
                input: input, weight: parameter(weight), bias: bias, output: output, rows: rows,
                inFeatures: inFeatures, outFeatures: outFeatures)
        } else {
            preconditionFailure("a bf16 operand outside mixed precision")
        }
    }

    func linearBackward(
        _ workspace: BertWorkspace, outputGradient: UnsafePointer<Float>, input: UnsafePointer<Float>, weight: Int,
        inputGradient: UnsafeMutablePointer<Float>?, accumulateInputGradient: Bool, weightGradient: Int?,
        biasGradient: Int?, rows: Int, inFeatures: Int, outFeatures: Int
    ) {
        linearBackward(
            workspace, outputGradient: outputGradient, input: .float(input), weight: weight, inputGradient: inputGradient,
            accumulateInputGradient: accumulateInputGradient, weightGradient: weightGradient,
            biasGradient: biasGradient, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures)
    }

    func linearBackward(
        _ workspace: BertWorkspace, outputGradient: UnsafePointer<Float>, input: MixedOperand, weight: Int,
        inputGradient: UnsafeMutablePointer<Float>?, accumulateInputGradient: Bool, weightGradient: Int?,
        biasGradient: Int?, rows: Int, inFeatures: Int, outFeatures: Int
    ) {
        if let mixed = mixedPrecision {
            MixedLinear.backward(
                outputGradient: outputGradient, input: input, weight: mixed.weights + weight,
                inputGradient: inputGradient, accumulateInputGradient: accumulateInputGradient,
                weightGradient: weightGradient.map(gradientPointer), biasGradient: biasGradient.map(gradientPointer),
                rows: rows, inFeatures: inFeatures, outFeatures: outFeatures, scratch: workspace.bf16Scratch(),
                gemm: mixed.gemm)
        } else if case .float(let input) = input {
            Linear.backward(
                outputGradient: outputGradient, input: input, weight: parameter(weight), inputGradient: inputGradient,
                accumulateInputGradient: accumulateInputGradient, weightGradient: weightGradient.map(gradientPointer),
                biasGradient: biasGradient.map(gradientPointer), rows: rows, inFeatures: inFeatures,
                outFeatures: outFeatures)
        } else {
            preconditionFailure("a bf16 operand outside mixed precision")
        }
    }

    /// Converts the GEMM weights to bf16 when the parameters changed since the last conversion.
    func refreshLowPrecisionWeights() {
        guard let copies = lowPrecisionWeights, convertedVersion != parameterVersion else { return }
        for (offset, count) in gemmWeightSpans {
            BFloat16.convert(parameter(offset), into: copies.baseAddress! + offset, count: count)
        }
        convertedVersion = parameterVersion
    }

    /// Arena spans of every weight matrix the model's GEMMs read (the classifier head's own GEMMs stay fp32).
    var gemmWeightSpans: [(offset: Int, count: Int)] {
        let h = config.hiddenSize, i = config.intermediateSize
        var spans = offsets.layers.flatMap { p in
            [(p.qkv, 3 * h * h), (p.attentionDense, h * h), (p.intermediate, i * h), (p.output, h * i)]
        }
        if let pooler = offsets.poolerWeight { spans.append((pooler, h * h)) }
        if let transform = offsets.transformWeight {
            spans.append((transform, h * h))
            spans.append((offsets.wordEmbeddings, config.vocabSize * h))  // the tied decoder
        }
        return spans
    }
}
