/// Which heads sit on top of the encoder. The names follow HF `transformers` so that a
/// checkpoint's tensor names are the layout's names.
public struct ModelHeads: Equatable, Sendable {
    /// `cls.predictions.*`: transform (dense, GELU, LayerNorm) and a decoder tied to the word embeddings.
    public var maskedLM: Bool
    /// `bert.pooler.dense.*`: BertForMaskedLM has none; classification models do.
    public var pooler: Bool
    /// `classifier.*` with this many outputs (sequence or token classification).
    public var classifierLabels: Int?

    public init(maskedLM: Bool, pooler: Bool, classifierLabels: Int? = nil) {
        self.maskedLM = maskedLM; self.pooler = pooler; self.classifierLabels = classifierLabels
    }
    public static let maskedLM = ModelHeads(maskedLM: true, pooler: false)
}

/// One named tensor inside the contiguous parameter arena.
public struct ParameterTensor: Equatable, Sendable {
    public let name: String
    public let shape: [Int]
    public let offset: Int
    public var count: Int { shape.reduce(1, *) }
    /// Biases and LayerNorm parameters get no weight decay, as in HF `Trainer`.
    public var decays: Bool { !(name.hasSuffix(".bias") || name.contains("LayerNorm")) }
}

/// The order and shape of every parameter, with HF BertForMaskedLM /
/// BertForSequenceClassification names. The arena is one Float buffer of `totalCount`.
public struct ParameterLayout: Sendable {
    public let config: BertConfig
    public let heads: ModelHeads
    public let tensors: [ParameterTensor]
    public let totalCount: Int
    private let indexByName: [String: Int]

    public init(config: BertConfig, heads: ModelHeads) {
        self.config = config
        self.heads = heads
        let h = config.hiddenSize, i = config.intermediateSize
        var list: [(String, [Int])] = [
            ("bert.embeddings.word_embeddings.weight", [config.vocabSize, h]),
            ("bert.embeddings.position_embeddings.weight", [config.maxPositionEmbeddings, h]),
            ("bert.embeddings.token_type_embeddings.weight", [config.typeVocabSize, h]),
            ("bert.embeddings.LayerNorm.weight", [h]),
            ("bert.embeddings.LayerNorm.bias", [h]),
        ]
        for l in 0..<config.numHiddenLayers {
            let p = "bert.encoder.layer.\(l)."
            list += [
                (p + "attention.self.query.weight", [h, h]), (p + "attention.self.query.bias", [h]),
                (p + "attention.self.key.weight", [h, h]), (p + "attention.self.key.bias", [h]),
                (p + "attention.self.value.weight", [h, h]), (p + "attention.self.value.bias", [h]),
                (p + "attention.output.dense.weight", [h, h]), (p + "attention.output.dense.bias", [h]),
                (p + "attention.output.LayerNorm.weight", [h]), (p + "attention.output.LayerNorm.bias", [h]),
                (p + "intermediate.dense.weight", [i, h]), (p + "intermediate.dense.bias", [i]),
                (p + "output.dense.weight", [h, i]), (p + "output.dense.bias", [h]),
                (p + "output.LayerNorm.weight", [h]), (p + "output.LayerNorm.bias", [h]),
            ]
        }
        if heads.pooler {
            list += [("bert.pooler.dense.weight", [h, h]), ("bert.pooler.dense.bias", [h])]
        }
        if heads.maskedLM {
            // The decoder weight is tied to the word embeddings, so it has no slot of its own.
            list += [
                ("cls.predictions.transform.dense.weight", [h, h]), ("cls.predictions.transform.dense.bias", [h]),
                ("cls.predictions.transform.LayerNorm.weight", [h]), ("cls.predictions.transform.LayerNorm.bias", [h]),
                ("cls.predictions.bias", [config.vocabSize]),
            ]
        }
        if let labels = heads.classifierLabels {
            list += [("classifier.weight", [labels, h]), ("classifier.bias", [labels])]
        }
        // Placement: each tensor 16-float (64-byte) aligned for vector loads, except that a layer's query,
        // key and value weights sit back to back as one [3H, H] matrix, and their biases as one [3H]
        // vector, so the three projections run as one GEMM. Names and their order stay HF's.
        var offsetByName: [String: Int] = [:]
        var offset = 0
        for (name, shape) in list where offsetByName[name] == nil {
            let fused = Self.fusedProjectionGroup(startingAt: name)
            for member in fused ?? [name] {
                offsetByName[member] = offset
                offset += fused == nil ? (shape.reduce(1, *) + 15) / 16 * 16 : shape.reduce(1, *)
            }
            offset = (offset + 15) / 16 * 16
        }
        var tensors: [ParameterTensor] = []
        var index: [String: Int] = [:]
        for (name, shape) in list {
            index[name] = tensors.count
            tensors.append(ParameterTensor(name: name, shape: shape, offset: offsetByName[name]!))
        }
        self.tensors = tensors
        self.totalCount = offset
        self.indexByName = index
    }

    /// The query/key/value weights (or biases) of a layer when `name` is its query tensor: placed contiguously.
    private static func fusedProjectionGroup(startingAt name: String) -> [String]? {
        for suffix in [".weight", ".bias"] where name.hasSuffix("attention.self.query" + suffix) {
            let stem = name.dropLast(("query" + suffix).count)
            return ["query", "key", "value"].map { stem + $0 + suffix }
        }
        return nil
    }

    public subscript(name: String) -> ParameterTensor? {
        indexByName[name].map { tensors[$0] }
    }
}
