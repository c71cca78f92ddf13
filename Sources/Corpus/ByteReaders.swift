import CZlib
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where reading can restart in a file. `offset` counts uncompressed bytes. For gzip,
/// `memberOffset` is the compressed offset of the gzip member holding `offset` and `memberStart`
/// the uncompressed offset where that member begins: resuming seeks to the member and inflates
/// (and discards) `offset - memberStart` bytes. A multi-member file (e.g. from `pigz` or `cat a.gz
/// b.gz`) resumes close by; a single-member file is re-inflated from its start, which costs
/// decompression time but no re-tokenization. Plain files seek straight to `offset`.
public struct FilePosition: Codable, Equatable, Sendable {
    public var offset: Int64
    public var memberOffset: Int64
    public var memberStart: Int64
    /// 1-based number of the line that starts at `offset`, so messages stay right after a resume.
    public var lineNumber: Int

    public static let start = FilePosition(offset: 0, memberOffset: 0, memberStart: 0, lineNumber: 1)
}

/// A source of (uncompressed) bytes read in chunks.
protocol ByteReader: AnyObject {
    /// Fills up to `count` bytes; 0 only at the end of the file.
    func read(into buffer: UnsafeMutablePointer<UInt8>, count: Int) throws -> Int
    /// The restart point (`memberOffset`, `memberStart`) for an uncompressed offset. Offsets asked
    /// for never decrease, so older members can be forgotten.
    func member(containing offset: Int64) -> (memberOffset: Int64, memberStart: Int64)
}

private func errorText(_ code: Int32) -> String {
    String(cString: strerror(code))
}

private func openForReading(_ path: String) throws -> Int32 {
    let descriptor = open(path, O_RDONLY)
    if descriptor < 0 {
        let code = errno
        if code == ENOENT { throw CorpusError.missingFile(path: path) }
        throw CorpusError.readFailed(path: path, detail: errorText(code))
    }
    return descriptor
}

private func readRetrying(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int, path: String) throws -> Int {
    while true {
        let got = read(descriptor, buffer, count)
        if got >= 0 { return got }
        if errno == EINTR { continue }
        throw CorpusError.readFailed(path: path, detail: errorText(errno))
    }
}

private func seek(_ descriptor: Int32, to offset: Int64, path: String) throws {
    if lseek(descriptor, off_t(offset), SEEK_SET) < 0 {
        throw CorpusError.readFailed(path: path, detail: "cannot seek to byte \(offset): \(errorText(errno))")
    }
}

final class PlainFileReader: ByteReader {
    private let path: String
    private let descriptor: Int32

    init(path: String, position: FilePosition) throws {
        self.path = path
        descriptor = try openForReading(path)
        // Once every property is set, a throw still runs deinit, which closes the descriptor.
        if position.offset > 0 { try seek(descriptor, to: position.offset, path: path) }
    }

    deinit { close(descriptor) }

    func read(into buffer: UnsafeMutablePointer<UInt8>, count: Int) throws -> Int {
        try readRetrying(descriptor, buffer, count, path: path)
    }

    func member(containing offset: Int64) -> (memberOffset: Int64, memberStart: Int64) { (0, 0) }
}

/// Streams a gzip file through zlib's inflate, member after member, with a fixed input buffer.
final class GzipFileReader: ByteReader {
    private static let inputCapacity = 1 << 20
    private let path: String
    private let descriptor: Int32
    /// zlib checks that the stream never moves, so it lives at a fixed address.
    private let stream: UnsafeMutablePointer<z_stream>
    private let input: UnsafeMutablePointer<UInt8>
    /// Compressed bytes taken from the file so far (absolute file offset of the next read).
    private var fileOffset: Int64
    private var fileEnded = false
    private var uncompressedOffset: Int64
    private var memberOpen = true
    private var finished = false
    /// Member starts not yet passed by `member(containing:)`, oldest first.
    private var members: [(memberOffset: Int64, memberStart: Int64)]

    init(path: String, position: FilePosition) throws {
        self.path = path
        descriptor = try openForReading(path)
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        input = .allocate(capacity: Self.inputCapacity)
        fileOffset = position.memberOffset
        uncompressedOffset = position.memberStart
        members = [(position.memberOffset, position.memberStart)]
        // windowBits 15 + 16: gzip wrapper only, so a plain file named .gz is reported, not guessed at.
        let status = inflateInit2_(stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        if status != Z_OK {
            throw CorpusError.corruptGzip(path: path, detail: "zlib inflateInit2 failed (\(status))")
        }
        try seek(descriptor, to: position.memberOffset, path: path)
        try discard(position.offset - position.memberStart)
    }

    deinit {
        inflateEnd(stream)
        close(descriptor)
        input.deallocate()
        stream.deallocate()
    }

    private func discard(_ byteCount: Int64) throws {
        var remaining = byteCount
        let scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: 1 << 16)
        defer { scratch.deallocate() }
        while remaining > 0 {
            let got = try read(into: scratch, count: Int(min(remaining, 1 << 16)))
            if got == 0 {
                throw CorpusError.cursorMismatch("\(path) ends before uncompressed byte \(uncompressedOffset + remaining)")
            }
            remaining -= Int64(got)
        }
    }

    private func refill() throws {
        let got = try readRetrying(descriptor, input, Self.inputCapacity, path: path)
        if got == 0 { fileEnded = true }
        stream.pointee.next_in = input
        stream.pointee.avail_in = UInt32(got)
        fileOffset += Int64(got)
    }

    /// After a member ends: starts the next one if the file goes on with a gzip header. Anything
    /// else after the last member (e.g. zero padding) is ignored, as `gzip -d` does.
    private func startNextMember() throws -> Bool {
        if stream.pointee.avail_in == 0, !fileEnded { try refill() }
        guard stream.pointee.avail_in > 0, stream.pointee.next_in.pointee == 0x1f else { return false }
        inflateReset(stream)
        members.append((fileOffset - Int64(stream.pointee.avail_in), uncompressedOffset))
        memberOpen = true
        return true
    }

    func read(into buffer: UnsafeMutablePointer<UInt8>, count: Int) throws -> Int {
        var produced = 0
        while produced == 0, !finished {
            if !memberOpen {
                if try !startNextMember() {
                    finished = true
                    break
                }
            }
            if stream.pointee.avail_in == 0 {
                if !fileEnded { try refill() }
                if stream.pointee.avail_in == 0 { throw CorpusError.truncatedGzip(path: path) }
            }
            stream.pointee.next_out = buffer
            stream.pointee.avail_out = UInt32(count)
            let status = inflate(stream, Z_NO_FLUSH)
            produced = count - Int(stream.pointee.avail_out)
            switch status {
            case Z_STREAM_END:
                memberOpen = false
            case Z_OK, Z_BUF_ERROR:
                break
            default:
                let detail = stream.pointee.msg.map { String(cString: $0) } ?? "zlib error \(status)"
                throw CorpusError.corruptGzip(path: path, detail: detail)
            }
        }
        uncompressedOffset += Int64(produced)
        return produced
    }

    func member(containing offset: Int64) -> (memberOffset: Int64, memberStart: Int64) {
        while members.count > 1, members[1].memberStart <= offset {
            members.removeFirst()
        }
        return members[0]
    }
}
