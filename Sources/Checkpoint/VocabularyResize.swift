import Foundation
import Model
import Tokenizer

extension PreparedModel {
    static let wordEmbeddingsName = "bert.embeddings.word_embeddings.weight"
    static let decoderBiasName = "cls.predictions.bias"

    /// This model with `extendedTokens` as its vocabulary: this vocabulary followed by new tokens
    /// (`VocabularyExtension.check` refuses anything else, naming the line of `file`). The word embeddings
    /// and the MLM decoder bias grow by one row per new token; every old row is copied bit for bit, and each
    /// new row is the mean of the rows of the pieces this vocabulary gave the token (exBERT-style), the
    /// bias row likewise. `config.json` gets the new `vocab_size`, so checkpoints and exports carry both.
    /// Returns the model unchanged when nothing is added.
    public func extendingVocabulary(to extendedTokens: [String], file: String) throws -> PreparedModel {
        let baseSource = checkpoint.map { "the vocabulary of \($0.source)" } ?? "the model's vocabulary"
        let added = try VocabularyExtension.check(
            extended: extendedTokens, base: vocabulary.tokens, lowercase: lowercase, file: file, baseSource: baseSource)
        guard added > 0 else { return self }
        let extended = try Vocabulary(tokens: extendedTokens, file: file)
        let oldLayout = model.layout
        var config = oldLayout.config
        config.vocabSize = max(config.vocabSize, extended.count)
        let grown = BertModel(layout: ParameterLayout(config: config, heads: oldLayout.heads))
        for tensor in oldLayout.tensors {
            guard let source = model.tensor(tensor.name), let target = grown.tensor(tensor.name) else {
                preconditionFailure("the grown layout lacks \(tensor.name)")
            }
            // Old rows are the prefix of the grown tensor: [V, H] embeddings and [V] biases are row-major.
            _ = UnsafeMutableBufferPointer(rebasing: target[0..<source.count]).update(fromContentsOf: source)
        }
        let hidden = config.hiddenSize
        let oldTokenizer = tokenizer
        let embeddings = grown.tensor(Self.wordEmbeddingsName)!
        let bias = grown.tensor(Self.decoderBiasName)
        var row = [Double](repeating: 0, count: hidden)
        for id in vocabulary.count..<extended.count {
            let pieces = VocabularyExtension.basePieces(of: extended.tokens[id], tokenizer: oldTokenizer)
            for index in row.indices { row[index] = 0 }
            var biasSum = 0.0
            for piece in pieces {
                let start = Int(piece) * hidden
                for index in 0..<hidden { row[index] += Double(embeddings[start + index]) }
                if let bias { biasSum += Double(bias[Int(piece)]) }
            }
            let count = Double(pieces.count)
            for index in 0..<hidden { embeddings[id * hidden + index] = Float(row[index] / count) }
            bias?[id] = Float(biasSum / count)
        }
        var object = (try? JSONSerialization.jsonObject(with: Data(configJSON.utf8)) as? [String: Any]) ?? [:]
        object["vocab_size"] = config.vocabSize
        let note = "vocabulary extended by \(added) tokens from \(file) (ids \(vocabulary.count)…\(extended.count - 1)): "
            + "each new word-embedding row" + (bias == nil ? "" : " and MLM bias") + " is the mean of its old pieces'"
        return PreparedModel(
            model: grown, vocabulary: extended, lowercase: lowercase, configJSON: try HFModelFolder.jsonText(object),
            vocabularyText: extended.tokens.joined(separator: "\n") + "\n", report: report, notes: notes + [note],
            checkpoint: checkpoint)
    }
}
