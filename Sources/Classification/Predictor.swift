import Foundation

/// Labels (or BIO tags) for new text from a fine-tuned checkpoint, as JSON lines.
public enum Predictor {
    /// One JSON object per text: `{"text", "label", "score", "probabilities": {label: p}}` for a sequence
    /// classifier; `{"text", "words", "tags", "scores"}` for a token classifier, whose words are the text split
    /// at whitespace (words past the maximum length get `O` and score 0).
    public static func predict(
        _ texts: [TextExample], with loaded: LoadedClassifier, maxSeqLength: Int, batchSize: Int
    ) throws -> [String] {
        let maxLength = min(maxSeqLength, loaded.model.config.maxPositionEmbeddings)
        let classifier = try Classifier(
            kind: loaded.kind, model: loaded.model, labels: loaded.labels, batchSize: batchSize, maxSeqLength: maxLength)
        let names = loaded.labels.names
        switch loaded.kind {
        case .sequence:
            let encoded = TaskEncoder.encode(texts, labels: nil, tokenizer: loaded.tokenizer, maxLength: maxLength)
            let predictions = try classifier.predict(encoded)
            return try texts.indices.map { i in
                let p = predictions.probabilities[i], best = Int(predictions.labels[i])
                let probabilities = Dictionary(uniqueKeysWithValues: zip(names, p.map(Double.init)))
                return try jsonLine([
                    "text": texts[i].text, "label": names[best], "score": Double(p[best]), "probabilities": probabilities,
                ])
            }
        case .token:
            let sentences = texts.map { text in
                let words = text.text.split(whereSeparator: \.isWhitespace).map(String.init)
                return TaggedSentence(words: words, tags: words.map { _ in "O" }, line: text.line)
            }
            let encoded = try TaskEncoder.encode(
                sentences, labels: nil, tokenizer: loaded.tokenizer, maxLength: maxLength, path: "input")
            let predictions = try classifier.predict(encoded)
            let tags = classifier.tagNames(predictions)
            return try texts.indices.map { i in
                try jsonLine([
                    "text": texts[i].text, "words": sentences[i].words, "tags": tags[i],
                    "scores": predictions.wordConfidences[i].map(Double.init),
                ])
            }
        }
    }

    static func jsonLine(_ object: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
    }
}
