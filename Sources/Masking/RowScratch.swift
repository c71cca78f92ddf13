/// One row of the source batch, as raw pointers for the selection loops.
struct RowView {
    let ids: UnsafePointer<Int32>
    let attention: UnsafePointer<UInt8>
    let special: UnsafePointer<UInt8>
    let wordIds: UnsafePointer<Int32>
    let length: Int

    @inline(__always)
    func isEligible(_ column: Int) -> Bool { attention[column] != 0 && special[column] == 0 }
}

/// What a strategy decides for each selected token; 0 means not selected.
enum Fate {
    static let none: UInt8 = 0
    static let mask: UInt8 = 1
    static let random: UInt8 = 2
    static let keep: UInt8 = 3
}

/// Per-row scratch. `let` pointers, so hot loops pay no exclusivity checks; a longer row gets a new one.
final class RowScratch {
    let capacity: Int
    /// Fate of each selected column of the current row (read only where `selectedBits` is set).
    let fates: UnsafeMutablePointer<UInt8>
    /// One bit per column, 64 columns a word: set where the column is selected; cleared as the row
    /// is emitted, so emitting visits exactly the selected columns, in order.
    let selectedBits: UnsafeMutablePointer<UInt64>
    let eligible: UnsafeMutablePointer<Int32>
    let wordStart: UnsafeMutablePointer<Int32>
    let wordLength: UnsafeMutablePointer<Int32>
    let wordTaken: UnsafeMutablePointer<UInt8>
    /// One bit per column, 64 columns a word: set where the token is eligible.
    let eligibleBits: UnsafeMutablePointer<UInt64>
    /// Set where an eligible column starts a word (see `collectWordStarts`).
    let wordStartBits: UnsafeMutablePointer<UInt64>
    /// Word starts not yet visited by whole-word selection.
    let candidateBits: UnsafeMutablePointer<UInt64>
    /// 1 where a column has the same (non-negative) word id as the column before it.
    let sameWord: UnsafeMutablePointer<UInt8>

    init(capacity: Int) {
        self.capacity = capacity
        fates = .allocate(capacity: capacity)
        selectedBits = .allocate(capacity: (capacity + 63) / 64)
        selectedBits.initialize(repeating: 0, count: (capacity + 63) / 64)
        eligible = .allocate(capacity: capacity)
        wordStart = .allocate(capacity: capacity)
        wordLength = .allocate(capacity: capacity)
        wordTaken = .allocate(capacity: capacity)
        eligibleBits = .allocate(capacity: (capacity + 63) / 64)
        wordStartBits = .allocate(capacity: (capacity + 63) / 64)
        candidateBits = .allocate(capacity: (capacity + 63) / 64)
        sameWord = .allocate(capacity: max(capacity, 1))
    }

    deinit {
        fates.deallocate()
        selectedBits.deallocate()
        eligible.deallocate()
        wordStart.deallocate()
        wordLength.deallocate()
        wordTaken.deallocate()
        eligibleBits.deallocate()
        wordStartBits.deallocate()
        candidateBits.deallocate()
        sameWord.deallocate()
    }

    /// Fills `eligibleBits` and `wordStartBits`: an eligible column starts a word unless the column
    /// before it is eligible and has the same non-negative word id. Returns eligible tokens and words.
    @inline(__always)
    func collectWordStarts(_ row: RowView) -> (tokens: Int, words: Int) {
        let tokens = collectEligibleBits(row)
        let length = row.length, wordIds = row.wordIds
        guard length > 0 else { return (0, 0) }
        sameWord[0] = 0
        // Written without short-circuits so that it vectorises.
        for column in 1..<length {
            let word = wordIds[column]
            sameWord[column] = (word >= 0 ? 1 : 0) & (word == wordIds[column - 1] ? 1 : 0)
        }
        var words = 0
        var eligibleBefore: UInt64 = 0  // eligibility of the column before the block
        for block in 0..<((length + 63) / 64) {
            let start = block * 64, end = min(start + 64, length)
            var continues: UInt64 = 0
            var column = start
            while column + 8 <= end {
                let bytes = UInt64(littleEndian: UnsafeRawPointer(sameWord + column).loadUnaligned(as: UInt64.self))
                continues |= (((bytes & 0x0101_0101_0101_0101) &* 0x0102_0408_1020_4080) >> 56) << UInt64(column - start)
                column += 8
            }
            while column < end {
                continues |= UInt64(sameWord[column]) << UInt64(column - start)
                column += 1
            }
            let eligible = eligibleBits[block]
            let starts = eligible & ~(continues & (eligible << 1 | eligibleBefore))
            wordStartBits[block] = starts
            words += starts.nonzeroBitCount
            eligibleBefore = eligible >> 63
        }
        return (tokens, words)
    }

    /// End (exclusive) of the word starting at `start`: the next word start or ineligible column.
    @inline(__always)
    func wordEnd(from start: Int, length: Int) -> Int {
        var column = start + 1
        while column < length {
            let block = column >> 6
            let boundaries = (wordStartBits[block] | ~eligibleBits[block]) >> UInt64(column & 63)
            if boundaries != 0 { return min(column + boundaries.trailingZeroBitCount, length) }
            column = (block + 1) << 6
        }
        return length
    }

    /// Fills `eligibleBits` for the row, eight columns per step; returns the number of eligible tokens.
    @inline(__always)
    func collectEligibleBits(_ row: RowView) -> Int {
        var total = 0
        for block in 0..<((row.length + 63) / 64) {
            let start = block * 64, end = min(start + 64, row.length)
            var bits: UInt64 = 0
            var column = start
            while column + 8 <= end {
                let attention = loadBytes(row.attention + column), special = loadBytes(row.special + column)
                let eligibleBytes = nonzeroBytes(attention) & ~nonzeroBytes(special)
                // Gathers the top bit of each byte into one byte, column order kept.
                let eightColumns = ((eligibleBytes >> 7) &* 0x0102_0408_1020_4080) >> 56
                bits |= eightColumns << UInt64(column - start)
                column += 8
            }
            while column < end {
                if row.isEligible(column) { bits |= 1 << UInt64(column - start) }
                column += 1
            }
            eligibleBits[block] = bits
            total += bits.nonzeroBitCount
        }
        return total
    }

    @inline(__always)
    private func loadBytes(_ pointer: UnsafePointer<UInt8>) -> UInt64 {
        UInt64(littleEndian: UnsafeRawPointer(pointer).loadUnaligned(as: UInt64.self))
    }

    /// The top bit of each byte set where that byte is nonzero.
    @inline(__always)
    private func nonzeroBytes(_ bytes: UInt64) -> UInt64 {
        let low7: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
        return (((bytes & low7) &+ low7) | bytes) & 0x8080_8080_8080_8080
    }

    @inline(__always)
    func isEligibleBit(_ column: Int) -> Bool {
        eligibleBits[column >> 6] >> UInt64(column & 63) & 1 != 0
    }

    @inline(__always)
    func isSelected(_ column: Int) -> Bool {
        selectedBits[column >> 6] >> UInt64(column & 63) & 1 != 0
    }

    @inline(__always)
    func select(_ column: Int, fate: UInt8) {
        fates[column] = fate
        selectedBits[column >> 6] |= 1 << UInt64(column & 63)
    }

    /// Gathers the row's words into `wordStart`/`wordLength`: runs of one word id over consecutive
    /// eligible columns (an eligible token without a word id is a word of its own).
    @inline(__always)
    func collectWords(_ row: RowView) -> (tokens: Int, words: Int) {
        var words = 0, tokens = 0
        var previousWord: Int32 = -1, previousColumn = -2
        for column in 0..<row.length where row.isEligible(column) {
            let word = row.wordIds[column]
            if word >= 0 && word == previousWord && column == previousColumn + 1 {
                wordLength[words - 1] += 1
            } else {
                wordStart[words] = Int32(truncatingIfNeeded: column)
                wordLength[words] = 1
                words += 1
            }
            previousWord = word
            previousColumn = column
            tokens += 1
        }
        return (tokens, words)
    }
}

/// Masked positions and labels of one batch, gathered before they are copied out.
final class BatchScratch {
    let capacity: Int
    let positions: UnsafeMutablePointer<Int32>
    let labels: UnsafeMutablePointer<Int32>

    init(capacity: Int) {
        self.capacity = capacity
        positions = .allocate(capacity: capacity)
        labels = .allocate(capacity: capacity)
    }

    deinit {
        positions.deallocate()
        labels.deallocate()
    }
}
