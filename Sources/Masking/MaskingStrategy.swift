import Corpus

/// Chooses which tokens of a batch the model predicts, and how they are hidden.
///
/// Deterministic in (seed, epoch, batchIndex): each batch draws from its own generator seeded by a
/// hash of the three, so a resumed run reproduces the masks exactly. With `staticMasking` the epoch is
/// ignored. Strategies are classes that hold their scratch buffers: masking a batch allocates nothing
/// once `out` has the batch's shape. Use one strategy per thread.
public protocol MaskingStrategy: AnyObject {
    var options: MaskingOptions { get }
    var vocabulary: MaskingVocabulary { get }
    func mask(_ batch: TokenBatch, seed: UInt64, epoch: Int, batchIndex: Int, into out: inout MaskedBatch)
}

/// The strategy `options.strategy` names, after validating the options.
public func makeMaskingStrategy(
    _ options: MaskingOptions, vocabulary: MaskingVocabulary
) throws(MaskingError) -> any MaskingStrategy {
    switch options.strategy {
    case .token: try TokenMasking(options: options, vocabulary: vocabulary)
    case .wholeWord: try WholeWordMasking(options: options, vocabulary: vocabulary)
    case .span: try SpanMasking(options: options, vocabulary: vocabulary)
    }
}

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

/// Replacement rule, budgets and the batch loop shared by the strategies.
final class MaskingCore {
    let options: MaskingOptions
    let vocabulary: MaskingVocabulary
    let rowCap: Int
    private let maskThreshold: UInt64
    private let randomThreshold: UInt64
    private let perPiece: Bool
    private var rowScratch = RowScratch(capacity: 0)
    private var batchScratch = BatchScratch(capacity: 0)

    init(options: MaskingOptions, vocabulary: MaskingVocabulary) throws(MaskingError) {
        try options.validate()
        self.options = options
        self.vocabulary = vocabulary
        maskThreshold = probabilityThreshold(options.maskRatio)
        randomThreshold = probabilityThreshold(options.maskRatio + options.randomRatio)
        rowCap = options.maxPredictionsPerSeq ?? Int.max
        perPiece = options.perPieceReplacement
    }

    /// Row target under the exact budget: round(p·n), at least 1, at most the cap.
    @inline(__always)
    func exactTarget(eligibleTokens n: Int) -> Int {
        guard n > 0 else { return 0 }
        // Round half up (n and p are positive), without a libm call.
        return min(max(1, Int(options.probability * Double(n) + 0.5)), rowCap)
    }

    @inline(__always)
    func drawFate(_ rng: inout Xoshiro256StarStar) -> UInt8 {
        let u = rng.unit53()
        return u < maskThreshold ? Fate.mask : (u < randomThreshold ? Fate.random : Fate.keep)
    }

    /// Selects word `index` of `scratch`: one fate for all its pieces, or one each with
    /// `perPieceReplacement`.
    @inline(__always)
    func selectWord(_ index: Int, scratch: RowScratch, rng: inout Xoshiro256StarStar) {
        let start = Int(scratch.wordStart[index]), end = start + Int(scratch.wordLength[index])
        selectColumns(start..<end, fate: drawFate(&rng), scratch: scratch, rng: &rng)
    }

    @inline(__always)
    func selectColumns(_ columns: Range<Int>, fate: UInt8, scratch: RowScratch, rng: inout Xoshiro256StarStar) {
        if perPiece {
            for column in columns { scratch.select(column, fate: drawFate(&rng)) }
        } else {
            for column in columns { scratch.select(column, fate: fate) }
        }
    }

    /// Applies the row's fates to the output, records positions and labels, counts stats, and
    /// clears the selection for the next row.
    @inline(__always)
    private func emitRow(
        _ row: RowView, countsWords: Bool, rowOffset: Int, scratch: RowScratch, batch: BatchScratch,
        selectedCount: inout Int, outIds: UnsafeMutablePointer<Int32>, labels: UnsafeMutablePointer<Int32>,
        replacements: UnsafeBufferPointer<Int32>, rng: inout Xoshiro256StarStar, stats: inout MaskingStats
    ) {
        let maskId = vocabulary.maskId
        // The word holding the latest selected column: its end, size, selected pieces, fates.
        var wordEnd = 0, wordPieces = 0, wordSelected = 0, firstFate = Fate.none, mixed = false
        var count = selectedCount, masked = 0, randomised = 0
        let fates = scratch.fates, selectedBits = scratch.selectedBits
        for blockIndex in 0..<((row.length + 63) / 64) {
            var block = selectedBits[blockIndex]
            guard block != 0 else { continue }
            selectedBits[blockIndex] = 0
            repeat {
                let column = blockIndex * 64 + block.trailingZeroBitCount
                block &= block - 1
                let fate = fates[column]
                if countsWords {
                    if column >= wordEnd {
                        closeWord(pieces: wordPieces, selected: wordSelected, mixed: mixed, stats: &stats)
                        var start = column
                        wordEnd = column + 1
                        let word = row.wordIds[column]
                        if word >= 0 {
                            while start > 0 && row.wordIds[start - 1] == word && row.isEligible(start - 1) {
                                start -= 1
                            }
                            while wordEnd < row.length && row.wordIds[wordEnd] == word && row.isEligible(wordEnd) {
                                wordEnd += 1
                            }
                        }
                        wordPieces = wordEnd - start
                        wordSelected = 0
                        firstFate = fate
                        mixed = false
                    }
                    wordSelected += 1
                    if fate != firstFate { mixed = true }
                }

                let position = rowOffset + column
                let original = row.ids[column]
                labels[position] = original
                batch.positions[count] = Int32(truncatingIfNeeded: position)
                batch.labels[count] = original
                count += 1
                if fate == Fate.mask {
                    outIds[position] = maskId
                    masked += 1
                } else if fate == Fate.random {
                    outIds[position] = replacements[rng.below(replacements.count)]
                    randomised += 1
                }
            } while block != 0
        }
        if countsWords { closeWord(pieces: wordPieces, selected: wordSelected, mixed: mixed, stats: &stats) }
        stats.maskTokens += masked
        stats.randomTokens += randomised
        stats.keptTokens += count - selectedCount - masked - randomised
        selectedCount = count
    }

    @inline(__always)
    private func closeWord(pieces: Int, selected: Int, mixed: Bool, stats: inout MaskingStats) {
        guard pieces > 0 else { return }
        if selected == pieces {
            stats.selectedWords += 1
            if mixed { stats.mixedReplacementWords += 1 }
        } else {
            stats.partlySelectedWords += 1
        }
    }

    /// Runs `selector` over every filled row of `batch` and writes the result to `out`.
    func run<Selector: RowSelector>(
        _ selector: Selector, batch: TokenBatch, seed: UInt64, epoch: Int, batchIndex: Int,
        into out: inout MaskedBatch
    ) {
        out.reshape(like: batch)
        let seqLength = batch.seqLength
        let tokenCount = batch.batchSize * seqLength
        if seqLength > rowScratch.capacity { rowScratch = RowScratch(capacity: seqLength) }
        if tokenCount > batchScratch.capacity { batchScratch = BatchScratch(capacity: tokenCount) }
        let scratch = rowScratch, gathered = batchScratch
        var rng = Xoshiro256StarStar(seed: seed, epoch: options.staticMasking ? 0 : epoch, batchIndex: batchIndex)
        var stats = MaskingStats()
        var selectedCount = 0
        selector.beginBatch()

        // A batch whose arrays are shorter than its shape says masks only the rows they cover.
        let shortest = min(
            batch.inputIds.count, batch.attentionMask.count, batch.specialTokensMask.count, batch.wordIds.count)
        let rows = seqLength == 0 ? 0 : min(max(batch.rowCount, 0), batch.batchSize, shortest / seqLength)

        var outIds = [Int32]()
        var labels = [Int32]()
        var previousPositions = [Int32]()
        swap(&previousPositions, &out.maskedPositions)
        defer { swap(&previousPositions, &out.maskedPositions) }
        swap(&outIds, &out.inputIds)
        swap(&labels, &out.labels)
        batch.inputIds.withUnsafeBufferPointer { ids in
            batch.attentionMask.withUnsafeBufferPointer { attention in
                batch.specialTokensMask.withUnsafeBufferPointer { special in
                    batch.wordIds.withUnsafeBufferPointer { wordIds in
                        vocabulary.replacementIds.withUnsafeBufferPointer { replacements in
                            outIds.withUnsafeMutableBufferPointer { outIds in
                                labels.withUnsafeMutableBufferPointer { labels in
                                    guard let outBase = outIds.baseAddress, let labelBase = labels.baseAddress,
                                        let idBase = ids.baseAddress, let attentionBase = attention.baseAddress,
                                        let specialBase = special.baseAddress, let wordBase = wordIds.baseAddress
                                    else { return }
                                    outBase.update(from: idBase, count: min(ids.count, tokenCount))
                                    // Labels are -100 except at the previous batch's masked positions.
                                    for position in previousPositions { labelBase[Int(position)] = MaskedBatch.ignoreIndex }
                                    for rowIndex in 0..<rows {
                                        let offset = rowIndex * seqLength
                                        let row = RowView(
                                            ids: idBase + offset, attention: attentionBase + offset,
                                            special: specialBase + offset, wordIds: wordBase + offset,
                                            length: seqLength)
                                        selector.selectRow(row, scratch: scratch, rng: &rng, stats: &stats)
                                        emitRow(
                                            row, countsWords: Selector.countsWords, rowOffset: offset, scratch: scratch, batch: gathered,
                                            selectedCount: &selectedCount, outIds: outBase, labels: labelBase,
                                            replacements: replacements, rng: &rng, stats: &stats)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        swap(&outIds, &out.inputIds)
        swap(&labels, &out.labels)
        stats.selectedTokens = selectedCount
        out.rowCount = rows
        out.stats = stats
        previousPositions.removeAll(keepingCapacity: true)
        previousPositions.append(contentsOf: UnsafeBufferPointer(start: gathered.positions, count: selectedCount))
        out.maskedLabels.removeAll(keepingCapacity: true)
        out.maskedLabels.append(contentsOf: UnsafeBufferPointer(start: gathered.labels, count: selectedCount))
    }
}

/// A strategy's part of the work: select columns of one row (`scratch.select`) and count its
/// eligible tokens and words in `stats`.
protocol RowSelector: AnyObject {
    /// Whether word stats (selected, partly selected, mixed words) are counted; token masking skips
    /// them to stay fast.
    static var countsWords: Bool { get }
    var core: MaskingCore { get }
    func beginBatch()
    func selectRow(_ row: RowView, scratch: RowScratch, rng: inout Xoshiro256StarStar, stats: inout MaskingStats)
}

extension RowSelector {
    static var countsWords: Bool { true }
    func beginBatch() {}
}
