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
        var runStarts: [(UInt32, UInt8)] = []
        for line in Self.runLines.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 2, let start = UInt32(fields[0], radix: 16), let kind = UInt8(fields[1], radix: 16) {
                runStarts.append((start, kind))
            }
        }
        for (position, (start, kind)) in runStarts.enumerated() {
            let end = position + 1 < runStarts.count ? Int(runStarts[position + 1].0) : 0x110000
            UnsafeMutableBufferPointer(rebasing: kinds[Int(start)..<end]).update(repeating: kind)
        }
        var ranges: [UInt32: (start: Int32, count: Int32)] = [:]
        var scalars: [UInt32] = []
        for line in Self.uncasedMappingLines.split(separator: "\n") {
            let values = line.split(separator: " ").compactMap { UInt32($0, radix: 16) }
            guard let source = values.first else { continue }
            ranges[source] = (Int32(scalars.count), Int32(values.count - 1))
            scalars.append(contentsOf: values.dropFirst())
        }
        mappingRanges = ranges
        mappedScalars = scalars
    }

    @inline(__always) func kind(_ scalar: UInt32) -> BertCharacterKind {
        BertCharacterKind(rawValue: kinds[Int(scalar)])
    }
}
