import Foundation

/// Receives the word pieces of a text, in order.
protocol PieceSink {
    init()
    /// Whether `start`/`end` are used; when false the scanner skips recording byte origins.
    static var tracksOffsets: Bool { get }
    /// One piece: its id, its word index and its range in Unicode scalars of the original text.
    mutating func append(id: Int32, word: Int32, start: Int, end: Int)
    /// Whether the sink takes whole normalized words (`word(_:)`) instead of WordPiece pieces.
    static var collectsWords: Bool { get }
    mutating func word(_ utf8: UnsafeBufferPointer<UInt8>)
}

extension PieceSink {
    static var collectsWords: Bool { false }
    mutating func word(_ utf8: UnsafeBufferPointer<UInt8>) {}
}

struct IdSink: PieceSink {
    static var tracksOffsets: Bool { false }
    var ids: [Int32] = []
    var wordIds: [Int32] = []

    @inline(__always) mutating func append(id: Int32, word: Int32, start: Int, end: Int) {
        ids.append(id)
        wordIds.append(word)
    }
}

struct OffsetSink: PieceSink {
    static var tracksOffsets: Bool { true }
    var ids: [Int32] = []
    var wordIds: [Int32] = []
    var offsets: [Range<Int>] = []

    mutating func append(id: Int32, word: Int32, start: Int, end: Int) {
        ids.append(id)
        wordIds.append(word)
        offsets.append(start..<end)
    }
}

/// What the ASCII fast path does with a byte; precomputed from `BertCharacterTable` for each mode.
enum ASCIIAction: UInt8 {
    case append, skip, split, punctuation
}

/// Normalizes (BertNormalizer), pre-tokenizes (BertPreTokenizer) and WordPiece-splits one text in a single
/// pass over its UTF-8 bytes. Each word is collected, normalized, in a fixed scratch buffer: a word longer
/// than `maxCharsPerWord` scalars becomes `[UNK]` anyway, so only that many scalars are ever stored.
struct WordScanner<Sink: PieceSink> {
    static var maxCharsPerWord: Int { 100 }
    /// Bytes of scratch the caller provides: see `init(scratch:)`.
    static var scratchByteCount: Int { wordCapacity * (1 + 4 + 4 + 4) + (wordCapacity + 1) * 8 }
    static var wordCapacity: Int { 512 }

    let kinds: UnsafeMutableBufferPointer<UInt8>
    let characters: BertCharacterTable
    let asciiActions: UnsafePointer<ASCIIAction>
    let asciiBytes: UnsafePointer<UInt8>
    /// Keeps the tables that the views below point into alive.
    let tables: TokenizerTables
    let wordStart: ByteTableView
    let continuation: ByteTableView
    let unkId: Int32
    let lowercase: Bool
    let specialTokens: [SpecialToken]

    let word: UnsafeMutablePointer<UInt8>
    let origins: UnsafeMutablePointer<Int32>
    let pieceIds: UnsafeMutablePointer<Int32>
    let pieceEnds: UnsafeMutablePointer<Int32>
    let prefixHashes: UnsafeMutablePointer<UInt64>

    var byteCount = 0
    var charCount = 0
    var firstOrigin = 0
    var lastOrigin = 0
    var wordId: Int32
    var sink: Sink

    init(tables: TokenizerTables, lowercase: Bool, scratch: UnsafeMutableRawPointer, firstWordId: Int32, sink: Sink) {
        kinds = tables.characters.kinds
        characters = tables.characters
        asciiActions = UnsafePointer(lowercase ? tables.uncasedASCIIActions : tables.casedASCIIActions)
        asciiBytes = UnsafePointer(lowercase ? tables.uncasedASCIIBytes : tables.casedASCIIBytes)
        self.tables = tables
        wordStart = tables.index.wordStart.view
        continuation = tables.index.continuation.view
        unkId = tables.unkId
        self.lowercase = lowercase
        specialTokens = tables.specialTokens
        let capacity = Self.wordCapacity
        prefixHashes = scratch.bindMemory(to: UInt64.self, capacity: capacity + 1)
        let afterHashes = scratch + (capacity + 1) * 8
        origins = afterHashes.bindMemory(to: Int32.self, capacity: capacity)
        pieceIds = (afterHashes + capacity * 4).bindMemory(to: Int32.self, capacity: capacity)
        pieceEnds = (afterHashes + capacity * 8).bindMemory(to: Int32.self, capacity: capacity)
        word = (afterHashes + capacity * 12).bindMemory(to: UInt8.self, capacity: capacity)
        wordId = firstWordId
        self.sink = sink
    }

    mutating func scan(_ text: UnsafeBufferPointer<UInt8>) {
        guard let base = text.baseAddress else { return }
        let count = text.count
        var position = 0
        var origin = 0
        while position < count {
            let byte = base[position]
            if byte < 0x80 {
                if byte == UInt8(ascii: "["), let special = matchSpecial(base + position, count - position) {
                    flush()
                    sink.append(id: special.id, word: wordId, start: origin, end: origin + special.bytes.count)
                    wordId += 1
                    position += special.bytes.count
                    origin += special.bytes.count
                    continue
                }
                switch asciiActions[Int(byte)] {
                case .append: appendASCII(asciiBytes[Int(byte)], origin: origin)
                case .skip: break
                case .split: flush()
                case .punctuation:
                    flush()
                    appendASCII(asciiBytes[Int(byte)], origin: origin)
                    flush()
                }
                position += 1
            } else {
                let scalarStart = position
                // Swift strings hold valid UTF-8, so the lead byte gives the length.
                var scalar: UInt32
                if byte < 0xE0 {
                    scalar = UInt32(byte & 0x1F) << 6 | UInt32(base[position + 1] & 0x3F)
                    position += 2
                } else if byte < 0xF0 {
                    scalar = UInt32(byte & 0x0F) << 12 | UInt32(base[position + 1] & 0x3F) << 6
                    scalar |= UInt32(base[position + 2] & 0x3F)
                    position += 3
                } else {
                    scalar = UInt32(byte & 0x07) << 18 | UInt32(base[position + 1] & 0x3F) << 12
                    scalar |= UInt32(base[position + 2] & 0x3F) << 6 | UInt32(base[position + 3] & 0x3F)
                    position += 4
                }
                pushOriginal(scalar, origin: origin, at: scalarStart, in: text)
            }
            origin += 1
        }
        flush()
    }

    private func matchSpecial(_ start: UnsafePointer<UInt8>, _ available: Int) -> SpecialToken? {
        for special in specialTokens where special.bytes.count <= available {
            if special.bytes.withUnsafeBufferPointer({ memcmp($0.baseAddress!, start, $0.count) == 0 }) {
                return special
            }
        }
        return nil
    }

    /// BertNormalizer for one non-ASCII scalar of the original text.
    @inline(__always) private mutating func pushOriginal(_ scalar: UInt32, origin: Int, at byte: Int,
                                                         in text: UnsafeBufferPointer<UInt8>) {
        let kind = BertCharacterKind(rawValue: kinds[Int(scalar)])
        if kind.contains(.removed) { return }
        if kind.contains(.whitespace) {
            flush()
            return
        }
        let isCJK = kind.contains(.cjk)
        if isCJK { flush() }
        if !lowercase {
            pushNormalized(scalar, origin: origin)
        } else if kind.contains(.uncasedMapped), let range = characters.mappingRanges[scalar] {
            for index in Int(range.start)..<Int(range.start + range.count) {
                pushNormalized(characters.mappedScalars[index], origin: origin)
            }
        } else if !kind.contains(.uncasedRemoved) {
            // Only marks at U+0300 and above have a combining class that NFD may reorder.
            let aligned = scalar >= 0x300 && Sink.tracksOffsets
                ? CombiningMarkAlignment.origin(of: scalar, origin: origin, at: byte, in: text, kinds: kinds) : origin
            pushNormalized(scalar, origin: aligned)
        }
        if isCJK { flush() }
    }

    /// BertPreTokenizer for one normalized scalar.
    @inline(__always) private mutating func pushNormalized(_ scalar: UInt32, origin: Int) {
        let kind = BertCharacterKind(rawValue: kinds[Int(scalar)])
        if kind.contains(.splitsWords) {
            flush()
        } else if kind.contains(.punctuation) {
            flush()
            appendScalar(scalar, origin: origin)
            flush()
        } else {
            appendScalar(scalar, origin: origin)
        }
    }

    @inline(__always) private mutating func appendASCII(_ byte: UInt8, origin: Int) {
        if charCount == 0 { firstOrigin = origin }
        lastOrigin = origin
        charCount += 1
        guard charCount <= Self.maxCharsPerWord else { return }
        word[byteCount] = byte
        if Sink.tracksOffsets { origins[byteCount] = Int32(truncatingIfNeeded: origin) }
        byteCount += 1
    }

    private mutating func appendScalar(_ scalar: UInt32, origin: Int) {
        if scalar < 0x80 {
            appendASCII(UInt8(scalar), origin: origin)
            return
        }
        // A reordered combining mark may take an earlier origin than the scalar before it
        // (`CombiningMarkAlignment`): the word spans the least to the greatest.
        if charCount == 0 {
            firstOrigin = origin
            lastOrigin = origin
        } else {
            firstOrigin = min(firstOrigin, origin)
            lastOrigin = max(lastOrigin, origin)
        }
        charCount += 1
        guard charCount <= Self.maxCharsPerWord else { return }
        let start = byteCount
        if scalar < 0x800 {
            word[byteCount] = 0xC0 | UInt8(scalar >> 6)
            word[byteCount + 1] = 0x80 | UInt8(scalar & 0x3F)
            byteCount += 2
        } else if scalar < 0x10000 {
            word[byteCount] = 0xE0 | UInt8(scalar >> 12)
            word[byteCount + 1] = 0x80 | UInt8((scalar >> 6) & 0x3F)
            word[byteCount + 2] = 0x80 | UInt8(scalar & 0x3F)
            byteCount += 3
        } else {
            word[byteCount] = 0xF0 | UInt8(scalar >> 18)
            word[byteCount + 1] = 0x80 | UInt8((scalar >> 12) & 0x3F)
            word[byteCount + 2] = 0x80 | UInt8((scalar >> 6) & 0x3F)
            word[byteCount + 3] = 0x80 | UInt8(scalar & 0x3F)
            byteCount += 4
        }
        if Sink.tracksOffsets {
            for index in start..<byteCount { origins[index] = Int32(truncatingIfNeeded: origin) }
        }
    }

    /// Ends the current word: WordPiece-splits it into the sink.
    @inline(__always) private mutating func flush() {
        guard charCount > 0 else { return }
        if Sink.collectsWords {
            // Words over the limit are not stored in full; they could only ever become [UNK].
            if charCount <= Self.maxCharsPerWord { sink.word(UnsafeBufferPointer(start: word, count: byteCount)) }
        } else if charCount > Self.maxCharsPerWord || !splitWord() {
            sink.append(id: unkId, word: wordId, start: firstOrigin, end: lastOrigin + 1)
        }
        wordId += 1
        byteCount = 0
        charCount = 0
    }

    /// Greedy longest-match-first WordPiece. Returns false when some part of the word matches no token.
    private mutating func splitWord() -> Bool {
        var start = 0
        var pieceCount = 0
        while start < byteCount {
            let table = start == 0 ? wordStart : continuation
            let limit = min(byteCount, start + table.maxLength)
            var hash = fnvSeed
            var end = start
            while end < limit {
                hash = fnvStep(hash, word[end])
                end += 1
                prefixHashes[end] = hash
            }
            var matched: Int32 = -1
            while end > start {
                // Pieces end on scalar boundaries: skip UTF-8 continuation bytes.
                if end == byteCount || word[end] & 0xC0 != 0x80,
                   let id = table.id(hash: prefixHashes[end], key: word + start, length: end - start) {
                    matched = id
                    break
                }
                end -= 1
            }
            if matched < 0 { return false }
            pieceIds[pieceCount] = matched
            pieceEnds[pieceCount] = Int32(end)
            pieceCount += 1
            start = end
        }
        var pieceStart = 0
        for index in 0..<pieceCount {
            let pieceEnd = Int(pieceEnds[index])
            if Sink.tracksOffsets {
                var first = origins[pieceStart], last = origins[pieceEnd - 1]
                for byte in pieceStart..<pieceEnd {
                    first = min(first, origins[byte])
                    last = max(last, origins[byte])
                }
                sink.append(id: pieceIds[index], word: wordId, start: Int(first), end: Int(last) + 1)
            } else {
                sink.append(id: pieceIds[index], word: wordId, start: 0, end: 0)
            }
            pieceStart = pieceEnd
        }
        return true
    }
}

struct SpecialToken: Sendable {
    let bytes: [UInt8]
    let id: Int32
}

/// Lookup tables shared by all copies of a tokenizer. Immutable after `init`.
final class TokenizerTables: @unchecked Sendable {
    let characters = BertCharacterTable.shared
    let index: TokenIndex
    let unkId: Int32
    let specialTokens: [SpecialToken]
    let casedASCIIActions = UnsafeMutablePointer<ASCIIAction>.allocate(capacity: 128)
    let uncasedASCIIActions = UnsafeMutablePointer<ASCIIAction>.allocate(capacity: 128)
    let casedASCIIBytes = UnsafeMutablePointer<UInt8>.allocate(capacity: 128)
    let uncasedASCIIBytes = UnsafeMutablePointer<UInt8>.allocate(capacity: 128)

    convenience init(vocabulary: Vocabulary) {
        self.init(
            index: vocabulary.index, unkId: vocabulary.unkId,
            specialTokens: vocabulary.specialIds.sorted().map { SpecialToken(bytes: Array(vocabulary.token(of: $0).utf8), id: $0) })
    }

    init(index: TokenIndex, unkId: Int32, specialTokens: [SpecialToken]) {
        self.index = index
        self.unkId = unkId
        self.specialTokens = specialTokens
        for byte in 0..<128 {
            let kind = characters.kind(UInt32(byte))
            var uncasedByte = UInt32(byte)
            if kind.contains(.uncasedMapped), let range = characters.mappingRanges[UInt32(byte)], range.count == 1 {
                uncasedByte = characters.mappedScalars[Int(range.start)]
            }
            for (actions, bytes, normalized) in [(casedASCIIActions, casedASCIIBytes, UInt32(byte)),
                                                 (uncasedASCIIActions, uncasedASCIIBytes, uncasedByte)] {
                let normalizedKind = characters.kind(normalized)
                let action: ASCIIAction
                if kind.contains(.removed) || (actions == uncasedASCIIActions && kind.contains(.uncasedRemoved)) {
                    action = .skip
                } else if kind.contains(.whitespace) || normalizedKind.contains(.splitsWords) {
                    action = .split
                } else if normalizedKind.contains(.punctuation) {
                    action = .punctuation
                } else {
                    action = .append
                }
                actions[byte] = action
                bytes[byte] = UInt8(truncatingIfNeeded: normalized)
            }
        }
    }

    deinit {
        casedASCIIActions.deallocate()
        uncasedASCIIActions.deallocate()
        casedASCIIBytes.deallocate()
        uncasedASCIIBytes.deallocate()
    }
}

/// The origin HF gives a combining mark that accent stripping keeps (a spacing mark with a combining
/// class, such as U+302E, class 224). HF's uncased normalizer runs NFD over the whole text, which sorts
/// each run of combining marks by class (stable), while each output scalar keeps its "change" (0: the
/// first scalar of an original's decomposition, +1: one more of it). Alignments are then dealt out
/// positionally: a change-0 scalar takes the next original's place, a +1 scalar repeats the previous
/// one. So a mark that the sort moves takes the origin of the original whose turn it is there. Accent
/// stripping drops the non-spacing marks afterwards, but their places counted. Rare, so computed from
/// the text around the mark when met, with Foundation's NFD.
enum CombiningMarkAlignment {
    /// One scalar of the NFD run: its combining class, the original it came from, and whether it is
    /// the first scalar of that original's decomposition.
    private struct Element {
        let combiningClass: UInt8
        let origin: Int
        let first: Bool
    }

    static func origin(of scalar: UInt32, origin: Int, at byte: Int, in text: UnsafeBufferPointer<UInt8>,
                       kinds: UnsafeMutableBufferPointer<UInt8>) -> Int {
        guard let mark = Unicode.Scalar(scalar) else { return origin }
        let markClass = mark.properties.canonicalCombiningClass.rawValue
        guard markClass != 0 else { return origin }
        // The run's marks before this one (back to the last starter), and after it (up to the next).
        var before: [Element] = []
        var index = byte, previousOrigin = origin
        while index > 0 {
            var start = index - 1
            while start > 0, text[start] & 0xC0 == 0x80 { start -= 1 }
            previousOrigin -= 1
            index = start
            guard let previous = decode(text, at: start) else { break }
            if removedByCleaning(previous, kinds) { continue }
            let decomposed = nfd(previous)
            let marks = decomposed.reversed().prefix { $0.properties.canonicalCombiningClass.rawValue != 0 }.count
            before.insert(contentsOf: decomposed.indices.suffix(marks).map {
                Element(combiningClass: decomposed[$0].properties.canonicalCombiningClass.rawValue,
                        origin: previousOrigin, first: $0 == 0)
            }, at: 0)
            if marks < decomposed.count { break }
        }
        var after: [Element] = []
        index = byte + UTF8.width(mark)
        var nextOrigin = origin
        while index < text.count, let next = decode(text, at: index) {
            index += UTF8.width(next)
            nextOrigin += 1
            if removedByCleaning(next, kinds) { continue }
            let decomposed = nfd(next)
            let marks = decomposed.prefix { $0.properties.canonicalCombiningClass.rawValue != 0 }.count
            after += decomposed.indices.prefix(marks).map {
                Element(combiningClass: decomposed[$0].properties.canonicalCombiningClass.rawValue,
                        origin: nextOrigin, first: $0 == 0)
            }
            if marks < decomposed.count { break }
        }
        // Sort the run as NFD does, count the originals dealt out up to this mark, and take that one's origin.
        let run = before + [Element(combiningClass: markClass, origin: origin, first: true)] + after
        let sorted = run.indices.sorted { (run[$0].combiningClass, $0) < (run[$1].combiningClass, $1) }
        let turn = sorted.prefix { $0 != before.count }.count { run[$0].first }
        return run.filter(\.first)[turn].origin
    }

    /// HF's clean_text drops these before NFD, so they take no place in a run.
    private static func removedByCleaning(_ scalar: Unicode.Scalar, _ kinds: UnsafeMutableBufferPointer<UInt8>) -> Bool {
        BertCharacterKind(rawValue: kinds[Int(scalar.value)]).contains(.removed)
    }

    private static func nfd(_ scalar: Unicode.Scalar) -> [Unicode.Scalar] {
        Array(String(Character(scalar)).decomposedStringWithCanonicalMapping.unicodeScalars)
    }

    private static func decode(_ text: UnsafeBufferPointer<UInt8>, at index: Int) -> Unicode.Scalar? {
        var iterator = text[index...].makeIterator()
        var decoder = UTF8()
        if case .scalarValue(let scalar) = decoder.decode(&iterator) { return scalar }
        return nil
    }
}
