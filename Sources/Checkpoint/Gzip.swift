import CZlib
import Dispatch
import Foundation

/// Multi-member gzip: the input is cut into fixed-size chunks, each deflated on its own core
/// into a complete gzip member, and the members are concatenated. RFC 1952 allows this, so
/// `gunzip` yields the original bytes. Each member carries an extra field (`MA`, 4 bytes: the
/// member's total length) so that a reader can find every member without inflating and
/// inflate them in parallel too; files from other tools are read member by member.
public enum Gzip {
    public enum Strategy: Sendable, Equatable {
        /// LZ77 matching plus Huffman coding (zlib's default strategy).
        case standard
        /// Huffman coding only: float weights have almost no repeated strings, so this keeps
        /// nearly all the gain (the exponent bytes' entropy) at a fraction of the time.
        case huffmanOnly
        var zlibValue: Int32 { self == .standard ? Z_DEFAULT_STRATEGY : Z_HUFFMAN_ONLY }
    }

    public struct Options: Sendable, Equatable {
        /// zlib level 0...9 (the default Huffman-only strategy ignores it); ARCHITECTURE.md gives the measurement.
        public var level: Int32
        public var strategy: Strategy
        /// Uncompressed bytes per member; each is one unit of parallel work.
        public var chunkSize: Int
        public init(level: Int32 = 1, strategy: Strategy = .huffmanOnly, chunkSize: Int = 4 << 20) {
            self.level = level; self.strategy = strategy; self.chunkSize = max(chunkSize, 1 << 16)
        }
    }

    static let extraFieldID: (UInt8, UInt8) = (0x4D, 0x41)  // "MA"
    static let headerLength = 10 + 2 + 8  // fixed header, XLEN, one 8-byte subfield
    static let trailerLength = 8

    /// Compresses `input` into gzip members, deflating chunks concurrently; concatenated in
    /// order they form one gzip file (written piecewise, so they are never joined in memory).
    public static func compressMembers(_ input: UnsafeRawBufferPointer, options: Options = Options()) throws -> [[UInt8]] {
        let chunkCount = max(1, (input.count + options.chunkSize - 1) / options.chunkSize)
        let members = ResultSlots<[UInt8]>(count: chunkCount)
        let source = SendableRawBuffer(input)
        DispatchQueue.concurrentPerform(iterations: chunkCount) { index in
            let start = index * options.chunkSize
            let end = min(start + options.chunkSize, source.buffer.count)
            let chunk = UnsafeRawBufferPointer(rebasing: source.buffer[start..<end])
            members[index] = Result { try deflateMember(chunk, options: options) }
        }
        return try members.values.map { slot in
            guard let slot else { throw GzipFailure.compression("missing member") }
            return try slot.get()
        }
    }

    /// The whole gzip file in one array.
    public static func compress(_ input: [UInt8], options: Options = Options()) throws -> [UInt8] {
        try input.withUnsafeBytes { try compressMembers($0, options: options) }.flatMap { $0 }
    }

    /// Inflates every member, checking each CRC32 and ISIZE. `source` names the file in errors.
    /// `expectedSize`, the uncompressed size the content implies (see `inflatePrefix`), bounds what is
    /// allocated: members whose ISIZE fields add up to anything else are refused before allocating,
    /// and a stream without length fields stops as soon as it runs past it.
    public static func decompress(_ input: [UInt8], source: String, expectedSize: Int? = nil) throws -> [UInt8] {
        try input.withUnsafeBytes { bytes in
            do {
                if let members = try indexOwnMembers(bytes) {
                    let total = members.last.map { $0.outputOffset + $0.outputCount } ?? 0
                    if let expectedSize, total != expectedSize {
                        throw GzipFailure.corrupt(
                            total < expectedSize
                                ? "truncated: the members hold \(total) bytes, the content's header implies \(expectedSize)"
                                : "the members' ISIZE fields add up to \(total) bytes, the content's header implies \(expectedSize)")
                    }
                    return try inflateIndexed(bytes, members: members)
                }
                return try inflateSequentially(bytes, limit: expectedSize)
            } catch let failure as GzipFailure {
                throw CheckpointError.corruptGzip(file: source, reason: failure.description)
            }
        }
    }

    /// The first `count` uncompressed bytes (fewer when the stream is shorter), inflated through zlib
    /// without trusting any ISIZE field: enough to read a header that says how large the rest is.
    public static func inflatePrefix(_ input: [UInt8], count: Int, source: String) throws -> [UInt8] {
        guard isGzip(input) else { throw CheckpointError.corruptGzip(file: source, reason: "not a gzip file (bad magic number)") }
        var stream = z_stream()
        guard inflateInit2_(&stream, MAX_WBITS + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK
        else { throw CheckpointError.corruptGzip(file: source, reason: "inflateInit2 failed") }
        defer { inflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: count)
        let produced = input.withUnsafeBytes { raw -> Int in
            output.withUnsafeMutableBytes { out -> Int in
                stream.next_in = UnsafeMutablePointer(mutating: raw.baseAddress!.assumingMemoryBound(to: Bytef.self))
                stream.avail_in = uInt(raw.count)
                stream.next_out = out.baseAddress?.assumingMemoryBound(to: Bytef.self)
                stream.avail_out = uInt(out.count)
                while stream.avail_out > 0 {
                    let status = inflate(&stream, Z_NO_FLUSH)
                    guard status == Z_OK || status == Z_STREAM_END else { break }
                    if status == Z_STREAM_END {
                        guard stream.avail_in > 0 else { break }
                        inflateReset(&stream)
                    }
                }
                return out.count - Int(stream.avail_out)
            }
        }
        output.removeLast(count - produced)
        return output
    }

    /// True when the bytes start with the gzip magic number.
    public static func isGzip(_ prefix: some Collection<UInt8>) -> Bool {
        prefix.count >= 2 && prefix.first == 0x1F && prefix.dropFirst().first == 0x8B
    }

    // MARK: - Writing one member

    private static func deflateMember(_ chunk: UnsafeRawBufferPointer, options: Options) throws -> [UInt8] {
        let level = options.level
        var stream = z_stream()
        // Raw deflate (negative window bits): the gzip framing is written here, with the length field.
        guard deflateInit2_(&stream, level, Z_DEFLATED, -MAX_WBITS, 8, options.strategy.zlibValue,
                            ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK
        else { throw GzipFailure.compression("deflateInit2 failed for level \(level)") }
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, uLong(chunk.count)))
        var member = [UInt8](repeating: 0, count: headerLength + bound + trailerLength)
        let deflatedCount: Int = try member.withUnsafeMutableBytes { out in
            stream.next_in = UnsafeMutablePointer(mutating: chunk.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.avail_in = uInt(chunk.count)
            stream.next_out = out.baseAddress!.advanced(by: headerLength).assumingMemoryBound(to: Bytef.self)
            stream.avail_out = uInt(bound)
            let status = deflate(&stream, Z_FINISH)
            guard status == Z_STREAM_END else { throw GzipFailure.compression("deflate returned \(status)") }
            return Int(stream.total_out)
        }
        let crc = UInt32(crc32(0, chunk.baseAddress?.assumingMemoryBound(to: Bytef.self), uInt(chunk.count)))
        let memberLength = headerLength + deflatedCount + trailerLength
        member.removeLast(member.count - memberLength)
        let xfl: UInt8 = level >= 9 ? 2 : (level <= 1 ? 4 : 0)
        let header: [UInt8] = [0x1F, 0x8B, 8, 0x04, 0, 0, 0, 0, xfl, 3, 8, 0, extraFieldID.0, extraFieldID.1, 4, 0]
        member.replaceSubrange(0..<header.count, with: header)
        storeLE(UInt32(memberLength), into: &member, at: header.count)
        storeLE(crc, into: &member, at: memberLength - 8)
        storeLE(UInt32(truncatingIfNeeded: chunk.count), into: &member, at: memberLength - 4)
        return member
    }

    // MARK: - Reading

    struct IndexedMember {
        var deflateRange: Range<Int>
        var outputOffset: Int
        var outputCount: Int
        var crc: UInt32
    }

    /// Locates all members when every one carries our length field; nil for other gzip files.
    static func indexOwnMembers(_ bytes: UnsafeRawBufferPointer) throws -> [IndexedMember]? {
        var members: [IndexedMember] = []
        var position = 0
        var outputOffset = 0
        while position < bytes.count {
            guard bytes.count - position >= headerLength,
                  bytes[position] == 0x1F, bytes[position + 1] == 0x8B, bytes[position + 2] == 8,
                  bytes[position + 3] == 0x04,
                  loadLE16(bytes, at: position + 10) == 8,
                  bytes[position + 12] == extraFieldID.0, bytes[position + 13] == extraFieldID.1,
                  loadLE16(bytes, at: position + 14) == 4
            else {
                if members.isEmpty { return nil }
                throw GzipFailure.corrupt(
                    "member \(members.count) at byte \(position) has no valid gzip header (file truncated or damaged)")
            }
            let memberLength = Int(loadLE32(bytes, at: position + 16))
            guard memberLength >= headerLength + trailerLength else {
                throw GzipFailure.corrupt("member \(members.count) at byte \(position) has invalid length \(memberLength)")
            }
            guard position + memberLength <= bytes.count else {
                throw GzipFailure.corrupt(
                    "truncated: member \(members.count) needs \(position + memberLength) bytes, file has \(bytes.count)")
            }
            let end = position + memberLength
            let count = Int(loadLE32(bytes, at: end - 4))
            let deflatedCount = memberLength - headerLength - trailerLength
            guard count <= maximumInflation(ofDeflated: deflatedCount) else {
                throw GzipFailure.corrupt(
                    "member \(members.count) at byte \(position): ISIZE \(count) is more than \(deflatedCount) deflated bytes can hold")
            }
            members.append(IndexedMember(
                deflateRange: (position + headerLength)..<(end - trailerLength), outputOffset: outputOffset,
                outputCount: count, crc: loadLE32(bytes, at: end - 8)))
            outputOffset += count
            position = end
        }
        return members.isEmpty ? nil : members
    }

    /// DEFLATE cannot expand more than 1032:1 (a 258-byte match per 2 bits), so an ISIZE above this is a lie.
    static func maximumInflation(ofDeflated count: Int) -> Int { 1032 * (count + 1) }

    private static func inflateIndexed(_ bytes: UnsafeRawBufferPointer, members: [IndexedMember]) throws -> [UInt8] {
        let total = members.last.map { $0.outputOffset + $0.outputCount } ?? 0
        var output = [UInt8](repeating: 0, count: total)
        let failures = ResultSlots<Void>(count: members.count)
        output.withUnsafeMutableBytes { out in
            let target = SendableMutableRawBuffer(out)
            let source = SendableRawBuffer(bytes)
            DispatchQueue.concurrentPerform(iterations: members.count) { index in
                let member = members[index]
                let slot = UnsafeMutableRawBufferPointer(
                    rebasing: target.buffer[member.outputOffset..<(member.outputOffset + member.outputCount)])
                let deflated = UnsafeRawBufferPointer(rebasing: source.buffer[member.deflateRange])
                failures[index] = Result { try inflateMember(deflated, into: slot, member: member, index: index) }
            }
        }
        for slot in failures.values { try slot?.get() }
        return output
    }

    private static func inflateMember(
        _ deflated: UnsafeRawBufferPointer, into slot: UnsafeMutableRawBufferPointer, member: IndexedMember, index: Int
    ) throws {
        var stream = z_stream()
        guard inflateInit2_(&stream, -MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK
        else { throw GzipFailure.corrupt("inflateInit2 failed") }
        defer { inflateEnd(&stream) }
        stream.next_in = UnsafeMutablePointer(mutating: deflated.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = uInt(deflated.count)
        // One spare byte would reveal output longer than ISIZE; zlib never writes past avail_out.
        var spare: UInt8 = 0
        stream.next_out = slot.baseAddress?.assumingMemoryBound(to: Bytef.self) ?? withUnsafeMutablePointer(to: &spare) { $0 }
        stream.avail_out = uInt(slot.count)
        var status = inflate(&stream, Z_FINISH)
        if status == Z_BUF_ERROR && stream.avail_out == 0 && stream.avail_in > 0 {
            // Output slot is full yet input remains: the member inflates to more than ISIZE.
            throw GzipFailure.corrupt("member \(index): ISIZE mismatch (data longer than \(member.outputCount) bytes)")
        }
        if status == Z_BUF_ERROR && stream.avail_in == 0 { status = Z_DATA_ERROR }
        guard status == Z_STREAM_END else {
            let reason = stream.msg.map { String(cString: $0) } ?? "status \(status)"
            throw GzipFailure.corrupt("member \(index): deflate data damaged (\(reason))")
        }
        guard stream.avail_out == 0 else {
            throw GzipFailure.corrupt(
                "member \(index): ISIZE mismatch (inflated \(Int(stream.total_out)) bytes, trailer says \(member.outputCount))")
        }
        guard stream.avail_in == 0 else {
            throw GzipFailure.corrupt("member \(index): \(stream.avail_in) stray bytes after the deflate stream")
        }
        let crc = UInt32(crc32(0, slot.baseAddress?.assumingMemoryBound(to: Bytef.self), uInt(slot.count)))
        guard crc == member.crc else {
            throw GzipFailure.corrupt(
                "member \(index): CRC32 mismatch (computed \(hex(crc)), stored \(hex(member.crc)))")
        }
    }

    /// Any RFC 1952 file: zlib parses each header and checks each trailer's CRC32 and ISIZE.
    private static func inflateSequentially(_ bytes: UnsafeRawBufferPointer, limit: Int?) throws -> [UInt8] {
        guard isGzip(bytes) else { throw GzipFailure.corrupt("not a gzip file (bad magic number)") }
        var stream = z_stream()
        guard inflateInit2_(&stream, MAX_WBITS + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK
        else { throw GzipFailure.corrupt("inflateInit2 failed") }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var block = [UInt8](repeating: 0, count: 1 << 20)
        stream.next_in = UnsafeMutablePointer(mutating: bytes.baseAddress!.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = uInt(bytes.count)
        var memberIndex = 0
        while true {
            let status = block.withUnsafeMutableBufferPointer { out -> Int32 in
                stream.next_out = out.baseAddress
                stream.avail_out = uInt(out.count)
                return inflate(&stream, Z_NO_FLUSH)
            }
            output.append(contentsOf: block[0..<(block.count - Int(stream.avail_out))])
            if let limit, output.count > limit {
                throw GzipFailure.corrupt("inflates to more than the \(limit) bytes the content's header implies")
            }
            switch status {
            case Z_OK:
                continue
            case Z_STREAM_END:
                memberIndex += 1
                if stream.avail_in == 0 { return output }
                let next = UnsafeRawBufferPointer(start: stream.next_in, count: Int(stream.avail_in))
                guard isGzip(next) else {
                    throw GzipFailure.corrupt("\(stream.avail_in) bytes of garbage after member \(memberIndex - 1)")
                }
                inflateReset(&stream)
            case Z_BUF_ERROR where stream.avail_in == 0:
                throw GzipFailure.corrupt("truncated inside member \(memberIndex)")
            default:
                let reason = stream.msg.map { String(cString: $0) } ?? "status \(status)"
                throw GzipFailure.corrupt("member \(memberIndex): \(reason)")
            }
        }
    }
}

enum GzipFailure: Error, CustomStringConvertible {
    case compression(String)
    case corrupt(String)
    var description: String {
        switch self {
        case .compression(let m): return "gzip compression failed: \(m)"
        case .corrupt(let m): return m
        }
    }
}

// MARK: - Small helpers shared by the module

/// One slot per parallel task, written by exactly one task each (hence no lock).
final class ResultSlots<Value>: @unchecked Sendable {
    private let slots: UnsafeMutableBufferPointer<Result<Value, Error>?>
    init(count: Int) {
        slots = .allocate(capacity: count)
        slots.initialize(repeating: nil)
    }
    deinit {
        slots.deinitialize()
        slots.deallocate()
    }
    var values: [Result<Value, Error>?] { Array(slots) }
    subscript(index: Int) -> Result<Value, Error>? {
        get { slots[index] }
        set { slots[index] = newValue }
    }
}

struct SendableRawBuffer: @unchecked Sendable {
    let buffer: UnsafeRawBufferPointer
    init(_ buffer: UnsafeRawBufferPointer) { self.buffer = buffer }
}

struct SendableMutableRawBuffer: @unchecked Sendable {
    let buffer: UnsafeMutableRawBufferPointer
    init(_ buffer: UnsafeMutableRawBufferPointer) { self.buffer = buffer }
}

func storeLE(_ value: UInt32, into bytes: inout [UInt8], at offset: Int) {
    for i in 0..<4 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(i))) }
}

func loadLE16(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt16 {
    UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
}

func loadLE32(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt32 {
    (0..<4).reduce(0) { $0 | UInt32(bytes[offset + $1]) << (8 * UInt32($1)) }
}

func hex(_ value: UInt32) -> String { String(format: "%08x", value) }
