import Foundation

/// Labels (or BIO tags and entity spans) for new text from a fine-tuned checkpoint, as JSON lines.
public enum Predictor {
    /// One JSON object per input text, in order, each with `index` (0-based position of the text) and `text`.
    /// A sequence classifier adds `label`, its `score` and `probabilities` ({label: p}); a token classifier adds
    /// `words` (the text split at whitespace), `tags` and `scores` per word (words past the maximum length get
    /// `O` and score 0), and `entities`: the BIO chunks (seqeval's rules) as `{type, start, end, char_start,
    /// char_end, text}`, word indices and Unicode-scalar offsets into `text`, both end-exclusive. A blank text
    /// gets `label`/`score` null (empty lists for a token classifier), so the output keeps one line per input line.
    public static func predict(
        _ texts: [TextExample], with loaded: LoadedClassifier, maxSeqLength: Int, batchSize: Int
    ) throws -> [String] {
        let maxLength = min(maxSeqLength, loaded.model.config.maxPositionEmbeddings)
        let classifier = try Classifier(
            kind: loaded.kind, model: loaded.model, labels: loaded.labels, batchSize: batchSize, maxSeqLength: maxLength)
        let filled = texts.indices.filter { !texts[$0].text.allSatisfy(\.isWhitespace) }
        var objects: [[String: Any]] = texts.enumerated().map { index, text in ["index": index, "text": text.text] }
        switch loaded.kind {
        case .sequence:
            let encoded = TaskEncoder.encode(filled.map { texts[$0] }, labels: nil, tokenizer: loaded.tokenizer, maxLength: maxLength)
            let predictions = try classifier.predict(encoded)
            return try sequenceLines(
                texts, probabilities: Dictionary(uniqueKeysWithValues: zip(filled, predictions.probabilities)),
                names: loaded.labels.names)
        case .token:
            let split = filled.map { Words(texts[$0].text) }
            let sentences = zip(filled, split).map { index, words in
                TaggedSentence(words: words.words, tags: words.words.map { _ in "O" }, line: texts[index].line)
            }
            let encoded = try TaskEncoder.encode(
                sentences, labels: nil, tokenizer: loaded.tokenizer, maxLength: maxLength, path: "input")
            let predictions = try classifier.predict(encoded)
            let tags = classifier.tagNames(predictions)
            for index in texts.indices {
                objects[index].merge(["words": [String](), "tags": [String](), "scores": [Double](), "entities": [Any]()]) { $1 }
            }
            for (row, index) in filled.enumerated() {
                objects[index]["words"] = split[row].words
                objects[index]["tags"] = tags[row]
                objects[index]["scores"] = predictions.wordConfidences[row].map(Double.init)
                objects[index]["entities"] = split[row].entities(tags: tags[row])
            }
        }
        return try objects.map(jsonLine)
    }

    /// A sequence classifier's lines: `probabilities` holds the class probabilities of each text that has
    /// one (by index); the others (blank texts) get `label` and `score` null and no probabilities. The label
    /// is the most probable class (the first of equals).
    public static func sequenceLines(_ texts: [TextExample], probabilities: [Int: [Float]], names: [String]) throws -> [String] {
        try texts.enumerated().map { index, text in
            var object: [String: Any] = [
                "index": index, "text": text.text, "label": NSNull(), "score": NSNull(), "probabilities": [String: Double](),
            ]
            if let p = probabilities[index] {
                let best = Classifier.argmax(p)
                object["label"] = names[best]
                object["score"] = Double(p[best])
                object["probabilities"] = Dictionary(uniqueKeysWithValues: zip(names, p.map(Double.init)))
            }
            return try jsonLine(object)
        }
    }

    /// A text split at whitespace, with each word's Unicode-scalar range in the text.
    struct Words {
        var text: String
        var words: [String] = []
        var ranges: [Range<Int>] = []

        init(_ text: String) {
            self.text = text
            var start: Int?, offset = 0, current = ""
            for scalar in text.unicodeScalars {
                if scalar.properties.isWhitespace {
                    if let s = start { words.append(current); ranges.append(s..<offset); start = nil; current = "" }
                } else {
                    if start == nil { start = offset }
                    current.unicodeScalars.append(scalar)
                }
                offset += 1
            }
            if let s = start { words.append(current); ranges.append(s..<offset) }
        }

        func entities(tags: [String]) -> [[String: Any]] {
            let scalars = Array(text.unicodeScalars)
            return EntityMetrics.entities(in: tags).map { span in
                let chars = ranges[span.start].lowerBound..<ranges[span.end].upperBound
                var text = ""
                text.unicodeScalars.append(contentsOf: scalars[chars])
                return ["type": span.type, "start": span.start, "end": span.end + 1, "char_start": chars.lowerBound,
                        "char_end": chars.upperBound, "text": text]
            }
        }
    }

    static func jsonLine(_ object: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
    }
}
