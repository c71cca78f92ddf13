import Tokenizer

public enum TaskEncoder {
    /// Tokenizes texts (and pairs) with `[CLS] a [SEP] (b [SEP])`, cut to `maxLength` as HF's
    /// `truncation=True` (longest-first).
    public static func encode(
        _ examples: [TextExample], labels: [Int32]?, tokenizer: WordPieceTokenizer, maxLength: Int
    ) -> [EncodedExample] {
        examples.indices.map { index in
            let example = examples[index]
            let full = tokenizer.encode(example.text, pair: example.pair)
            let encoding = full.ids.count > maxLength
                ? tokenizer.encode(example.text, pair: example.pair, maxLength: maxLength) : full
            return EncodedExample(
                ids: encoding.ids, typeIds: encoding.typeIds, label: labels?[index] ?? HeadKernels.ignoredLabel,
                tokenLabels: [], wordIds: [], wordCount: 0, truncated: full.ids.count > maxLength)
        }
    }

    /// Tokenizes pre-split words as HF's `is_split_into_words=True`: every piece of word k has word id k
    /// (even when the pre-tokenizer splits the word further), the first piece carries the word's tag and
    /// the others -100, as `run_ner.py` with `label_all_tokens=False`. Pieces past `maxLength - 2` are cut.
    public static func encode(
        _ sentences: [TaggedSentence], labels: LabelSet?, tokenizer: WordPieceTokenizer, maxLength: Int, path: String
    ) throws -> [EncodedExample] {
        let vocabulary = tokenizer.vocabulary
        var pieceIds: [Int32] = [], pieceWords: [Int32] = []
        var scratchWords: [Int32] = []
        return try sentences.map { sentence in
            pieceIds.removeAll(keepingCapacity: true)
            pieceWords.removeAll(keepingCapacity: true)
            for (wordIndex, word) in sentence.words.enumerated() {
                let before = pieceIds.count
                // A word that normalises to nothing (control characters only) gets no piece, as in HF, and is predicted O.
                _ = tokenizer.appendPieces(of: word[...], ids: &pieceIds, wordIds: &scratchWords, firstWordId: 0)
                pieceWords.append(contentsOf: repeatElement(Int32(wordIndex), count: pieceIds.count - before))
            }
            scratchWords.removeAll(keepingCapacity: true)
            let kept = min(pieceIds.count, max(0, maxLength - 2))
            var ids: [Int32] = [vocabulary.clsId], wordIds: [Int32] = [-1]
            ids.append(contentsOf: pieceIds[..<kept]); wordIds.append(contentsOf: pieceWords[..<kept])
            ids.append(vocabulary.sepId); wordIds.append(-1)
            var tokenLabels = [Int32](repeating: HeadKernels.ignoredLabel, count: ids.count)
            if let labels {
                var previousWord: Int32 = -1
                for (position, word) in wordIds.enumerated() where word >= 0 && word != previousWord {
                    previousWord = word
                    let tag = sentence.tags[Int(word)]
                    guard let id = labels.id(of: tag) else {
                        throw ClassificationError.unknownLabel(
                            "\(path):\(sentence.line + Int(word)): tag '\(tag)' is not among the training tags (\(labels.names.joined(separator: ", ")))")
                    }
                    tokenLabels[position] = Int32(id)
                }
            }
            return EncodedExample(
                ids: ids, typeIds: [Int32](repeating: 0, count: ids.count), label: HeadKernels.ignoredLabel,
                tokenLabels: tokenLabels, wordIds: wordIds, wordCount: sentence.words.count, truncated: kept < pieceIds.count)
        }
    }
}
