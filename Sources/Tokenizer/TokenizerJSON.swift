import Foundation

extension WordPieceTokenizer {
    /// This tokenizer as an HF `tokenizers` `tokenizer.json`: the pipeline `BertWordPieceTokenizer(vocab,
    /// lowercase:)` saves (BertNormalizer, BertPreTokenizer, WordPiece, BertProcessing, WordPiece decoder),
    /// which `Tokenizer.from_file` and `AutoTokenizer.from_pretrained` load and which gives our ids.
    public func huggingFaceJSON() throws -> String {
        let specials = [vocabulary.padId, vocabulary.unkId, vocabulary.clsId, vocabulary.sepId, vocabulary.maskId].sorted()
        let addedTokens: [[String: Any]] = specials.map { id in
            ["id": Int(id), "content": vocabulary.tokens[Int(id)], "single_word": false, "lstrip": false, "rstrip": false,
             "normalized": false, "special": true]
        }
        // `Vocabulary` refuses duplicate tokens, so every token has one id.
        let vocab = Dictionary(uniqueKeysWithValues: vocabulary.tokens.enumerated().map { ($0.element, $0.offset) })
        let object: [String: Any] = [
            "version": "1.0",
            "truncation": NSNull(),
            "padding": NSNull(),
            "added_tokens": addedTokens,
            "normalizer": [
                "type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                // null: strip accents exactly when lowercasing, as we do.
                "strip_accents": NSNull(), "lowercase": lowercase,
            ] as [String: Any],
            "pre_tokenizer": ["type": "BertPreTokenizer"],
            "post_processor": [
                "type": "BertProcessing",
                "sep": ["[SEP]", Int(vocabulary.sepId)] as [Any],
                "cls": ["[CLS]", Int(vocabulary.clsId)] as [Any],
            ] as [String: Any],
            "decoder": ["type": "WordPiece", "prefix": "##", "cleanup": true] as [String: Any],
            "model": [
                "type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                "max_input_chars_per_word": WordScanner<WordCollector>.maxCharsPerWord, "vocab": vocab,
            ] as [String: Any],
        ]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
