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

/// Scratch buffers, replacement rule and bookkeeping shared by the strategies.
final class MaskingCore {
    let options: MaskingOptions
    let vocabulary: MaskingVocabulary
    let selectThreshold: UInt64
    private let maskThreshold: UInt64
    private let randomThreshold: UInt64
    let rowCap: Int

    // Per row, `rowCapacity` entries each.
    private(set) var rowCapacity = 0
    /// Fate of each column of the current row; reset to `Fate.none` as the row is emitted.
    private(set) var fates = UnsafeMutablePointer<UInt8>.allocate(capacity: 0)
    private(set) var eligible = UnsafeMutablePointer<Int32>.allocate(capacity: 0)
    private(set) var wordStart = UnsafeMutablePointer<Int32>.allocate(capacity: 0)
    private(set) var wordLength = UnsafeMutablePointer<Int32>.allocate(capacity: 0)
    private(set) var wordOrder = UnsafeMutablePointer<Int32>.allocate(capacity: 0)
    private(set) var wordTaken = UnsafeMutablePointer<UInt8>.allocate(capacity: 0)

    // Per batch: the masked positions and labels gathered before they are copied out.
    private var batchCapacity = 0
    private var positions = UnsafeMutablePointer<Int32>.allocate(capacity: 0)
    private var positionLabels = UnsafeMutablePointer<Int32>.allocate(capacity: 0)
    private var selectedCount = 0
    var stats = MaskingStats()

    init(options: MaskingOptions, vocabulary: MaskingVocabulary) throws(MaskingError) {
        try options.validate()
        self.options = options
        self.vocabulary = vocabulary
        selectThreshold = probabilityThreshold(options.probability)
        maskThreshold = probabilityThreshold(options.maskRatio)
        randomThreshold = probabilityThreshold(options.maskRatio + options.randomRatio)
        rowCap = options.maxPredictionsPerSeq ?? Int.max
    }

    deinit {
        for buffer in [eligible, wordStart, wordLength, wordOrder, positions, positionLabels] { buffer.deallocate() }
        fates.deallocate()
        wordTaken.deallocate()
    }

    private func reserve(seqLength: Int, tokens: Int) {
        if seqLength > rowCapacity {
            for buffer in [eligible, wordStart, wordLength, wordOrder] { buffer.deallocate() }
            fates.deallocate()
            wordTaken.deallocate()
            fates = .allocate(capacity: seqLength)
            fates.initialize(repeating: Fate.none, count: seqLength)
            eligible = .allocate(capacity: seqLength)
            wordStart = .allocate(capacity: seqLength)
            wordLength = .allocate(capacity: seqLength)
            wordOrder = .allocate(capacity: seqLength)
            wordTaken = .allocate(capacity: seqLength)
            rowCapacity = seqLength
        }
        if tokens > batchCapacity {
            positions.deallocate()
            positionLabels.deallocate()
            positions = .allocate(capacity: tokens)
            positionLabels = .allocate(capacity: tokens)
            batchCapacity = tokens
        }
    }

    /// Row target under the exact budget: round(p·n), at least 1, at most the cap.
    @inline(__always)
    func exactTarget(eligibleTokens n: Int) -> Int {
        guard n > 0 else { return 0 }
        return min(max(1, Int((options.probability * Double(n)).rounded())), rowCap)
    }

    @inline(__always)
    func drawFate(_ rng: inout Xoshiro256StarStar) -> UInt8 {
        let u = rng.unit53()
        return u < maskThreshold ? Fate.mask : (u < randomThreshold ? Fate.random : Fate.keep)
    }

    /// Gathers the row's eligible columns into `eligible`; returns their count.
    @inline(__always)
    func collectEligible(_ row: RowView) -> Int {
        var count = 0
        for column in 0..<row.length where row.isEligible(column) {
            eligible[count] = Int32(truncatingIfNeeded: column)
            count += 1
        }
        return count
    }

    /// Gathers the row's words into `wordStart`/`wordLength`: runs of one word id over consecutive
    /// eligible columns (an eligible token without a word id is a word of its own). Returns
    /// (words, eligible tokens).
    @inline(__always)
    func collectWords(_ row: RowView) -> (words: Int, tokens: Int) {
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
        return (words, tokens)
    }

    /// Selects word `index`: one fate for all its pieces, or one each with `perPieceReplacement`.
    @inline(__always)
    func selectWord(_ index: Int, fate: UInt8, rng: inout Xoshiro256StarStar) {
        let start = Int(wordStart[index]), end = start + Int(wordLength[index])
        if options.perPieceReplacement {
            for column in start..<end { fates[column] = drawFate(&rng) }
        } else {
            for column in start..<end { fates[column] = fate }
        }
    }

    /// Applies the row's fates to the output, records positions and labels, counts stats, and
    /// clears the fates for the next row.
    @inline(__always)
    func emitRow(
        _ row: RowView, rowOffset: Int, outIds: UnsafeMutablePointer<Int32>, labels: UnsafeMutablePointer<Int32>,
        rng: inout Xoshiro256StarStar
    ) {
        let replacements = vocabulary.replacementIds
        let maskId = vocabulary.maskId
        var previousWord: Int32 = -1, previousColumn = -2
        var pieces = 0, selectedPieces = 0, firstFate = Fate.none, mixed = false
        replacements.withUnsafeBufferPointer { replacementIds in
            for column in 0..<row.length where row.isEligible(column) {
                stats.eligibleTokens += 1
                let word = row.wordIds[column]
                let continuesWord = word >= 0 && word == previousWord && column == previousColumn + 1
                if !continuesWord {
                    closeWord(pieces: pieces, selected: selectedPieces, mixed: mixed)
                    pieces = 0
                    selectedPieces = 0
                    mixed = false
                }
                previousWord = word
                previousColumn = column
                pieces += 1
                let fate = fates[column]
                guard fate != Fate.none else { continue }
                if selectedPieces == 0 { firstFate = fate } else if fate != firstFate { mixed = true }
                selectedPieces += 1
                fates[column] = Fate.none
                let position = rowOffset + column
                let original = row.ids[column]
                labels[position] = original
                positions[selectedCount] = Int32(truncatingIfNeeded: position)
                positionLabels[selectedCount] = original
                selectedCount += 1
                switch fate {
                case Fate.mask:
                    outIds[position] = maskId
                    stats.maskTokens += 1
                case Fate.random:
                    outIds[position] = replacementIds[rng.below(replacementIds.count)]
                    stats.randomTokens += 1
                default:
                    stats.keptTokens += 1
                }
            }
        }
        closeWord(pieces: pieces, selected: selectedPieces, mixed: mixed)
    }

    @inline(__always)
    private func closeWord(pieces: Int, selected: Int, mixed: Bool) {
        guard pieces > 0 else { return }
        stats.eligibleWords += 1
        if selected == pieces {
            stats.selectedWords += 1
            if mixed { stats.mixedReplacementWords += 1 }
        } else if selected > 0 {
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
        reserve(seqLength: seqLength, tokens: tokenCount)
        var rng = Xoshiro256StarStar(seed: seed, epoch: options.staticMasking ? 0 : epoch, batchIndex: batchIndex)
        stats = MaskingStats()
        selectedCount = 0
        selector.beginBatch()

        // A batch whose arrays are shorter than its shape says masks only the rows they cover.
        let shortest = min(
            batch.inputIds.count, batch.attentionMask.count, batch.specialTokensMask.count, batch.wordIds.count)
        let rows = seqLength == 0 ? 0 : min(max(batch.rowCount, 0), batch.batchSize, shortest / seqLength)

        var outIds = [Int32]()
        var labels = [Int32]()
        swap(&outIds, &out.inputIds)
        swap(&labels, &out.labels)
        batch.inputIds.withUnsafeBufferPointer { ids in
            batch.attentionMask.withUnsafeBufferPointer { attention in
                batch.specialTokensMask.withUnsafeBufferPointer { special in
                    batch.wordIds.withUnsafeBufferPointer { wordIds in
                        outIds.withUnsafeMutableBufferPointer { outIds in
                            labels.withUnsafeMutableBufferPointer { labels in
                                guard let outBase = outIds.baseAddress, let labelBase = labels.baseAddress,
                                    let idBase = ids.baseAddress, let attentionBase = attention.baseAddress,
                                    let specialBase = special.baseAddress, let wordBase = wordIds.baseAddress
                                else { return }
                                let copied = min(ids.count, tokenCount)
                                outBase.update(from: idBase, count: copied)
                                labelBase.update(repeating: MaskedBatch.ignoreIndex, count: tokenCount)
                                for rowIndex in 0..<rows {
                                    let offset = rowIndex * seqLength
                                    let row = RowView(
                                        ids: idBase + offset, attention: attentionBase + offset,
                                        special: specialBase + offset, wordIds: wordBase + offset,
                                        length: seqLength)
                                    selector.selectRow(row, rng: &rng)
                                    emitRow(row, rowOffset: offset, outIds: outBase, labels: labelBase, rng: &rng)
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
        out.maskedPositions.removeAll(keepingCapacity: true)
        out.maskedPositions.append(contentsOf: UnsafeBufferPointer(start: positions, count: selectedCount))
        out.maskedLabels.removeAll(keepingCapacity: true)
        out.maskedLabels.append(contentsOf: UnsafeBufferPointer(start: positionLabels, count: selectedCount))
    }
}

/// A strategy's part of the work: mark the fates of one row in `core.fates`.
protocol RowSelector: AnyObject {
    var core: MaskingCore { get }
    func beginBatch()
    func selectRow(_ row: RowView, rng: inout Xoshiro256StarStar)
}

extension RowSelector {
    func beginBatch() {}
}
