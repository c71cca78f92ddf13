import Corpus
import Foundation
import Masking

/// Packed 128-token rows of legal text with word ids, tokenized by HF `tokenizers`
/// (Scripts/fixtures/masking/generate.py), so these tests do not depend on our tokenizer.
struct MaskingFixture {
    struct Metadata: Decodable {
        let rows: Int
        let seqLength: Int
        let vocabSize: Int
        let padId: Int32
        let clsId: Int32
        let sepId: Int32
        let maskId: Int32
        let specialIds: [Int32]
    }

    let metadata: Metadata
    let inputIds: [Int32]
    let wordIds: [Int32]
    let vocabulary: MaskingVocabulary
    let specialIds: Set<Int32>
    /// The fixture in batches of 32 rows; the last one is short.
    let batches: [TokenBatch]

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/masking")

    /// Loaded once; every test reads it.
    static let shared: MaskingFixture = {
        do { return try MaskingFixture() } catch { preconditionFailure("masking fixture: \(error)") }
    }()

    init() throws {
        metadata = try JSONDecoder().decode(
            Metadata.self, from: Data(contentsOf: Self.directory.appendingPathComponent("fixture.json")))
        let count = metadata.rows * metadata.seqLength
        let idBytes = try Data(contentsOf: Self.directory.appendingPathComponent("input_ids.bin"))
        let wordBytes = try Data(contentsOf: Self.directory.appendingPathComponent("word_ids.bin"))
        guard idBytes.count == count * 4, wordBytes.count == count else {
            throw CocoaError(.fileReadCorruptFile)
        }
        inputIds = idBytes.withUnsafeBytes { raw in
            (0..<count).map { Int32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self)) }
        }
        wordIds = wordBytes.withUnsafeBytes { raw in (0..<count).map { Int32(raw.load(fromByteOffset: $0, as: Int8.self)) } }
        specialIds = Set(metadata.specialIds)
        vocabulary = try MaskingVocabulary(size: metadata.vocabSize, maskId: metadata.maskId, specialIds: specialIds)
        batches = Self.cut(metadata: metadata, inputIds: inputIds, wordIds: wordIds, batchSize: 32)
    }

    private static func cut(metadata: Metadata, inputIds: [Int32], wordIds: [Int32], batchSize: Int) -> [TokenBatch] {
        let seqLength = metadata.seqLength
        return stride(from: 0, to: metadata.rows, by: batchSize).map { firstRow in
            var batch = TokenBatch(batchSize: batchSize, seqLength: seqLength, padId: metadata.padId)
            batch.rowCount = min(batchSize, metadata.rows - firstRow)
            for index in 0..<(batch.rowCount * seqLength) {
                let id = inputIds[firstRow * seqLength + index]
                batch.inputIds[index] = id
                batch.wordIds[index] = wordIds[firstRow * seqLength + index]
                batch.attentionMask[index] = id == metadata.padId ? 0 : 1
                let special = id == metadata.padId || id == metadata.clsId || id == metadata.sepId
                batch.specialTokensMask[index] = special ? 1 : 0
            }
            return batch
        }
    }
}

/// What one masked batch did, read from its outputs alone (not from the strategy's stats).
struct ObservedMasking {
    var eligible = 0
    var selected = 0
    var masked = 0
    var random = 0
    var kept = 0
    var words = 0
    var partlySelectedWords = 0
    /// Fully selected words whose pieces were not all hidden the same way ([MASK] / other / kept).
    var mixedWords = 0
    var selectedPerRow: [Int] = []
    var eligiblePerRow: [Int] = []
    /// Problems found: special or padding tokens selected, special random replacements, bad positions.
    var violations: [String] = []

    init() {}

    init(batch: TokenBatch, masked out: MaskedBatch, maskId: Int32, specialIds: Set<Int32>) {
        let seqLength = batch.seqLength
        var expectedPositions = [Int32]()
        for row in 0..<batch.rowCount {
            var rowSelected = 0, rowEligible = 0
            var column = 0
            while column < seqLength {
                let index = row * seqLength + column
                let original = batch.inputIds[index]
                let isSelected = out.labels[index] != MaskedBatch.ignoreIndex
                let eligibleToken = batch.attentionMask[index] == 1 && batch.specialTokensMask[index] == 0
                if !eligibleToken {
                    if isSelected { violations.append("special/padding token selected at \(index)") }
                    if out.inputIds[index] != original { violations.append("special/padding token changed at \(index)") }
                    column += 1
                    continue
                }
                // One word: this column and the following columns with the same word id.
                var end = column + 1
                let word = batch.wordIds[index]
                while word >= 0, end < seqLength, batch.wordIds[row * seqLength + end] == word,
                    batch.specialTokensMask[row * seqLength + end] == 0 { end += 1 }
                var selectedPieces = 0
                var kinds = Set<Int>()
                for piece in column..<end {
                    let pieceIndex = row * seqLength + piece
                    let pieceOriginal = batch.inputIds[pieceIndex]
                    let output = out.inputIds[pieceIndex]
                    guard out.labels[pieceIndex] != MaskedBatch.ignoreIndex else {
                        if output != pieceOriginal { violations.append("unselected token changed at \(pieceIndex)") }
                        continue
                    }
                    if out.labels[pieceIndex] != pieceOriginal { violations.append("wrong label at \(pieceIndex)") }
                    expectedPositions.append(Int32(pieceIndex))
                    selectedPieces += 1
                    if output == maskId {
                        masked += 1
                        kinds.insert(0)
                    } else if output == pieceOriginal {
                        kept += 1
                        kinds.insert(2)
                    } else {
                        random += 1
                        kinds.insert(1)
                        if specialIds.contains(output) { violations.append("special random replacement \(output)") }
                    }
                }
                words += 1
                if selectedPieces > 0 && selectedPieces < end - column { partlySelectedWords += 1 }
                if selectedPieces == end - column && kinds.count > 1 { mixedWords += 1 }
                rowSelected += selectedPieces
                rowEligible += end - column
                column = end
            }
            selectedPerRow.append(rowSelected)
            eligiblePerRow.append(rowEligible)
            selected += rowSelected
            eligible += rowEligible
        }
        for index in (batch.rowCount * seqLength)..<(batch.batchSize * seqLength)
        where out.labels[index] != MaskedBatch.ignoreIndex || out.inputIds[index] != batch.inputIds[index] {
            violations.append("row past rowCount touched at \(index)")
        }
        if out.maskedPositions != expectedPositions { violations.append("maskedPositions differ from labels") }
        if out.maskedLabels != expectedPositions.map({ batch.inputIds[Int($0)] }) {
            violations.append("maskedLabels differ from the original ids")
        }
    }

    static func += (total: inout ObservedMasking, batch: ObservedMasking) {
        total.eligible += batch.eligible
        total.selected += batch.selected
        total.masked += batch.masked
        total.random += batch.random
        total.kept += batch.kept
        total.words += batch.words
        total.partlySelectedWords += batch.partlySelectedWords
        total.mixedWords += batch.mixedWords
        total.selectedPerRow += batch.selectedPerRow
        total.eligiblePerRow += batch.eligiblePerRow
        total.violations += batch.violations.prefix(5)
    }

    var selectionRate: Double { Double(selected) / Double(eligible) }
    func fraction(_ count: Int) -> Double { Double(count) / Double(selected) }
}

/// Masks the whole fixture with `options` for each epoch; returns what the outputs show and the stats.
func maskFixture(
    _ options: MaskingOptions, seed: UInt64 = 42, epochs: Range<Int> = 0..<1
) throws -> (observed: ObservedMasking, stats: MaskingStats) {
    let fixture = MaskingFixture.shared
    let strategy = try makeMaskingStrategy(options, vocabulary: fixture.vocabulary)
    var out = MaskedBatch(batchSize: 32, seqLength: fixture.metadata.seqLength)
    var observed = ObservedMasking()
    var stats = MaskingStats()
    for epoch in epochs {
        for (index, batch) in fixture.batches.enumerated() {
            strategy.mask(batch, seed: seed, epoch: epoch, batchIndex: index, into: &out)
            observed += ObservedMasking(
                batch: batch, masked: out, maskId: fixture.metadata.maskId, specialIds: fixture.specialIds)
            stats += out.stats
        }
    }
    return (observed, stats)
}
