import Foundation

/// Whether corpus files are text. The streamer decodes invalid UTF-8 as U+FFFD so that reading never
/// fails mid-run; a training run checks its files first (`firstNonText`) and refuses binary or
/// mis-encoded input by file, line and byte, as HF `datasets` refuses such a file with a decode error.
public enum TextCheck {
    /// Where a corpus file stops being UTF-8 text.
    public struct Problem: Equatable, Sendable, CustomStringConvertible {
        public enum Kind: Equatable, Sendable { case invalidUTF8, nulByte }
        public let file: String
        public let line: Int
        /// Offset of the offending byte from the start of the (uncompressed) file.
        public let byteOffset: Int64
        public let kind: Kind

        public var description: String {
            switch kind {
            case .invalidUTF8:
                return "corpus file \(file) is not UTF-8 text: line \(line) (byte \(byteOffset)) holds invalid UTF-8; "
                    + "convert it (for example iconv -f latin1 -t utf-8) or leave the file out"
            case .nulByte:
                return "corpus file \(file) is not text: line \(line) (byte \(byteOffset)) holds a NUL byte (binary data?); "
                    + "leave the file out"
            }
        }
    }

    /// The first non-text byte in `files`, in order, or nil when all are UTF-8 text.
    public static func firstProblem(in files: [String]) throws -> Problem? {
        for file in files {
            let reader = try LineReader(path: file, position: .start)
            var lineStart = reader.position.offset
            while let (bytes, number) = try reader.nextLine() {
                if let (index, kind) = firstNonText(bytes) {
                    return Problem(file: file, line: number, byteOffset: lineStart + Int64(index), kind: kind)
                }
                lineStart = reader.position.offset
            }
        }
        return nil
    }

    /// The index of the first byte that is NUL or not part of a well-formed UTF-8 sequence (RFC 3629:
    /// no overlong forms, no surrogates, nothing above U+10FFFF).
    static func firstNonText(_ bytes: UnsafeBufferPointer<UInt8>) -> (Int, Problem.Kind)? {
        var i = 0
        let count = bytes.count
        while i < count {
            let lead = bytes[i]
            if lead == 0 { return (i, .nulByte) }
            if lead < 0x80 { i += 1; continue }
            let length: Int, low: UInt8, high: UInt8  // the allowed range of the second byte
            switch lead {
            case 0xC2...0xDF: (length, low, high) = (2, 0x80, 0xBF)
            case 0xE0: (length, low, high) = (3, 0xA0, 0xBF)
            case 0xED: (length, low, high) = (3, 0x80, 0x9F)
            case 0xE1...0xEF: (length, low, high) = (3, 0x80, 0xBF)
            case 0xF0: (length, low, high) = (4, 0x90, 0xBF)
            case 0xF4: (length, low, high) = (4, 0x80, 0x8F)
            case 0xF1...0xF3: (length, low, high) = (4, 0x80, 0xBF)
            default: return (i, .invalidUTF8)
            }
            guard i + 1 < count, (low...high).contains(bytes[i + 1]) else { return (i, .invalidUTF8) }
            for k in 2..<max(2, length) where i + k >= count || bytes[i + k] & 0xC0 != 0x80 {
                return (i, .invalidUTF8)
            }
            i += length
        }
        return nil
    }
}
