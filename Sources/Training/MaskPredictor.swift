import Checkpoint
import Foundation
import Model
import Tokenizer

/// Top-k predictions for `[MASK]` tokens in a sentence (HF fill-mask: softmax over the vocabulary).
public struct MaskPredictor {
    public struct Prediction: Equatable, Sendable {
        public var id: Int32
        public var token: String
        public var probability: Double
    }

    let prepared: PreparedModel

    public init(prepared: PreparedModel) { self.prepared = prepared }

    /// `[CLS] pieces [SEP]` with the vocabulary's `[MASK]` id wherever the text says `[MASK]`
    /// (split out before WordPiece, as HF treats it as a special token).
    public func encode(_ text: String) -> [Int32] {
        let tokenizer = prepared.tokenizer
        let vocabulary = prepared.vocabulary
        var ids: [Int32] = [vocabulary.clsId]
        var wordIds: [Int32] = []
        var nextWord: Int32 = 0
        let parts = text.components(separatedBy: "[MASK]")
        for (index, part) in parts.enumerated() {
            nextWord = tokenizer.appendPieces(of: Substring(part), ids: &ids, wordIds: &wordIds, firstWordId: nextWord)
            if index < parts.count - 1 { ids.append(vocabulary.maskId) }
        }
        ids.append(vocabulary.sepId)
        return ids
    }

    /// For each `[MASK]` in order, the `topK` most likely tokens.
    public func predict(_ text: String, topK: Int) throws -> [[Prediction]] {
        let model = prepared.model
        var ids = encode(text)
        let maxLength = model.config.maxPositionEmbeddings
        if ids.count > maxLength {
            throw TrainingError.invalidSetting("the text is \(ids.count) tokens, above the model's \(maxLength)")
        }
        let positions = ids.indices.filter { ids[$0] == prepared.vocabulary.maskId }.map { Int32($0) }
        guard !positions.isEmpty else { return [] }
        let labels = [Int32](repeating: -100, count: positions.count)
        let types = [Int32](repeating: 0, count: ids.count)
        let attention = [UInt8](repeating: 1, count: ids.count)
        let workspace = try BertWorkspace(layout: model.layout, batchSize: 1, seqLength: ids.count,
                                      maxMaskedTokens: positions.count)
        _ = try ids.withUnsafeMutableBufferPointer { idBuffer in
            try types.withUnsafeBufferPointer { typeBuffer in
                try attention.withUnsafeBufferPointer { attentionBuffer in
                    try positions.withUnsafeBufferPointer { positionBuffer in
                        try labels.withUnsafeBufferPointer { labelBuffer in
                            try model.maskedLMForward(
                                EncoderInputs(batchSize: 1, seqLength: idBuffer.count,
                                              inputIds: UnsafeBufferPointer(idBuffer), tokenTypeIds: typeBuffer,
                                              attentionMask: attentionBuffer),
                                maskedPositions: positionBuffer, labels: labelBuffer, workspace: workspace,
                                training: false, dropoutSeed: 0)
                        }
                    }
                }
            }
        }
        let vocabSize = model.config.vocabSize
        let usable = prepared.vocabulary.count
        let logits = workspace.logits
        return (0..<positions.count).map { row in
            let base = row * vocabSize
            var maximum = -Float.infinity
            for v in 0..<usable { maximum = max(maximum, logits[base + v]) }
            var total = 0.0
            for v in 0..<usable { total += exp(Double(logits[base + v] - maximum)) }
            // Partial selection of the k largest logits.
            var best: [(Int, Float)] = []
            for v in 0..<usable {
                let value = logits[base + v]
                if best.count < topK {
                    best.append((v, value))
                    best.sort { $0.1 > $1.1 }
                } else if value > best[topK - 1].1 {
                    best[topK - 1] = (v, value)
                    best.sort { $0.1 > $1.1 }
                }
            }
            return best.map { v, value in
                Prediction(id: Int32(v), token: prepared.vocabulary.token(of: Int32(v)),
                           probability: exp(Double(value - maximum)) / total)
            }
        }
    }
}

extension MaskPredictor {
    /// One JSON object for `fill-mask --json`: the text and, per `[MASK]` in order, its predictions with
    /// the field names of transformers' fill-mask pipeline (`token` the id, `token_str`, `score`).
    public static func jsonLine(text: String, predictions: [[Prediction]]) throws -> String {
        let masks = predictions.map { row in
            row.map { ["token": Int($0.id), "token_str": $0.token, "score": $0.probability] as [String: Any] }
        }
        let data = try JSONSerialization.data(withJSONObject: ["text": text, "masks": masks] as [String: Any],
                                              options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}
