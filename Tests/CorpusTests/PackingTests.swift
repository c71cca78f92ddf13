import Foundation
import Testing
@testable import Corpus

private let sources = [Fixture.path("folder")]
private let folderFiles = ["folder/a.txt", "folder/b.txt", "folder/sub/c.txt"]

private func options(_ mode: CorpusMode, _ packing: CorpusPacking, length: Int, chunk: Int = 700) -> CorpusOptions {
    CorpusOptions(sources: sources, mode: mode, maxSeqLength: length, packing: packing, shuffleBufferSize: 0,
                  validationFraction: 0, tokenizationChunkBytes: chunk)
}

/// Reference documents of the folder fixture in stream order (d.txt.gz holds big.txt lines 5000..<5040,
/// checked against its plain twin in SourceTests; here its text is read through the corpus reader).
private func folderDocuments(_ mode: CorpusMode) throws -> [String] {
    var documents = try folderFiles.flatMap { try Fixture.documents($0, mode: mode) }
    let gzipReader = try DocumentReader(path: Fixture.path("folder/sub/d.txt.gz"), position: .start, mode: mode)
    while try gzipReader.next() { documents.append(gzipReader.decode().text) }
    return documents
}

private let layouts: [(CorpusMode, CorpusPacking, Int)] = [
    (.lines, .packed(crossDocuments: true), 16),
    (.lines, .packed(crossDocuments: false), 16),
    (.lines, .lineByLine, 12),
    (.documents, .packed(crossDocuments: true), 128),
    (.documents, .packed(crossDocuments: false), 32),
    (.documents, .lineByLine, 64),
]

@Test("every row is [CLS] tokens [SEP] then padding, with consistent masks and word ids", arguments: layouts)
func rowsAreWellFormed(mode: CorpusMode, packing: CorpusPacking, length: Int) throws {
    let streamer = try CorpusStreamer(options: options(mode, packing, length: length), tokenizer: ToyTokenizer())
    let all = try epochRows(streamer, batchSize: 5)
    #expect(all.count > 10)
    for row in all {
        let used = row.attention.reduce(0) { $0 + Int($1) }
        #expect(used >= 3)
        #expect(row.attention[..<used].allSatisfy { $0 == 1 } && row.attention[used...].allSatisfy { $0 == 0 })
        #expect(row.ids[0] == 1 && row.ids[used - 1] == 2)
        #expect(row.ids[used...].allSatisfy { $0 == 0 })
        #expect(row.typeIds.allSatisfy { $0 == 0 })
        for column in 0..<length {
            let isSpecial = column == 0 || column >= used - 1 || row.ids[column] == 2
            #expect(row.special[column] == (isSpecial ? 1 : 0))
            #expect((row.wordIds[column] == -1) == isSpecial)
        }
        // Word ids count up from 0 in steps of 0 or 1.
        var last: Int32 = -1
        for word in row.wordIds where word >= 0 {
            #expect(word == last || word == last + 1)
            last = word
        }
        if packing != .packed(crossDocuments: true) {
            #expect(!row.content.contains(2), "only crossDocuments rows have an inner [SEP]")
        }
    }
}

@Test("rows per document: exactly the documents' tokens, cut into rows (or truncated)", arguments: [
    (CorpusMode.lines, CorpusPacking.packed(crossDocuments: false), 16),
    (.documents, .packed(crossDocuments: false), 32),
    (.lines, .lineByLine, 12),
    (.documents, .lineByLine, 64),
])
func documentBoundariesAreRespected(mode: CorpusMode, packing: CorpusPacking, length: Int) throws {
    let streamer = try CorpusStreamer(options: options(mode, packing, length: length), tokenizer: ToyTokenizer())
    let actual = try epochRows(streamer).map { Array($0.content) }
    var expected: [[Int32]] = []
    var truncated = 0
    for document in try folderDocuments(mode) {
        let ids = Fixture.tokens(of: document).ids
        guard !ids.isEmpty else { continue }
        if packing == .lineByLine {
            expected.append(Array(ids.prefix(length - 2)))
            truncated += max(0, ids.count - (length - 2))
        } else {
            expected += stride(from: 0, to: ids.count, by: length - 2).map { Array(ids[$0..<min($0 + length - 2, ids.count)]) }
        }
    }
    #expect(actual == expected)
    #expect(streamer.stats.truncatedTokens == truncated)
    #expect(streamer.stats.sequences == expected.count)
}

@Test("packed across documents: no token lost or repeated, [SEP] exactly between documents, word ids follow words",
      arguments: [(CorpusMode.lines, 16), (.documents, 128), (.lines, 7)])
func packingAcrossDocumentsConservesTokens(mode: CorpusMode, length: Int) throws {
    let streamer = try CorpusStreamer(options: options(mode, .packed(crossDocuments: true), length: length),
                                      tokenizer: ToyTokenizer())
    let all = try epochRows(streamer)
    // The reference stream: documents' pieces with a boundary marker (nil) between documents.
    var expected: [(id: Int32, word: Int)?] = []
    var globalWord = 0
    for document in try folderDocuments(mode) {
        let tokens = Fixture.tokens(of: document)
        guard !tokens.ids.isEmpty else { continue }
        if !expected.isEmpty { expected.append(nil) }
        for (id, word) in zip(tokens.ids, tokens.wordIds) { expected.append((id, globalWord + Int(word))) }
        globalWord += Int(tokens.wordIds.last ?? 0) + 1
    }
    var position = 0
    for (rowIndex, row) in all.enumerated() {
        // A row may start at a document boundary; the boundary then needs no [SEP].
        if position < expected.count, expected[position] == nil { position += 1 }
        var previousGlobal = -1
        var previousLocal: Int32 = -1
        let used = row.attention.reduce(0) { $0 + Int($1) }
        if rowIndex < all.count - 1 { #expect(used >= length - 1, "only the last row may be short") }
        for column in 1..<(used - 1) {
            guard position < expected.count else {
                Issue.record("more tokens than the documents hold")
                return
            }
            if row.ids[column] == 2 {
                #expect(expected[position] == nil, "inner [SEP] must sit at a document boundary")
                position += 1
                previousGlobal = -1
                continue
            }
            guard let token = expected[position] else {
                Issue.record("document boundary without [SEP] inside row \(rowIndex)")
                return
            }
            #expect(row.ids[column] == token.id)
            let local = row.wordIds[column]
            #expect((local == previousLocal) == (token.word == previousGlobal), "row-local word ids follow words")
            previousGlobal = token.word
            previousLocal = local
            position += 1
        }
    }
    #expect(position == expected.count, "every token appears")
}

@Test("the packed stream does not depend on the chunk size or the number of cores used")
func chunkingDoesNotChangeTheStream() throws {
    let reference = try epochRows(CorpusStreamer(
        options: options(.documents, .packed(crossDocuments: true), length: 24, chunk: 1 << 20), tokenizer: ToyTokenizer()))
    for chunk in [1, 97, 5000] {
        let other = try epochRows(CorpusStreamer(
            options: options(.documents, .packed(crossDocuments: true), length: 24, chunk: chunk), tokenizer: ToyTokenizer()))
        #expect(other == reference, "chunk \(chunk)")
    }
}

@Test("a short last batch is padded and counted in rowCount; then the epoch is over until restarted")
func lastBatchAndEpochEnd() throws {
    let streamer = try CorpusStreamer(options: options(.lines, .lineByLine, length: 8), tokenizer: ToyTokenizer())
    let total = try epochRows(streamer, batchSize: 1).count
    let batchSize = 7
    streamer.startNextEpoch()
    var batch = TokenBatch(batchSize: batchSize, seqLength: 8, padId: 0)
    var counts: [Int] = []
    while try streamer.nextBatch(into: &batch) { counts.append(batch.rowCount) }
    #expect(counts.reduce(0, +) == total)
    #expect(counts.dropLast().allSatisfy { $0 == batchSize })
    #expect(batch.rowCount == 0 && batch.attentionMask.allSatisfy { $0 == 0 })
    #expect(streamer.isEpochFinished)
    #expect(try !streamer.nextBatch(into: &batch))
    streamer.startNextEpoch()
    #expect(streamer.epoch == 2)
    #expect(try streamer.nextBatch(into: &batch))
}

@Test("a batch whose seqLength differs from maxSeqLength is refused")
func batchShapeIsChecked() throws {
    let streamer = try CorpusStreamer(options: options(.lines, .lineByLine, length: 8), tokenizer: ToyTokenizer())
    var batch = TokenBatch(batchSize: 2, seqLength: 9, padId: 0)
    #expect(throws: CorpusError.batchShapeMismatch(expectedSeqLength: 8, got: 9)) {
        try streamer.nextBatch(into: &batch)
    }
}

@Test("tokenizing a chunk on all cores gives the same stream as one document after another")
func parallelTokenizationKeepsOrder() throws {
    let folder = try Fixture.temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let text = try String(contentsOfFile: Fixture.path("multi-member.txt"), encoding: .utf8)
    let file = folder.appendingPathComponent("big.txt")
    // ~270 KB: chunks of 1 MB are split across cores, chunks of 1 byte hold one document each.
    try String(repeating: text, count: 8).write(to: file, atomically: true, encoding: .utf8)
    func stream(chunk: Int) throws -> [Row] {
        try epochRows(CorpusStreamer(
            options: CorpusOptions(sources: [file.path], mode: .documents, maxSeqLength: 64, shuffleBufferSize: 0,
                                   validationFraction: 0, tokenizationChunkBytes: chunk),
            tokenizer: ToyTokenizer()), batchSize: 64)
    }
    let parallel = try stream(chunk: 1 << 20)
    #expect(parallel.count > 500)
    #expect(parallel == (try stream(chunk: 1)))
}
