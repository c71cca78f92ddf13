import Corpus

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
