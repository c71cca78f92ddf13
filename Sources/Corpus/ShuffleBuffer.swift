import CZlib
import Foundation

/// Fixed slots of `seqLength` tokens. Sequences wait here until drawn at random, so the output
/// order is shuffled over a window of `capacity` sequences while memory stays fixed.
struct ShuffleBuffer {
    let capacity: Int
    let seqLength: Int
    private(set) var count = 0
    private var ids: [Int32]
    private var wordIds: [Int32]
    private var lengths: [Int]

    init(capacity: Int, seqLength: Int) {
        self.capacity = capacity
        self.seqLength = seqLength
        ids = []
        wordIds = []
        lengths = []
    }

    var isFull: Bool { count == capacity }

    mutating func append(ids newIds: ArraySlice<Int32>, wordIds newWordIds: ArraySlice<Int32>) {
        precondition(count < capacity && newIds.count <= seqLength)
        if ids.count < (count + 1) * seqLength {
            ids.append(contentsOf: repeatElement(0, count: seqLength))
            wordIds.append(contentsOf: repeatElement(-1, count: seqLength))
            lengths.append(0)
        }
        let base = count * seqLength
        ids.replaceSubrange(base..<(base + newIds.count), with: newIds)
        wordIds.replaceSubrange(base..<(base + newWordIds.count), with: newWordIds)
        lengths[count] = newIds.count
        count += 1
    }

    /// Hands sequence `index` to `body`, then fills its slot with the last sequence.
    mutating func remove<R>(at index: Int, _ body: (ArraySlice<Int32>, ArraySlice<Int32>) -> R) -> R {
        let base = index * seqLength
        let length = lengths[index]
        let result = body(ids[base..<(base + length)], wordIds[base..<(base + length)])
        let last = count - 1
        if index != last {
            let lastBase = last * seqLength
            let lastLength = lengths[last]
            for k in 0..<lastLength {
                ids[base + k] = ids[lastBase + k]
                wordIds[base + k] = wordIds[lastBase + k]
            }
            lengths[index] = lastLength
        }
        count -= 1
        return result
    }

    /// The pending sequences in slot order: lengths (UInt16), ids (Int32) and word ids + 1
    /// (UInt16, so -1 for special tokens is 0), little-endian, then deflated (token ids compress
    /// about 3x), since a full buffer of 10,000 rows of 128 is 7.7 MB raw.
    func encoded() -> PendingSequences {
        let tokenCount = lengths.prefix(count).reduce(0, +)
        var raw: [UInt8] = []
        raw.reserveCapacity(count * 2 + tokenCount * 6)
        for slot in 0..<count { appendLittleEndian(UInt16(lengths[slot]), to: &raw) }
        for slot in 0..<count {
            for k in 0..<lengths[slot] { appendLittleEndian(UInt32(bitPattern: ids[slot * seqLength + k]), to: &raw) }
        }
        for slot in 0..<count {
            for k in 0..<lengths[slot] {
                appendLittleEndian(UInt16(truncatingIfNeeded: wordIds[slot * seqLength + k] + 1), to: &raw)
            }
        }
        var deflatedSize = compressBound(UInt(raw.count))
        var deflated = [UInt8](repeating: 0, count: Int(deflatedSize))
        let status = compress2(&deflated, &deflatedSize, raw, UInt(raw.count), 1)
        // compress2 only fails for lack of memory or a too small output, which compressBound rules out.
        precondition(status == Z_OK, "zlib compress2 failed (\(status))")
        return PendingSequences(count: count, rawByteCount: raw.count, deflated: Data(deflated.prefix(Int(deflatedSize))))
    }

    mutating func restore(_ pending: PendingSequences) throws {
        guard pending.count >= 0, pending.count <= capacity,
              pending.rawByteCount >= 2 * pending.count,
              pending.rawByteCount <= pending.count * (2 + 6 * seqLength)
        else {
            throw CorpusError.cursorMismatch(
                "the cursor holds \(pending.count) shuffle-buffer sequences (\(pending.rawByteCount) bytes); this buffer holds \(capacity) of \(seqLength) tokens")
        }
        var raw = [UInt8](repeating: 0, count: pending.rawByteCount)
        var rawSize = UInt(raw.count)
        let status = [UInt8](pending.deflated).withUnsafeBufferPointer { input in
            uncompress(&raw, &rawSize, input.baseAddress, UInt(input.count))
        }
        guard status == Z_OK, rawSize == UInt(raw.count) else {
            throw CorpusError.cursorMismatch("the cursor's shuffle-buffer contents do not inflate (zlib \(status))")
        }
        let rowLengths = (0..<pending.count).map { Int(readUInt16(raw, at: 2 * $0)) }
        let tokenCount = rowLengths.reduce(0, +)
        guard rowLengths.allSatisfy({ $0 <= seqLength }), raw.count == pending.count * 2 + tokenCount * 6 else {
            throw CorpusError.cursorMismatch("the cursor's shuffle-buffer contents are malformed")
        }
        count = 0
        var idOffset = pending.count * 2
        var wordOffset = idOffset + tokenCount * 4
        var rowIds: [Int32] = []
        var rowWordIds: [Int32] = []
        for length in rowLengths {
            rowIds.removeAll(keepingCapacity: true)
            rowWordIds.removeAll(keepingCapacity: true)
            for _ in 0..<length {
                let id = UInt32(readUInt16(raw, at: idOffset)) | UInt32(readUInt16(raw, at: idOffset + 2)) << 16
                rowIds.append(Int32(bitPattern: id))
                rowWordIds.append(Int32(readUInt16(raw, at: wordOffset)) - 1)
                idOffset += 4
                wordOffset += 2
            }
            append(ids: rowIds[...], wordIds: rowWordIds[...])
        }
    }
}

/// Shuffle-buffer contents inside a `CorpusCursor`: zlib-deflated binary (base64 in JSON).
public struct PendingSequences: Codable, Equatable, Sendable {
    public var count: Int
    public var rawByteCount: Int
    public var deflated: Data
}

private func appendLittleEndian<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
    withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
}

/// The little-endian UInt16 at byte `offset`.
private func readUInt16(_ bytes: [UInt8], at offset: Int) -> UInt16 {
    UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
}
