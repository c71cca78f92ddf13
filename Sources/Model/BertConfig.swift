import Foundation
import TensorKernels

/// The subset of a HuggingFace `config.json` that defines a BERT encoder.
/// Unknown keys are ignored on read; `id2label`/`label2id` survive a round trip.
public struct BertConfig: Codable, Equatable, Sendable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var intermediateSize: Int
    public var hiddenAct: String
    public var maxPositionEmbeddings: Int
    public var typeVocabSize: Int
    public var layerNormEps: Float
    public var hiddenDropoutProb: Float
    public var attentionProbsDropoutProb: Float
    public var initializerRange: Float
    public var padTokenId: Int
    public var modelType: String
    public var architectures: [String]?
    public var id2label: [String: String]?
    public var label2id: [String: Int]?

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", intermediateSize = "intermediate_size"
        case hiddenAct = "hidden_act", maxPositionEmbeddings = "max_position_embeddings"
        case typeVocabSize = "type_vocab_size", layerNormEps = "layer_norm_eps"
        case hiddenDropoutProb = "hidden_dropout_prob", attentionProbsDropoutProb = "attention_probs_dropout_prob"
        case initializerRange = "initializer_range", padTokenId = "pad_token_id", modelType = "model_type"
        case architectures, id2label, label2id
    }

    public init(
        vocabSize: Int = 30522, hiddenSize: Int = 768, numHiddenLayers: Int = 12, numAttentionHeads: Int = 12,
        intermediateSize: Int = 3072, hiddenAct: String = "gelu", maxPositionEmbeddings: Int = 512,
        typeVocabSize: Int = 2, layerNormEps: Float = 1e-12, hiddenDropoutProb: Float = 0.1,
        attentionProbsDropoutProb: Float = 0.1, initializerRange: Float = 0.02, padTokenId: Int = 0
    ) {
        self.vocabSize = vocabSize; self.hiddenSize = hiddenSize; self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads; self.intermediateSize = intermediateSize
        self.hiddenAct = hiddenAct; self.maxPositionEmbeddings = maxPositionEmbeddings
        self.typeVocabSize = typeVocabSize; self.layerNormEps = layerNormEps
        self.hiddenDropoutProb = hiddenDropoutProb; self.attentionProbsDropoutProb = attentionProbsDropoutProb
        self.initializerRange = initializerRange; self.padTokenId = padTokenId
        self.modelType = "bert"; self.architectures = nil
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = BertConfig()
        vocabSize = try c.decode(Int.self, forKey: .vocabSize)
        hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? d.hiddenSize
        numHiddenLayers = try c.decodeIfPresent(Int.self, forKey: .numHiddenLayers) ?? d.numHiddenLayers
        numAttentionHeads = try c.decodeIfPresent(Int.self, forKey: .numAttentionHeads) ?? d.numAttentionHeads
        intermediateSize = try c.decodeIfPresent(Int.self, forKey: .intermediateSize) ?? d.intermediateSize
        hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? d.hiddenAct
        maxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? d.maxPositionEmbeddings
        typeVocabSize = try c.decodeIfPresent(Int.self, forKey: .typeVocabSize) ?? d.typeVocabSize
        layerNormEps = try c.decodeIfPresent(Float.self, forKey: .layerNormEps) ?? d.layerNormEps
        hiddenDropoutProb = try c.decodeIfPresent(Float.self, forKey: .hiddenDropoutProb) ?? d.hiddenDropoutProb
        attentionProbsDropoutProb =
            try c.decodeIfPresent(Float.self, forKey: .attentionProbsDropoutProb) ?? d.attentionProbsDropoutProb
        initializerRange = try c.decodeIfPresent(Float.self, forKey: .initializerRange) ?? d.initializerRange
        padTokenId = try c.decodeIfPresent(Int.self, forKey: .padTokenId) ?? d.padTokenId
        modelType = try c.decodeIfPresent(String.self, forKey: .modelType) ?? "bert"
        architectures = try c.decodeIfPresent([String].self, forKey: .architectures)
        id2label = try c.decodeIfPresent([String: String].self, forKey: .id2label)
        label2id = try c.decodeIfPresent([String: Int].self, forKey: .label2id)
    }

    public static func load(from url: URL) throws -> BertConfig {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ModelError.invalidConfig("\(url.path): cannot read (\(error.localizedDescription))")
        }
        return try decode(data, source: url.path)
    }

    public static func decode(_ data: Data, source: String) throws -> BertConfig {
        let config: BertConfig
        do { config = try JSONDecoder().decode(BertConfig.self, from: data) } catch {
            throw ModelError.invalidConfig("\(source): not a BERT config.json (\(error))")
        }
        try config.validate(source: source)
        return config
    }

    public func validate(source: String) throws {
        guard hiddenSize > 0, numAttentionHeads > 0, hiddenSize % numAttentionHeads == 0 else {
            throw ModelError.invalidConfig(
                "\(source): hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(numAttentionHeads)")
        }
        guard ["gelu", "gelu_python", "gelu_new"].contains(hiddenAct) || hiddenAct == "gelu" else {
            throw ModelError.invalidConfig("\(source): hidden_act '\(hiddenAct)' is not supported (use gelu)")
        }
        guard vocabSize > 0, numHiddenLayers > 0, intermediateSize > 0, maxPositionEmbeddings > 0, typeVocabSize > 0
        else { throw ModelError.invalidConfig("\(source): sizes must be positive") }
        // Sizes from a file are checked against memory before a layout or an arena is built from them.
        do {
            try MemoryBudget.check(
                parameterCountBound.flatMap { MemoryBudget.product($0, BertModel.bytesPerParameter) },
                for: "a model with vocab_size \(vocabSize), hidden_size \(hiddenSize), num_hidden_layers \(numHiddenLayers), "
                    + "intermediate_size \(intermediateSize), max_position_embeddings \(maxPositionEmbeddings) and "
                    + "type_vocab_size \(typeVocabSize) would",
                hint: "are these sizes right?")
        } catch let error as MemoryBudgetError {
            throw ModelError.invalidConfig("\(source): \(error)")
        }
    }

    /// At least the number of floats in the parameter arena of any heads (the MLM head and a pooler included,
    /// with alignment padding), or nil when the sizes overflow `Int`.
    public var parameterCountBound: Int? {
        let h = hiddenSize, i = intermediateSize
        let padding = 16 * 16  // each tensor is padded to 16 floats: at most 16 tensors a layer, and as many outside
        let layer = MemoryBudget.sum([MemoryBudget.product(4, h, h), MemoryBudget.product(2, h, i), MemoryBudget.product(9, h), i, padding])
        let embeddingRows = MemoryBudget.sum([vocabSize, maxPositionEmbeddings, typeVocabSize])
        return MemoryBudget.sum([
            embeddingRows.flatMap { MemoryBudget.product($0, h) }, layer.flatMap { MemoryBudget.product(numHiddenLayers, $0) },
            MemoryBudget.product(2, h, h), MemoryBudget.product(7, h), vocabSize, padding,
        ])
    }

    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }
}

public enum ModelError: Error, CustomStringConvertible, Equatable {
    case invalidConfig(String)
    case shapeMismatch(String)
    case invalidInput(String)

    public var description: String {
        switch self {
        case .invalidConfig(let m): return "invalid config: \(m)"
        case .shapeMismatch(let m): return "shape mismatch: \(m)"
        case .invalidInput(let m): return "invalid input: \(m)"
        }
    }
}
