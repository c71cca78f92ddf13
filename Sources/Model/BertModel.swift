import SeededRandom
import TensorKernels

/// Offsets of one encoder layer's tensors inside the parameter (and gradient) arena.
struct LayerOffsets {
    let query, queryBias, key, keyBias, value, valueBias: Int
    /// The query, key and value weights as one `[3H, H]` matrix, and their biases as one `[3H]` vector
    /// (`ParameterLayout` places them back to back).
    var qkv: Int { query }
    var qkvBias: Int { queryBias }
    let attentionDense, attentionDenseBias, attentionNormWeight, attentionNormBias: Int
    let intermediate, intermediateBias, output, outputBias, outputNormWeight, outputNormBias: Int
}

/// Offsets of the non-layer tensors; heads absent from the layout are nil.
struct ModelOffsets {
    let wordEmbeddings, positionEmbeddings, tokenTypeEmbeddings, embeddingNormWeight, embeddingNormBias: Int
    let layers: [LayerOffsets]
    let poolerWeight, poolerBias: Int?
    let transformWeight, transformBias, transformNormWeight, transformNormBias, decoderBias: Int?

    init(layout: ParameterLayout) {
        // Every name below is produced by ParameterLayout itself, so a missing one is a programming error.
        func at(_ name: String) -> Int {
            guard let tensor = layout[name] else { preconditionFailure("ParameterLayout has no \(name)") }
            return tensor.offset
        }
        func optional(_ name: String) -> Int? { layout[name]?.offset }
        wordEmbeddings = at("bert.embeddings.word_embeddings.weight")
        positionEmbeddings = at("bert.embeddings.position_embeddings.weight")
        tokenTypeEmbeddings = at("bert.embeddings.token_type_embeddings.weight")
        embeddingNormWeight = at("bert.embeddings.LayerNorm.weight")
        embeddingNormBias = at("bert.embeddings.LayerNorm.bias")
        let h = layout.config.hiddenSize
        layers = (0..<layout.config.numHiddenLayers).map { l in
            let p = "bert.encoder.layer.\(l)."
            let offsets = LayerOffsets(
                query: at(p + "attention.self.query.weight"), queryBias: at(p + "attention.self.query.bias"),
                key: at(p + "attention.self.key.weight"), keyBias: at(p + "attention.self.key.bias"),
                value: at(p + "attention.self.value.weight"), valueBias: at(p + "attention.self.value.bias"),
                attentionDense: at(p + "attention.output.dense.weight"),
                attentionDenseBias: at(p + "attention.output.dense.bias"),
                attentionNormWeight: at(p + "attention.output.LayerNorm.weight"),
                attentionNormBias: at(p + "attention.output.LayerNorm.bias"),
                intermediate: at(p + "intermediate.dense.weight"), intermediateBias: at(p + "intermediate.dense.bias"),
                output: at(p + "output.dense.weight"), outputBias: at(p + "output.dense.bias"),
                outputNormWeight: at(p + "output.LayerNorm.weight"), outputNormBias: at(p + "output.LayerNorm.bias"))
            precondition(
                offsets.key == offsets.query + h * h && offsets.value == offsets.key + h * h
                    && offsets.keyBias == offsets.queryBias + h && offsets.valueBias == offsets.keyBias + h,
                "ParameterLayout must place layer \(l)'s query, key and value tensors back to back")
            return offsets
        }
        poolerWeight = optional("bert.pooler.dense.weight")
        poolerBias = optional("bert.pooler.dense.bias")
        transformWeight = optional("cls.predictions.transform.dense.weight")
        transformBias = optional("cls.predictions.transform.dense.bias")
        transformNormWeight = optional("cls.predictions.transform.LayerNorm.weight")
        transformNormBias = optional("cls.predictions.transform.LayerNorm.bias")
        decoderBias = optional("cls.predictions.bias")
    }
}

/// Inputs of one encoder pass: `[batchSize, seqLength]` row-major token ids, token type ids and
/// attention mask (1 = real token, 0 = padding).
public struct EncoderInputs {
    public var batchSize: Int
    public var seqLength: Int
    public var inputIds: UnsafeBufferPointer<Int32>
    public var tokenTypeIds: UnsafeBufferPointer<Int32>
    public var attentionMask: UnsafeBufferPointer<UInt8>

    public init(
        batchSize: Int, seqLength: Int, inputIds: UnsafeBufferPointer<Int32>,
        tokenTypeIds: UnsafeBufferPointer<Int32>, attentionMask: UnsafeBufferPointer<UInt8>
    ) {
        self.batchSize = batchSize; self.seqLength = seqLength
        self.inputIds = inputIds; self.tokenTypeIds = tokenTypeIds; self.attentionMask = attentionMask
    }
}

/// Loss and accuracy of one masked-LM forward pass.
public struct MaskedLMResult: Equatable, Sendable {
    /// Mean cross-entropy over the counted masked tokens (0 when there are none).
    public var loss: Float
    /// Masked tokens whose arg-max prediction equals the label.
    public var correct: Int
    /// Masked tokens with a label (labels < 0 are ignored).
    public var count: Int
}

/// The bottom of the encoder that stays frozen while training, as the backward pass sees it: frozen
/// parameters get no gradient (their gradient slots are never written) and the backward pass stops at
/// the lowest trainable layer instead of computing gradients that would be thrown away.
public enum FrozenBottom: Equatable, Sendable {
    /// Everything trains.
    case nothing
    /// The embeddings (word, position and type tables and their LayerNorm; with them the MLM decoder,
    /// which is tied to the word embeddings) and encoder layers `0..<layers`: 0 freezes the embeddings
    /// only, the layer count the whole encoder.
    case embeddingsAndLayers(Int)

    public var trainsEmbeddings: Bool { self == .nothing }
    /// The lowest encoder layer whose parameters train (the layer count when none does).
    public var lowestTrainableLayer: Int {
        switch self {
        case .nothing: return 0
        case .embeddingsAndLayers(let layers): return layers
        }
    }
}

/// BERT encoder with optional MLM head and pooler, with explicit forward and backward passes over
/// one contiguous parameter arena and one gradient arena laid out by `ParameterLayout`.
public final class BertModel {
    public let layout: ParameterLayout
    public var config: BertConfig { layout.config }
    public let parameters: UnsafeMutableBufferPointer<Float>
    public let gradients: UnsafeMutableBufferPointer<Float>
    let offsets: ModelOffsets
    /// The precision of the dense layers' GEMMs (`setPrecision`); fp32 by default.
    public private(set) var precision = ResolvedPrecision.fp32
    /// bf16 copies of the GEMM weights at the parameter arena's offsets (bf16 only), refreshed at the first
    /// forward pass after `parametersDidChange()`.
    var lowPrecisionWeights: UnsafeMutableBufferPointer<UInt16>?
    var parameterVersion = 0, convertedVersion = -1

    /// Runs the dense layers in `resolved` precision from the next forward pass on (fp32 master weights,
    /// gradients and everything but the GEMM operands stay as they are).
    public func setPrecision(_ resolved: ResolvedPrecision) {
        precision = resolved
        if resolved.bf16Gemm != nil, lowPrecisionWeights == nil {
            lowPrecisionWeights = .allocate(capacity: max(1, layout.totalCount))
            lowPrecisionWeights!.initialize(repeating: 0)
        } else if resolved.bf16Gemm == nil, let copies = lowPrecisionWeights {
            copies.deallocate()
            lowPrecisionWeights = nil
        }
        convertedVersion = -1
    }

    /// Call after writing the parameters (an optimizer step, restoring or loading weights): in bf16 the
    /// weight copies are then converted again, once, at the next forward pass.
    public func parametersDidChange() { parameterVersion &+= 1 }

    /// Set by the training loop from its freezing options (`setFrozenBottom`); `.nothing` by default.
    public private(set) var frozenBottom = FrozenBottom.nothing

    /// Declares which bottom part of the encoder is frozen, so the backward pass skips it.
    public func setFrozenBottom(_ frozen: FrozenBottom) throws {
        let layers = config.numHiddenLayers
        guard (0...layers).contains(frozen.lowestTrainableLayer) else {
            throw ModelError.invalidInput(
                "cannot freeze the bottom \(frozen.lowestTrainableLayer) encoder layers: the model has \(layers)")
        }
        frozenBottom = frozen
    }

    /// What the model allocates per parameter: fp32 weights and gradients, and the bf16 weight copies of a
    /// bf16 run. `BertConfig.validate` checks a config's size against it.
    static let bytesPerParameter = 2 * MemoryLayout<Float>.stride + MemoryLayout<UInt16>.stride

    public init(layout: ParameterLayout) {
        self.layout = layout
        parameters = Self.allocateArena(layout.totalCount)
        gradients = Self.allocateArena(layout.totalCount)
        offsets = ModelOffsets(layout: layout)
    }

    deinit {
        parameters.deallocate()
        gradients.deallocate()
        lowPrecisionWeights?.deallocate()
    }

    private static func allocateArena(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(1, count) * MemoryLayout<Float>.stride, alignment: 64)
        let pointer = raw.bindMemory(to: Float.self, capacity: max(1, count))
        pointer.initialize(repeating: 0, count: max(1, count))
        return UnsafeMutableBufferPointer(start: pointer, count: count)
    }

    /// A parameter tensor by its HF name, viewing the arena (writes change the model).
    public func tensor(_ name: String) -> UnsafeMutableBufferPointer<Float>? {
        guard let t = layout[name] else { return nil }
        return UnsafeMutableBufferPointer(start: parameters.baseAddress! + t.offset, count: t.count)
    }

    /// The gradient of a parameter tensor by its HF name.
    public func gradient(_ name: String) -> UnsafeMutableBufferPointer<Float>? {
        guard let t = layout[name] else { return nil }
        return UnsafeMutableBufferPointer(start: gradients.baseAddress! + t.offset, count: t.count)
    }

    public func zeroGradients() {
        Parallel.forEachRange(gradients.count, grain: 1 << 18, ZeroFill(base: gradients.baseAddress!))
    }

    /// BERT initialisation as HF `_init_weights`: weights and embeddings ~ N(0, initializer_range),
    /// LayerNorm γ = 1 and β = 0, biases 0, and the padding token's word embedding 0.
    public func initializeWeights(seed: UInt64) {
        var generator = SplitMix64(afterOneDrawFrom: seed)
        let std = Double(config.initializerRange)
        let base = parameters.baseAddress!
        base.update(repeating: 0, count: parameters.count)
        for t in layout.tensors {
            let values = base + t.offset
            if t.name.contains("LayerNorm") {
                if t.name.hasSuffix(".weight") { values.update(repeating: 1, count: t.count) }
            } else if t.name.hasSuffix(".weight") {
                for i in 0..<t.count { values[i] = Float(generator.nextGaussian() * std) }
            }
        }
        let pad = config.padTokenId
        if pad >= 0, pad < config.vocabSize {
            (base + offsets.wordEmbeddings + pad * config.hiddenSize).update(repeating: 0, count: config.hiddenSize)
        }
    }

    @inline(__always) func parameter(_ offset: Int) -> UnsafeMutablePointer<Float> { parameters.baseAddress! + offset }
    @inline(__always) func gradientPointer(_ offset: Int) -> UnsafeMutablePointer<Float> {
        gradients.baseAddress! + offset
    }
}

private struct ZeroFill: ParallelBody {
    let base: UnsafeMutablePointer<Float>
    func run(_ range: Range<Int>) { (base + range.lowerBound).update(repeating: 0, count: range.count) }
}
