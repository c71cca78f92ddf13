import Foundation

/// SplitMix64: one UInt64 of state, so a cursor can store it exactly.
struct SplitMix64 {
    var state: UInt64

    init(state: UInt64) { self.state = state }

    /// Streams for different purposes and epochs, from one user seed.
    init(seed: UInt64, stream: UInt64, epoch: Int) {
        var mixer = SplitMix64(state: seed ^ (stream &* 0x9E37_79B9_7F4A_7C15))
        _ = mixer.next()
        state = mixer.next() ^ UInt64(truncatingIfNeeded: epoch) &* 0xD1B5_4A32_D192_ED03
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in 0..<bound (multiply-shift; the bias is below 2^-50 for our sizes).
    mutating func below(_ bound: Int) -> Int {
        Int(UInt64(bound).multipliedFullWidth(by: next()).high)
    }
}

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

    /// The pending sequences in slot order, compactly: lengths (UInt16), ids (Int32) and
    /// word ids + 1 (UInt16, so -1 for special tokens is 0), all little-endian.
    func encoded() -> PendingSequences {
        var lengthData = Data(capacity: count * 2)
        var idData = Data()
        var wordData = Data()
        for slot in 0..<count {
            let length = lengths[slot]
            appendLittleEndian(UInt16(length), to: &lengthData)
            for k in 0..<length {
                appendLittleEndian(UInt32(bitPattern: ids[slot * seqLength + k]), to: &idData)
                appendLittleEndian(UInt16(truncatingIfNeeded: wordIds[slot * seqLength + k] + 1), to: &wordData)
            }
        }
        return PendingSequences(count: count, lengths: lengthData, ids: idData, wordIds: wordData)
    }

    mutating func restore(_ pending: PendingSequences) throws {
        let lengthBytes = [UInt8](pending.lengths)
        let idBytes = [UInt8](pending.ids)
        let wordBytes = [UInt8](pending.wordIds)
        guard pending.count <= capacity, lengthBytes.count == pending.count * 2 else {
            throw CorpusError.cursorMismatch("the cursor holds \(pending.count) shuffle-buffer sequences; this buffer holds \(capacity)")
        }
        count = 0
        var tokenIndex = 0
        var rowIds: [Int32] = []
        var rowWordIds: [Int32] = []
        for slot in 0..<pending.count {
            let length = Int(readUInt16(lengthBytes, at: slot))
            guard length <= seqLength, (tokenIndex + length) * 4 <= idBytes.count,
                  (tokenIndex + length) * 2 <= wordBytes.count
            else { throw CorpusError.cursorMismatch("the cursor's shuffle-buffer contents are malformed") }
            rowIds.removeAll(keepingCapacity: true)
            rowWordIds.removeAll(keepingCapacity: true)
            for k in tokenIndex..<(tokenIndex + length) {
                let id = UInt32(readUInt16(idBytes, at: 2 * k)) | UInt32(readUInt16(idBytes, at: 2 * k + 1)) << 16
                rowIds.append(Int32(bitPattern: id))
                rowWordIds.append(Int32(readUInt16(wordBytes, at: k)) - 1)
            }
            tokenIndex += length
            append(ids: rowIds[...], wordIds: rowWordIds[...])
        }
    }
}

/// Shuffle-buffer contents inside a `CorpusCursor` (binary, base64 in JSON).
public struct PendingSequences: Codable, Equatable, Sendable {
    public var count: Int
    public var lengths: Data
    public var ids: Data
    public var wordIds: Data
}

private func appendLittleEndian<T: FixedWidthInteger>(_ value: T, to data: inout Data) {
    withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) }
}

private func readUInt16(_ bytes: [UInt8], at index: Int) -> UInt16 {
    UInt16(bytes[2 * index]) | UInt16(bytes[2 * index + 1]) << 8
}
