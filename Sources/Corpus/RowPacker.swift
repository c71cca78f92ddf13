/// Packs the tokens of a `ChunkTokenizer`'s chunks into `[CLS] … [SEP]` rows of at most
/// `maxSeqLength` tokens. Word ids restart from 0 in each row; the pieces of a word cut by a row
/// boundary get a fresh id in the new row.
final class RowPacker {
    let chunk: ChunkTokenizer
    private let capacity: Int
    private let crossDocuments: Bool
    private let oneRowPerDocument: Bool
    private let clsId: Int32, sepId: Int32, padId: Int32

    /// Where packing stands in the chunk: the next document, and how many of its tokens are packed.
    var documentIndex = 0
    var tokenIndex = 0
    /// The row built by the last `packRow`.
    private(set) var rowIds: [Int32] = []
    private(set) var rowWordIds: [Int32] = []

    init(chunk: ChunkTokenizer, maxSeqLength: Int, packing: CorpusPacking) {
        self.chunk = chunk
        capacity = maxSeqLength - 2
        crossDocuments = packing == .packed(crossDocuments: true)
        oneRowPerDocument = packing == .lineByLine
        (clsId, sepId, padId) = (chunk.tokenizer.clsId, chunk.tokenizer.sepId, chunk.tokenizer.padId)
        rowIds.reserveCapacity(maxSeqLength)
        rowWordIds.reserveCapacity(maxSeqLength)
    }

    /// Whether some of the chunk is not packed yet.
    var isInsideChunk: Bool { documentIndex < chunk.documentEnds.count }

    /// Starts over at the beginning of the chunk.
    func startChunk() {
        documentIndex = 0
        tokenIndex = 0
    }

    /// Builds the next row in `rowIds`/`rowWordIds`, calling `loadChunk` whenever the chunk is used
    /// up (it returns false when there is nothing more to read). Returns the row's tokens without
    /// `[CLS]`/`[SEP]` (0: nothing was left, and the row is not framed), and the tokens a
    /// line-by-line row had to cut.
    func packRow(loadChunk: () throws -> Bool) rethrows -> (tokens: Int, truncated: Int) {
        rowIds.removeAll(keepingCapacity: true)
        rowWordIds.removeAll(keepingCapacity: true)
        rowIds.append(clsId)
        rowWordIds.append(-1)
        var used = 0
        var truncated = 0
        var rowWord: Int32 = -1
        var previousWord = Int32.min
        while used < capacity {
            if documentIndex == chunk.documentEnds.count {
                guard try loadChunk() else { break }
            }
            let documentEnds = chunk.documentEnds
            let documentStart = documentIndex == 0 ? 0 : documentEnds[documentIndex - 1]
            let documentEnd = documentEnds[documentIndex]
            if documentStart == documentEnd {
                documentIndex += 1
                continue
            }
            if tokenIndex == 0, used > 0 {
                // Only with crossDocuments: a [SEP] between documents, if a piece fits after it.
                guard used + 1 < capacity else { break }
                rowIds.append(sepId)
                rowWordIds.append(-1)
                used += 1
                previousWord = Int32.min
            }
            let from = documentStart + tokenIndex
            let taken = min(documentEnd - from, capacity - used)
            // Local buffers: per-token access to class properties would pay exclusivity checks.
            var ids = rowIds
            var wordIds = rowWordIds
            rowIds = []
            rowWordIds = []
            let (clsId, sepId, padId) = (self.clsId, self.sepId, self.padId)
            chunk.ids.withUnsafeBufferPointer { chunkIds in
                chunk.wordIds.withUnsafeBufferPointer { chunkWordIds in
                    for index in from..<(from + taken) {
                        let id = chunkIds[index]
                        // "[CLS]", "[SEP]" or "[PAD]" written in the text stay special: never masked, no word.
                        if id == clsId || id == sepId || id == padId {
                            ids.append(id)
                            wordIds.append(-1)
                            continue
                        }
                        let word = chunkWordIds[index]
                        if word != previousWord {
                            rowWord += 1
                            previousWord = word
                        }
                        ids.append(id)
                        wordIds.append(rowWord)
                    }
                }
            }
            rowIds = ids
            rowWordIds = wordIds
            used += taken
            tokenIndex += taken
            if oneRowPerDocument {
                truncated += documentEnd - from - taken
                tokenIndex = documentEnd - documentStart
            }
            if documentStart + tokenIndex == documentEnd {
                documentIndex += 1
                tokenIndex = 0
            }
            if !crossDocuments { break }
        }
        if used > 0 {
            rowIds.append(sepId)
            rowWordIds.append(-1)
        }
        return (used, truncated)
    }
}
