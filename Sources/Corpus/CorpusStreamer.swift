import Foundation
import SeededRandom

/// Streams a corpus as `TokenBatch`es: reads files in chunks (constant memory), splits lines or
/// documents, keeps one split by hash, tokenizes each chunk on all cores (`ChunkTokenizer`), packs
/// `[CLS] … [SEP]` rows (`RowPacker`) and shuffles them through a seeded buffer.
///
/// Epochs are explicit: `nextBatch` returns false once the epoch is used up (the batch before may
/// be short, see `TokenBatch.rowCount`) and keeps returning false until `startNextEpoch()`.
/// Each epoch visits the files in a seeded order (file order when not shuffling) and draws from
/// the shuffle buffer with a seed of its own, so epochs differ and runs with one seed agree.
public final class CorpusStreamer {
    public let options: CorpusOptions
    /// The resolved files, sorted within each folder or glob, in the order the sources named them.
    public let files: [String]
    public private(set) var stats = CorpusStats()
    public private(set) var epoch = 0

    private let tokenizer: any CorpusTokenizer
    private let fingerprint: String
    private var fileOrder: [Int] = []

    // Reading: where the next chunk starts, and the open file if any.
    private var readFile = 0
    private var readPosition = FilePosition.start
    private var documents: DocumentReader?
    private var sourceExhausted = false

    // The chunk being packed: documents of this split, tokenized and concatenated.
    private var chunkFile = 0
    private var chunkStart = FilePosition.start
    private var texts: [String] = []
    private let chunk: ChunkTokenizer
    private let packer: RowPacker

    // Shuffling.
    private var shuffle: ShuffleBuffer
    private var random = SplitMix64(state: 0)
    private var epochSequences = 0

    private enum RandomStream: UInt64 {
        case fileOrder = 1
        case trainShuffle = 2
        case validationShuffle = 3
    }

    public convenience init(options: CorpusOptions, tokenizer: some CorpusTokenizer) throws {
        try self.init(options: options, tokenizer: tokenizer, resumeFrom: nil)
    }

    public init(options: CorpusOptions, tokenizer: some CorpusTokenizer, resumeFrom cursor: CorpusCursor?) throws {
        try options.validate()
        self.options = options
        self.tokenizer = tokenizer
        files = try CorpusSources.resolve(options.sources).files
        fingerprint = Self.fingerprint(options: options, files: files)
        chunk = ChunkTokenizer(tokenizer: tokenizer)
        packer = RowPacker(chunk: chunk, maxSeqLength: options.maxSeqLength, packing: options.packing)
        shuffle = ShuffleBuffer(capacity: options.shuffleBufferSize, seqLength: options.maxSeqLength)
        beginEpoch(0)
        if let cursor { try resume(from: cursor) }
    }

    /// Fills `batch` with the next rows. Returns false when the epoch has no rows left.
    public func nextBatch(into batch: inout TokenBatch) throws -> Bool {
        guard batch.seqLength == options.maxSeqLength else {
            throw CorpusError.batchShapeMismatch(expectedSeqLength: options.maxSeqLength, got: batch.seqLength)
        }
        var row = 0
        while row < batch.batchSize, try nextSequence(into: &batch, row: row) {
            row += 1
        }
        batch.rowCount = row
        for padded in row..<batch.batchSize {
            write(ids: [][...], wordIds: [][...], into: &batch, row: padded)
        }
        return row > 0
    }

    /// True once `nextBatch` has handed out every row of this epoch.
    public var isEpochFinished: Bool { sourceExhausted && shuffle.count == 0 }

    /// Starts the next epoch (also from the middle of one, dropping what is left of it).
    public func startNextEpoch() {
        beginEpoch(epoch + 1)
    }

    /// Where this stream stands between batches; store it to resume later.
    public var cursor: CorpusCursor {
        let insideChunk = packer.isInsideChunk
        return CorpusCursor(
            formatVersion: CorpusCursor.currentFormatVersion,
            optionsFingerprint: fingerprint,
            epoch: epoch,
            fileIndex: insideChunk ? chunkFile : readFile,
            position: insideChunk ? chunkStart : readPosition,
            documentsToSkip: insideChunk ? packer.documentIndex : 0,
            tokensToSkip: insideChunk ? packer.tokenIndex : 0,
            sourceExhausted: sourceExhausted,
            epochSequences: epochSequences,
            shuffleRandomState: random.state,
            pendingSequences: shuffle.encoded())
    }

    // MARK: - Epochs and resuming

    private func beginEpoch(_ newEpoch: Int) {
        epoch = newEpoch
        fileOrder = Array(files.indices)
        if options.shuffleBufferSize > 1 {
            var orderRandom = SplitMix64(seed: options.seed, stream: RandomStream.fileOrder.rawValue, epoch: newEpoch)
            for i in stride(from: fileOrder.count - 1, to: 0, by: -1) {
                fileOrder.swapAt(i, orderRandom.below(i + 1))
            }
        }
        let shuffleStream: RandomStream = options.split == .train ? .trainShuffle : .validationShuffle
        random = SplitMix64(seed: options.seed, stream: shuffleStream.rawValue, epoch: newEpoch)
        readFile = 0
        readPosition = .start
        documents = nil
        sourceExhausted = false
        texts.removeAll(keepingCapacity: true)
        chunk.clear()
        packer.startChunk()
        epochSequences = 0
        shuffle = ShuffleBuffer(capacity: options.shuffleBufferSize, seqLength: options.maxSeqLength)
    }

    private func resume(from cursor: CorpusCursor) throws {
        guard cursor.formatVersion == CorpusCursor.currentFormatVersion else {
            throw CorpusError.cursorMismatch("cursor format \(cursor.formatVersion), expected \(CorpusCursor.currentFormatVersion)")
        }
        guard cursor.optionsFingerprint == fingerprint else {
            throw CorpusError.cursorMismatch("it was made for [\(cursor.optionsFingerprint)], these options and files are [\(fingerprint)]")
        }
        guard cursor.epoch >= 0, (0...files.count).contains(cursor.fileIndex) else {
            throw CorpusError.cursorMismatch("epoch \(cursor.epoch), file index \(cursor.fileIndex) of \(files.count)")
        }
        beginEpoch(cursor.epoch)
        readFile = cursor.fileIndex
        readPosition = cursor.position
        sourceExhausted = cursor.sourceExhausted
        epochSequences = cursor.epochSequences
        random.state = cursor.shuffleRandomState
        try shuffle.restore(cursor.pendingSequences)
        guard cursor.documentsToSkip > 0 || cursor.tokensToSkip > 0 else { return }
        let location = "\(files[fileOrder[min(cursor.fileIndex, files.count - 1)]]) line \(cursor.position.lineNumber)"
        guard try loadChunk(), chunkFile == cursor.fileIndex, cursor.documentsToSkip < chunk.documentEnds.count else {
            throw CorpusError.cursorMismatch("the chunk at \(location) has fewer documents than the cursor skips; did the file change?")
        }
        let documentEnds = chunk.documentEnds
        let documentIndex = cursor.documentsToSkip
        let documentLength = documentEnds[documentIndex] - (documentIndex == 0 ? 0 : documentEnds[documentIndex - 1])
        guard cursor.tokensToSkip < documentLength else {
            throw CorpusError.cursorMismatch("document \(documentIndex) of the chunk at \(location) is shorter than the cursor skips; did the file change?")
        }
        packer.documentIndex = documentIndex
        packer.tokenIndex = cursor.tokensToSkip
    }

    private static func fingerprint(options: CorpusOptions, files: [String]) -> String {
        // File names, not full paths, so a corpus folder may move between runs.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for file in files {
            for byte in (file.split(separator: "/").last ?? "").utf8 + [0] {
                hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
            }
        }
        let packing: String
        switch options.packing {
        case .packed(let crossDocuments): packing = crossDocuments ? "packed" : "packed-per-document"
        case .lineByLine: packing = "line-by-line"
        }
        return "mode=\(options.mode.rawValue) maxSeqLength=\(options.maxSeqLength) packing=\(packing) "
            + "shuffle=\(options.shuffleBufferSize) seed=\(options.seed) validation=\(options.validationFraction) "
            + "split=\(options.split.rawValue) chunk=\(options.tokenizationChunkBytes) "
            + "files=\(files.count):\(String(hash, radix: 16))"
    }

    // MARK: - Shuffling

    private func nextSequence(into batch: inout TokenBatch, row: Int) throws -> Bool {
        if options.shuffleBufferSize <= 1 {
            guard try produceSequence() else { return false }
            write(ids: packer.rowIds[...], wordIds: packer.rowWordIds[...], into: &batch, row: row)
            return true
        }
        while !shuffle.isFull, try produceSequence() {
            shuffle.append(ids: packer.rowIds[...], wordIds: packer.rowWordIds[...])
        }
        guard shuffle.count > 0 else { return false }
        let pick = random.below(shuffle.count)
        shuffle.remove(at: pick) { ids, wordIds in
            write(ids: ids, wordIds: wordIds, into: &batch, row: row)
        }
        return true
    }

    private func write(ids: ArraySlice<Int32>, wordIds: ArraySlice<Int32>, into batch: inout TokenBatch, row: Int) {
        let seqLength = options.maxSeqLength
        let base = row * seqLength
        var column = 0
        for (id, word) in zip(ids, wordIds) {
            batch.inputIds[base + column] = id
            batch.wordIds[base + column] = word
            batch.attentionMask[base + column] = 1
            batch.specialTokensMask[base + column] = word < 0 ? 1 : 0
            batch.tokenTypeIds[base + column] = 0
            column += 1
        }
        for padded in column..<seqLength {
            batch.inputIds[base + padded] = tokenizer.padId
            batch.wordIds[base + padded] = -1
            batch.attentionMask[base + padded] = 0
            batch.specialTokensMask[base + padded] = 1
            batch.tokenTypeIds[base + padded] = 0
        }
    }

    // MARK: - Packing

    /// Packs the next row into `packer.rowIds`/`rowWordIds`; false when the epoch's files are used up.
    private func produceSequence() throws -> Bool {
        if sourceExhausted { return false }
        let packed = try packer.packRow { try loadChunk() }
        stats.truncatedTokens += packed.truncated
        if packed.tokens == 0 {
            sourceExhausted = true
            if epochSequences == 0 && shuffle.count == 0 {
                throw CorpusError.emptyCorpus(
                    sources: options.sources, split: options.split, documents: stats.documents + stats.otherSplitDocuments)
            }
            return false
        }
        epochSequences += 1
        stats.sequences += 1
        return true
    }

    // MARK: - Reading and tokenizing

    /// Reads documents of this split until a chunk's worth of text, then tokenizes them. Moves on
    /// through the epoch's files; false once all are read.
    private func loadChunk() throws -> Bool {
        texts.removeAll(keepingCapacity: true)
        chunk.clear()
        packer.startChunk()
        let wantValidation = options.split == .validation
        while readFile < files.count {
            let path = files[fileOrder[readFile]]
            let reader = try documents ?? DocumentReader(path: path, position: readPosition, mode: options.mode, textColumn: options.textColumn ?? CorpusOptions.defaultTextColumn)
            documents = reader
            chunkFile = readFile
            chunkStart = readPosition
            var chunkBytes = 0
            var fileEnded = false
            while chunkBytes < options.tokenizationChunkBytes {
                guard try reader.next() else {
                    fileEnded = true
                    break
                }
                stats.textBytes += reader.bytes.count
                guard options.holdsOut(splitHash: reader.splitHash()) == wantValidation else {
                    stats.otherSplitDocuments += 1
                    continue
                }
                let decoded = reader.decode()
                if let firstBad = decoded.invalidLines.first {
                    if stats.firstInvalidUTF8 == nil { stats.firstInvalidUTF8 = SourceLocation(file: path, line: firstBad) }
                    stats.invalidUTF8Lines += decoded.invalidLines.count
                }
                texts.append(decoded.text)
                chunkBytes += reader.bytes.count
            }
            if fileEnded {
                documents = nil
                readFile += 1
                readPosition = .start
            } else {
                readPosition = reader.position
            }
            if !texts.isEmpty {
                chunk.tokenize(texts)
                stats.documents += texts.count
                stats.tokens += chunk.ids.count
                return true
            }
        }
        return false
    }
}
