import Foundation
import Tables
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Splits a byte stream into lines (`\n` or `\r\n`) through one reusable buffer.
final class LineReader {
    /// A line longer than this is cut (at a UTF-8 character boundary) so memory stays bounded.
    static let maxLineBytes = 16 << 20
    private static let readSize = 1 << 20

    let path: String
    private let source: ByteReader
    private var buffer: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    /// Unconsumed bytes are `buffer[start..<end]`; `buffer[0]` is at uncompressed `bufferOffset`.
    private var start = 0
    private var end = 0
    private var bufferOffset: Int64
    private var sourceEnded = false
    private(set) var nextLineNumber: Int

    init(path: String, position: FilePosition) throws {
        self.path = path
        source = CorpusSources.isGzip(path)
            ? try GzipFileReader(path: path, position: position)
            : try PlainFileReader(path: path, position: position)
        capacity = 2 * Self.readSize
        buffer = .allocate(capacity: capacity)
        bufferOffset = position.offset
        nextLineNumber = position.lineNumber
    }

    deinit { buffer.deallocate() }

    /// Where the next unread line starts.
    var position: FilePosition {
        let offset = bufferOffset + Int64(start)
        let member = source.member(containing: offset)
        return FilePosition(offset: offset, memberOffset: member.memberOffset,
                            memberStart: member.memberStart, lineNumber: nextLineNumber)
    }

    /// The next line without its terminator (valid until the next call) and its 1-based number.
    /// A line longer than `maxLineBytes` comes in pieces cut at `maxLineBytes` from the piece's start
    /// (backed off to a character boundary), whatever the read alignment, so a resumed reader cuts
    /// the same way; all pieces carry the line's number.
    func nextLine() throws -> (bytes: UnsafeBufferPointer<UInt8>, number: Int)? {
        while true {
            let pending = end - start
            if let newline = memchr(buffer + start, 0x0A, pending) {
                let lineEnd = buffer.distance(to: newline.assumingMemoryBound(to: UInt8.self))
                let hasReturn = lineEnd > start && buffer[lineEnd - 1] == 0x0D
                if lineEnd - start - (hasReturn ? 1 : 0) > Self.maxLineBytes { return cutLine() }
                return takeLine(upTo: lineEnd, consuming: lineEnd + 1)
            }
            // Strictly more, so the byte at the cut exists and tells whether a character starts there.
            if pending > Self.maxLineBytes { return cutLine() }
            if sourceEnded {
                return pending == 0 ? nil : takeLine(upTo: end, consuming: end)
            }
            try fill()
        }
    }

    private func takeLine(upTo lineEnd: Int, consuming next: Int) -> (bytes: UnsafeBufferPointer<UInt8>, number: Int) {
        var contentEnd = lineEnd
        if contentEnd > start, buffer[contentEnd - 1] == 0x0D { contentEnd -= 1 }
        let line = UnsafeBufferPointer(start: buffer + start, count: contentEnd - start)
        start = next
        nextLineNumber += 1
        return (line, nextLineNumber - 1)
    }

    private func cutLine() -> (bytes: UnsafeBufferPointer<UInt8>, number: Int) {
        var cut = start + Self.maxLineBytes
        while cut > start, buffer[cut] & 0xC0 == 0x80 { cut -= 1 }
        if cut == start { cut = start + Self.maxLineBytes }  // not UTF-8 at all: cut anywhere
        let piece = UnsafeBufferPointer(start: buffer + start, count: cut - start)
        start = cut
        return (piece, nextLineNumber)
    }

    private func fill() throws {
        if start > 0 {
            memmove(buffer, buffer + start, end - start)
            bufferOffset += Int64(start)
            end -= start
            start = 0
        }
        if capacity - end < Self.readSize {
            let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity * 2)
            grown.update(from: buffer, count: end)
            buffer.deallocate()
            buffer = grown
            capacity *= 2
        }
        let got = try source.read(into: buffer + end, count: capacity - end)
        if got == 0 { sourceEnded = true } else { end += got }
    }
}

/// Groups lines into documents (a line, or a run of non-blank lines), kept as raw bytes so the
/// split hash needs no decoding and documents of the other split are never decoded. A table file
/// (`.tsv`, `.csv`, `.jsonl`) gives one document per record: its text column.
final class DocumentReader {
    /// A document longer than this ends at the next line boundary; the rest becomes a new document.
    static let maxDocumentBytes = 16 << 20

    private enum Source {
        case lines(LineReader)
        /// Records not yet read, as (text, line, byte offset), and the position past the last one.
        case table(records: ArraySlice<(text: [UInt8], line: Int, offset: Int)>, end: FilePosition)
    }

    private var source: Source
    private let mode: CorpusMode
    private(set) var bytes: [UInt8] = []
    /// Where each line starts in `bytes`, and its number in the file (for invalid UTF-8 reports).
    private(set) var lineStarts: [Int] = []
    private(set) var lineNumbers: [Int] = []

    init(path: String, position: FilePosition, mode: CorpusMode, textColumn: String = CorpusOptions.defaultTextColumn) throws {
        self.mode = mode
        if let format = TableFormat.named(by: URL(fileURLWithPath: path)) {
            let bytes = try Self.readWhole(path)
            let rows: [(values: [String?], record: TableRecord)]
            do { rows = try TableReader.columns([textColumn], in: bytes, format: format, path: path) } catch let error as TableError {
                throw CorpusError.invalidTable(error.description)
            }
            let records = rows.map { (text: Array(($0.values[0] ?? "").utf8), line: $0.record.line, offset: $0.record.offset) }
            let next = records.firstIndex { $0.offset >= Int(position.offset) } ?? records.count
            let end = FilePosition(offset: Int64(bytes.count), memberOffset: 0, memberStart: 0,
                                   lineNumber: (records.last?.line ?? 0) + 1)
            source = .table(records: records[next...], end: end)
        } else {
            source = .lines(try LineReader(path: path, position: position))
        }
    }

    /// Where the next unread document starts.
    var position: FilePosition {
        switch source {
        case .lines(let lines): return lines.position
        case .table(let records, let end):
            guard let next = records.first else { return end }
            return FilePosition(offset: Int64(next.offset), memberOffset: 0, memberStart: 0, lineNumber: next.line)
        }
    }

    /// Reads the next document into `bytes`; false when the file has no more.
    func next() throws -> Bool {
        bytes.removeAll(keepingCapacity: true)
        lineStarts.removeAll(keepingCapacity: true)
        lineNumbers.removeAll(keepingCapacity: true)
        switch source {
        case .table(var records, let end):
            // A record with an empty text is no document, as a blank line is none.
            while let record = records.popFirst() {
                guard !isBlank(record.text.withUnsafeBufferPointer { $0 }) else { continue }
                bytes = record.text
                lineStarts = [0]
                lineNumbers = [record.line]
                source = .table(records: records, end: end)
                return true
            }
            source = .table(records: records, end: end)
            return false
        case .lines(let lines):
            while let line = try lines.nextLine() {
                if isBlank(line.bytes) {
                    if !bytes.isEmpty { return true }
                    continue
                }
                if !bytes.isEmpty { bytes.append(0x0A) }
                lineStarts.append(bytes.count)
                lineNumbers.append(line.number)
                bytes.append(contentsOf: line.bytes)
                if mode == .lines || bytes.count >= Self.maxDocumentBytes { return true }
            }
            return !bytes.isEmpty
        }
    }

    private static func readWhole(_ path: String) throws -> [UInt8] {
        do { return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) } catch {
            throw CorpusError.readFailed(path: path, detail: error.localizedDescription)
        }
    }

    private func isBlank(_ line: UnsafeBufferPointer<UInt8>) -> Bool {
        for byte in line where !(byte == 0x20 || (byte >= 0x09 && byte <= 0x0D)) { return false }
        return true
    }

    /// The document as text; invalid UTF-8 becomes U+FFFD. Returns the numbers of the lines that
    /// held invalid bytes (empty in the common case).
    func decode() -> (text: String, invalidLines: [Int]) {
        bytes.withUnsafeBufferPointer { all in
            if isASCII(all) { return (String(decoding: all, as: UTF8.self), []) }
            if let valid = String(validating: all, as: UTF8.self) { return (valid, []) }
            var invalid: [Int] = []
            for (index, lineStart) in lineStarts.enumerated() {
                let lineEnd = index + 1 < lineStarts.count ? lineStarts[index + 1] - 1 : all.count
                if String(validating: UnsafeBufferPointer(rebasing: all[lineStart..<lineEnd]), as: UTF8.self) == nil {
                    invalid.append(lineNumbers[index])
                }
            }
            return (String(decoding: all, as: UTF8.self), invalid)
        }
    }

    private func isASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var combined: UInt8 = 0
        for byte in bytes { combined |= byte }
        return combined < 0x80
    }

    /// FNV-1a over the document's bytes, then a 64-bit finalizer so every bit depends on every byte.
    /// Pure byte arithmetic: the same on every run and machine.
    func splitHash() -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        hash ^= hash >> 33
        hash = hash &* 0xff51_afd7_ed55_8ccd
        hash ^= hash >> 33
        hash = hash &* 0xc4ce_b9fe_1a85_ec53
        hash ^= hash >> 33
        return hash
    }
}
