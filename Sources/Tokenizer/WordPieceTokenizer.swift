import Foundation

/// The output of `WordPieceTokenizer.encode`, laid out like HF `tokenizers`' `Encoding`.
public struct Encoding: Sendable, Equatable {
    public var ids: [Int32]
    /// 0 for the first sequence (and its `[CLS]`/`[SEP]`), 1 for the pair's second sequence and its `[SEP]`.
    public var typeIds: [Int32]
    public var tokens: [String]
    /// Ranges in Unicode scalars of the original input (Python `str` indices); empty at 0 for added tokens.
    public var offsets: [Range<Int>]
    /// Pre-tokenized word index within its sequence; nil for added `[CLS]`, `[SEP]` and `[PAD]`.
    public var wordIds: [Int32?]
    public var specialTokensMask: [UInt8]
    public var attentionMask: [UInt8]

    public var count: Int { ids.count }
}

/// BERT WordPiece tokenizer with the behavior of HF `tokenizers`' `BertWordPieceTokenizer`: BertNormalizer
/// (clean text, CJK padding, accent stripping and lowercasing when uncased), BertPreTokenizer, WordPiece
/// (`##` continuations, `[UNK]` for words over 100 scalars or that cannot be split), BertProcessing and the
/// WordPiece decoder. `[PAD] [UNK] [CLS] [SEP] [MASK]` written in the input are matched as tokens.
///
/// Normalization works scalar by scalar from a table probed from HF. One whole-string effect of HF's NFD is
/// not reproduced: canonical reordering of adjacent combining marks that survive accent stripping (25 spacing
/// marks with a nonzero combining class, e.g. U+1D165). With the BERT vocabularies a word holding them is
/// `[UNK]` either way, so ids and offsets still agree.
public struct WordPieceTokenizer: Sendable {
    public let vocabulary: Vocabulary
    public let lowercase: Bool
    let tables: TokenizerTables

    public init(vocabulary: Vocabulary, lowercase: Bool = true) {
        self.vocabulary = vocabulary
        self.lowercase = lowercase
        tables = TokenizerTables(vocabulary: vocabulary)
    }

    /// The fast path for the corpus streamer: appends the piece ids of `text` (no special tokens added) and,
    /// per piece, its word index counted from `firstWordId`. Returns the next free word index.
    @discardableResult
    public func appendPieces(of text: Substring, ids: inout [Int32], wordIds: inout [Int32], firstWordId: Int32) -> Int32 {
        var sink = IdSink()
        swap(&sink.ids, &ids)
        swap(&sink.wordIds, &wordIds)
        var text = text
        let nextWordId = text.withUTF8 { run(utf8: $0, firstWordId: firstWordId, sink: &sink) }
        swap(&sink.ids, &ids)
        swap(&sink.wordIds, &wordIds)
        return nextWordId
    }

    func run<Sink: PieceSink>(utf8: UnsafeBufferPointer<UInt8>, firstWordId: Int32, sink: inout Sink) -> Int32 {
        withUnsafeTemporaryAllocation(byteCount: WordScanner<Sink>.scratchByteCount, alignment: 16) { scratch in
            var scanner = WordScanner<Sink>(
                tables: tables, lowercase: lowercase, scratch: scratch.baseAddress!, firstWordId: firstWordId,
                sink: Sink())
            swap(&scanner.sink, &sink)
            scanner.scan(utf8)
            swap(&scanner.sink, &sink)
            return scanner.wordId
        }
    }

    /// Pieces of one sequence with offsets, before special tokens.
    func pieces(of text: String) -> OffsetSink {
        var sink = OffsetSink()
        var text = text
        _ = text.withUTF8 { run(utf8: $0, firstWordId: 0, sink: &sink) }
        return sink
    }

    /// Encodes one sequence or a pair like HF: `[CLS] A [SEP]` / `[CLS] A [SEP] B [SEP]`, truncated to
    /// `maxLength` (special tokens included; pairs longest-first) and right-padded to `padToLength`.
    /// A `maxLength` below the number of added special tokens keeps only those (HF raises an error instead).
    public func encode(
        _ text: String, pair: String? = nil, addSpecialTokens: Bool = true, maxLength: Int? = nil,
        padToLength: Int? = nil
    ) -> Encoding {
        var first = pieces(of: text)
        var second = pair.map { pieces(of: $0) }
        if let maxLength {
            let added = addSpecialTokens ? (second == nil ? 2 : 3) : 0
            let budget = max(0, maxLength - added)
            if var pairPieces = second {
                let (firstLength, secondLength) = Self.longestFirstLengths(first.ids.count, pairPieces.ids.count, budget: budget)
                Self.truncate(&first, to: firstLength)
                Self.truncate(&pairPieces, to: secondLength)
                second = pairPieces
            } else {
                Self.truncate(&first, to: budget)
            }
        }
        var encoding = Encoding(ids: [], typeIds: [], tokens: [], offsets: [], wordIds: [], specialTokensMask: [], attentionMask: [])
        func appendSpecial(_ id: Int32, type: Int32) {
            append(&encoding, id: id, type: type, offset: 0..<0, word: nil, special: 1)
        }
        func appendPieces(_ sequence: OffsetSink, type: Int32) {
            for index in sequence.ids.indices {
                append(&encoding, id: sequence.ids[index], type: type, offset: sequence.offsets[index],
                       word: sequence.wordIds[index], special: 0)
            }
        }
        if addSpecialTokens { appendSpecial(vocabulary.clsId, type: 0) }
        appendPieces(first, type: 0)
        if addSpecialTokens { appendSpecial(vocabulary.sepId, type: 0) }
        if let second {
            appendPieces(second, type: 1)
            if addSpecialTokens { appendSpecial(vocabulary.sepId, type: 1) }
        }
        if let padToLength {
            while encoding.count < padToLength {
                append(&encoding, id: vocabulary.padId, type: 0, offset: 0..<0, word: nil, special: 1)
                encoding.attentionMask[encoding.count - 1] = 0
            }
        }
        return encoding
    }

    private func append(_ encoding: inout Encoding, id: Int32, type: Int32, offset: Range<Int>, word: Int32?, special: UInt8) {
        encoding.ids.append(id)
        encoding.typeIds.append(type)
        encoding.tokens.append(vocabulary.token(of: id))
        encoding.offsets.append(offset)
        encoding.wordIds.append(word)
        encoding.specialTokensMask.append(special)
        encoding.attentionMask.append(1)
    }

    /// HF's longest-first split of a pair's budget: no cut when both fit; otherwise the shorter sequence keeps
    /// its length if it takes at most half, else the shorter gets half (rounded down) and the longer the rest.
    static func longestFirstLengths(_ first: Int, _ second: Int, budget: Int) -> (Int, Int) {
        if first + second <= budget { return (first, second) }
        let shorter = min(first, second)
        let shorterKept = shorter > budget / 2 ? budget / 2 : shorter
        let longerKept = shorter > budget / 2 ? shorterKept + budget % 2 : budget - shorter
        return first <= second ? (shorterKept, longerKept) : (longerKept, shorterKept)
    }

    private static func truncate(_ sequence: inout OffsetSink, to length: Int) {
        guard sequence.ids.count > length else { return }
        sequence.ids.removeSubrange(length...)
        sequence.wordIds.removeSubrange(length...)
        sequence.offsets.removeSubrange(length...)
    }

    /// HF's WordPiece decoder (`cleanup=True`): `##` pieces glue to the previous token, others get a space,
    /// and each token is cleaned of a space before `. ? ! ,` and of the English contraction spacings.
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool = true) -> String {
        var output = ""
        var position = 0
        for id in ids {
            guard vocabulary.tokens.indices.contains(Int(id)) else { continue }
            if skipSpecialTokens && vocabulary.specialIds.contains(id) { continue }
            // Compare bytes, not Characters: "##" + a combining mark is one Character.
            var token = Array(vocabulary.tokens[Int(id)].utf8)
            if position > 0 {
                if token.starts(with: [UInt8(ascii: "#"), UInt8(ascii: "#")]) {
                    token.removeFirst(2)
                } else {
                    token.insert(UInt8(ascii: " "), at: 0)
                }
            }
            output += String(decoding: Self.cleanUp(token), as: UTF8.self)
            position += 1
        }
        return output
    }

    private static let cleanUpReplacements: [([UInt8], [UInt8])] = [
        (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
        (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"),
    ].map { (Array($0.0.utf8), Array($0.1.utf8)) }

    /// Byte-wise replacements in order, like Rust's `str::replace` chain in HF.
    private static func cleanUp(_ token: [UInt8]) -> [UInt8] {
        var bytes = token
        for (pattern, replacement) in cleanUpReplacements where bytes.count >= pattern.count {
            var result: [UInt8] = []
            var index = 0
            var changed = false
            while index < bytes.count {
                if index + pattern.count <= bytes.count, bytes[index..<index + pattern.count].elementsEqual(pattern) {
                    result.append(contentsOf: replacement)
                    index += pattern.count
                    changed = true
                } else {
                    result.append(bytes[index])
                    index += 1
                }
            }
            if changed { bytes = result }
        }
        return bytes
    }
}
