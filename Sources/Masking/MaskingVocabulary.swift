import Tokenizer

/// What masking needs to know of the vocabulary: the `[MASK]` id and the ids a random replacement
/// may take. Kept apart from `Tokenizer.Vocabulary` so masking can run on any id space.
public struct MaskingVocabulary: Sendable, Equatable {
    public let size: Int
    public let maskId: Int32
    /// Every id that is not special, ascending: random replacements are drawn uniformly from these.
    /// (HF draws from the whole vocabulary, `[CLS]`, `[PAD]` and `[unusedN]` included.)
    public let replacementIds: [Int32]

    /// - Parameter specialIds: ids never used as a random replacement (`[PAD] [UNK] [CLS] [SEP] [MASK]`
    ///   and `[unusedN]`: all `[...]`-style tokens of the vocabulary).
    public init(size: Int, maskId: Int32, specialIds: Set<Int32>) throws(MaskingError) {
        guard size > 0, size <= Int(Int32.max) else {
            throw .invalidVocabulary("size \(size) is not a positive Int32 count")
        }
        guard maskId >= 0, Int(maskId) < size else {
            throw .invalidVocabulary("[MASK] id \(maskId) lies outside 0..<\(size)")
        }
        var replacements = [Int32]()
        replacements.reserveCapacity(size)
        for id in 0..<Int32(size) where !specialIds.contains(id) && id != maskId {
            replacements.append(id)
        }
        guard !replacements.isEmpty else {
            throw .invalidVocabulary("all \(size) ids are special, so none can serve as a random replacement")
        }
        self.size = size
        self.maskId = maskId
        self.replacementIds = replacements
    }
}

extension MaskingVocabulary {
    /// From a WordPiece vocabulary: its `[MASK]`, with its special ids and every other `[...]`-style
    /// token (`[unusedN]`, which never occurs in text) kept out of random replacements.
    public init(_ vocabulary: Vocabulary) throws(MaskingError) {
        var excluded = vocabulary.specialIds
        for (id, token) in vocabulary.tokens.enumerated() where token.count > 2 && token.first == "[" && token.last == "]" {
            excluded.insert(Int32(id))
        }
        try self.init(size: vocabulary.count, maskId: vocabulary.maskId, specialIds: excluded)
    }
}
