import Foundation

/// A WordPiece vocabulary: one token per line, the line number (from 0) is the id.
public struct Vocabulary: Sendable {
    public let tokens: [String]
    public let padId: Int32
    public let unkId: Int32
    public let clsId: Int32
    public let sepId: Int32
    public let maskId: Int32
    /// The BERT special tokens that HF `BertWordPieceTokenizer` registers as special: `[PAD] [UNK] [CLS]
    /// [SEP] [MASK]`. They are matched verbatim in input text and skipped by `decode`.
    public let specialIds: Set<Int32>
    /// Byte-keyed lookup tables for the tokenizer's hot path.
    let index: TokenIndex

    public var count: Int { tokens.count }

    static let requiredSpecialTokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

    /// Reads a `vocab.txt`. Like HF, trailing whitespace (`\r` included) is trimmed from each line.
    public init(contentsOf url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw VocabularyError(file: url.path, line: nil, message: "cannot read the file (\(error.localizedDescription))")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            let lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            let bad = lines.firstIndex { String(data: Data($0), encoding: .utf8) == nil }
            throw VocabularyError(file: url.path, line: bad.map { $0 + 1 }, message: "not valid UTF-8")
        }
        // Split on scalars, not Characters: "\r\n" is one Character.
        var lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            var scalars = line
            while let last = scalars.last, last.properties.isWhitespace { scalars = scalars.dropLast() }
            return String(Substring(scalars))
        }
        if lines.last == "" { lines.removeLast() }
        try self.init(tokens: lines, file: url.path)
    }

    /// - Parameter file: where the tokens came from, named by errors (nil: "vocabulary").
    public init(tokens: [String], file: String? = nil) throws {
        var ids: [String: Int32] = [:]
        ids.reserveCapacity(tokens.count)
        for (position, token) in tokens.enumerated() {
            if token.isEmpty {
                throw VocabularyError(file: file, line: position + 1, message: "empty token")
            }
            if let first = ids[token] {
                throw VocabularyError(
                    file: file, line: position + 1, message: "duplicate token \"\(token)\" (first on line \(first + 1))")
            }
            ids[token] = Int32(position)
        }
        let missing = Self.requiredSpecialTokens.filter { ids[$0] == nil }
        guard missing.isEmpty, let pad = ids["[PAD]"], let unk = ids["[UNK]"], let cls = ids["[CLS]"],
              let sep = ids["[SEP]"], let mask = ids["[MASK]"]
        else {
            throw VocabularyError(
                file: file, line: nil, message: "missing special token(s) \(missing.joined(separator: " "))")
        }
        self.tokens = tokens
        padId = pad
        unkId = unk
        clsId = cls
        sepId = sep
        maskId = mask
        specialIds = [pad, unk, cls, sep, mask]
        index = TokenIndex(tokens: tokens)
    }

    public func id(of token: String) -> Int32? {
        Array(token.utf8).withUnsafeBufferPointer { index.wordStart.id(of: $0) }
    }

    /// The token for `id`, or `[UNK]` for an id outside the vocabulary.
    public func token(of id: Int32) -> String {
        tokens.indices.contains(Int(id)) ? tokens[Int(id)] : tokens[Int(unkId)]
    }
}

public struct VocabularyError: Error, CustomStringConvertible, Sendable {
    public let file: String?
    public let line: Int?
    public let message: String

    public var description: String {
        let place = [file ?? "vocabulary", line.map { "line \($0)" }].compactMap { $0 }.joined(separator: ", ")
        return "\(place): \(message)"
    }
}

/// Two open-addressing hash tables over token UTF-8 bytes: word-initial tokens (all tokens, as written) and
/// continuation tokens (those starting with `##`, keyed without the prefix). Lookups take a byte
/// pointer and a precomputed hash, so the WordPiece loop never builds a `String`.
final class TokenIndex: Sendable {
    let wordStart: ByteTable
    let continuation: ByteTable

    init(tokens: [String]) {
        var starts: [([UInt8], Int32)] = []
        var continuations: [([UInt8], Int32)] = []
        for (id, token) in tokens.enumerated() {
            let bytes = Array(token.utf8)
            starts.append((bytes, Int32(id)))
            if bytes.count > 2, bytes[0] == UInt8(ascii: "#"), bytes[1] == UInt8(ascii: "#") {
                continuations.append((Array(bytes[2...]), Int32(id)))
            }
        }
        wordStart = ByteTable(entries: starts)
        continuation = ByteTable(entries: continuations)
    }
}

/// FNV-1a over bytes; the WordPiece loop extends it byte by byte to get the hash of every prefix.
@inline(__always) func fnvStep(_ hash: UInt64, _ byte: UInt8) -> UInt64 {
    (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
}
let fnvSeed: UInt64 = 0xCBF2_9CE4_8422_2325

/// Immutable after `init`, so sharing it across threads is safe.
final class ByteTable: @unchecked Sendable {
    struct Slot {
        var id: Int32
        var offset: UInt32
        var length: UInt32
    }
    /// Probed first, 4 bytes per slot so the probe stays in cache: `tag(hash, length)`, or 0 for an empty slot.
    let tags: UnsafeMutableBufferPointer<UInt32>
    let slots: UnsafeMutableBufferPointer<Slot>
    let bytes: UnsafeMutableBufferPointer<UInt8>
    let mask: Int
    /// Longest key in bytes: the WordPiece loop never tries a longer piece.
    let maxLength: Int

    init(entries: [([UInt8], Int32)]) {
        var capacity = 16
        while capacity < entries.count * 2 { capacity *= 2 }
        tags = .allocate(capacity: capacity)
        tags.initialize(repeating: 0)
        slots = .allocate(capacity: capacity)
        slots.initialize(repeating: Slot(id: 0, offset: 0, length: 0))
        mask = capacity - 1
        let total = entries.reduce(0) { $0 + $1.0.count }
        bytes = .allocate(capacity: max(total, 1))
        var offset = 0
        var longest = 0
        for (key, id) in entries {
            _ = UnsafeMutableBufferPointer(rebasing: bytes[offset..<offset + key.count]).initialize(from: key)
            var hash = fnvSeed
            for byte in key { hash = fnvStep(hash, byte) }
            var position = Int(truncatingIfNeeded: hash) & mask
            while tags[position] != 0 { position = (position + 1) & mask }
            tags[position] = ByteTableView.tag(hash: hash, length: key.count)
            slots[position] = Slot(id: id, offset: UInt32(offset), length: UInt32(key.count))
            offset += key.count
            longest = max(longest, key.count)
        }
        maxLength = longest
    }

    deinit {
        tags.deallocate()
        slots.deallocate()
        bytes.deallocate()
    }

    /// A reference-count-free handle for the hot loop; valid while this table lives.
    var view: ByteTableView {
        ByteTableView(tags: UnsafePointer(tags.baseAddress!), slots: UnsafePointer(slots.baseAddress!), bytes: UnsafePointer(bytes.baseAddress!), mask: mask, maxLength: maxLength)
    }

    func id(of key: UnsafeBufferPointer<UInt8>) -> Int32? {
        guard let base = key.baseAddress, !key.isEmpty else { return nil }
        var hash = fnvSeed
        for byte in key { hash = fnvStep(hash, byte) }
        return view.id(hash: hash, key: base, length: key.count)
    }
}

struct ByteTableView {
    let tags: UnsafePointer<UInt32>
    let slots: UnsafePointer<ByteTable.Slot>
    let bytes: UnsafePointer<UInt8>
    let mask: Int
    let maxLength: Int

    /// High hash bits and the length (capped at 255), never 0 since keys are not empty.
    @inline(__always) static func tag(hash: UInt64, length: Int) -> UInt32 {
        UInt32(truncatingIfNeeded: hash >> 40) << 8 | UInt32(min(length, 255))
    }

    @inline(__always) func id(hash: UInt64, key: UnsafePointer<UInt8>, length: Int) -> Int32? {
        let wanted = Self.tag(hash: hash, length: length)
        var position = Int(truncatingIfNeeded: hash) & mask
        while true {
            let tag = tags[position]
            if tag == 0 { return nil }
            if tag == wanted {
                let slot = slots[position]
                if Int(slot.length) == length, Self.equal(bytes + Int(slot.offset), key, length) { return slot.id }
            }
            position = (position + 1) & mask
        }
    }

    /// Tokens are short: compare 8 bytes at a time inline rather than calling memcmp.
    @inline(__always) static func equal(_ lhs: UnsafePointer<UInt8>, _ rhs: UnsafePointer<UInt8>, _ count: Int) -> Bool {
        var index = 0
        while index + 8 <= count {
            let left = UnsafeRawPointer(lhs + index).loadUnaligned(as: UInt64.self)
            let right = UnsafeRawPointer(rhs + index).loadUnaligned(as: UInt64.self)
            if left != right { return false }
            index += 8
        }
        while index < count {
            if lhs[index] != rhs[index] { return false }
            index += 1
        }
        return true
    }
}
