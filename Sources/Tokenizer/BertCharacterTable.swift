/// How HF's BertNormalizer and BertPreTokenizer treat each Unicode scalar, from the generated data in
/// `BertCharacterTableData.swift` (probed from the reference, so the Unicode version matches it).
struct BertCharacterKind: OptionSet, Sendable {
    let rawValue: UInt8
    /// Dropped by clean-text (control, format, NUL, U+FFFD, …).
    static let removed = BertCharacterKind(rawValue: 1)
    /// Turned into a space by clean-text.
    static let whitespace = BertCharacterKind(rawValue: 2)
    /// CJK ideograph: padded with spaces, so it always stands as its own word.
    static let cjk = BertCharacterKind(rawValue: 4)
    /// Uncased mode: stripping accents drops it (a non-spacing mark).
    static let uncasedRemoved = BertCharacterKind(rawValue: 8)
    /// Uncased mode: NFD, accent stripping and lowercasing replace it (see `uncasedMapping`).
    static let uncasedMapped = BertCharacterKind(rawValue: 16)
    /// The pre-tokenizer isolates it as a word of its own.
    static let punctuation = BertCharacterKind(rawValue: 32)
    /// The pre-tokenizer splits on it and drops it.
    static let splitsWords = BertCharacterKind(rawValue: 64)
}

/// The compact generated data expanded at first use into what the scanner's loops index directly:
/// a kind byte per scalar and a dictionary of uncased replacements.
final class BertCharacterTable: @unchecked Sendable {
    static let shared = BertCharacterTable()

    /// One kind byte per scalar value, 0...0x10FFFF. Immutable after `init`.
    let kinds: UnsafeMutableBufferPointer<UInt8>
    /// Uncased replacement of scalar `s`: `mappedScalars[start..<start+count]` where `(start, count)` is
    /// `mappingRanges[s]`.
    let mappingRanges: [UInt32: (start: Int32, count: Int32)]
    let mappedScalars: [UInt32]

    private init() {
        kinds = .allocate(capacity: 0x110000)
        let runs = Self.tokens(Self.kindRuns).map { token in
            let fields = Self.fields(token, separator: ":")
            guard fields.count == 2 else { preconditionFailure("malformed kind run \(token)") }
            return (start: fields[0], kind: UInt8(fields[1]))
        }
        for (position, run) in runs.enumerated() {
            let end = position + 1 < runs.count ? runs[position + 1].start : 0x110000
            UnsafeMutableBufferPointer(rebasing: kinds[run.start..<end]).update(repeating: run.kind)
        }
        var ranges: [UInt32: (start: Int32, count: Int32)] = [:]
        var scalars: [UInt32] = []
        for token in Self.tokens(Self.uncasedMappings) {
            let parts = token.split(separator: ":")
            let start: Int, count: Int, stride: Int, first: [Int], delta: [Int]
            switch parts.count {
            case 2:
                (start, count, stride) = (Self.fields(parts[0])[0], 1, 1)
                first = Self.fields(parts[1], separator: ",")
                delta = first.map { _ in 0 }
            case 5:
                (start, count, stride) = (Self.fields(parts[0])[0], Self.fields(parts[1])[0], Self.fields(parts[2])[0])
                first = Self.fields(parts[3], separator: ",")
                delta = Self.fields(parts[4], separator: ",")
            default:
                preconditionFailure("malformed uncased mapping \(token)")
            }
            for k in 0..<count {
                ranges[UInt32(start + k * stride)] = (Int32(scalars.count), Int32(first.count))
                for (value, step) in zip(first, delta) { scalars.append(UInt32(value + k * step)) }
            }
        }
        mappingRanges = ranges
        mappedScalars = scalars
    }

    @inline(__always) func kind(_ scalar: UInt32) -> BertCharacterKind {
        BertCharacterKind(rawValue: kinds[Int(scalar)])
    }

    private static func tokens(_ text: String) -> [Substring] {
        text.split(whereSeparator: { $0 == " " || $0 == "\n" })
    }

    /// Hex integers (a leading "-" for negative ones) separated by `separator`.
    private static func fields(_ text: Substring, separator: Character = ":") -> [Int] {
        text.split(separator: separator).map { field in
            guard let value = Int(field, radix: 16) else { preconditionFailure("malformed hex field \(field)") }
            return value
        }
    }
}
