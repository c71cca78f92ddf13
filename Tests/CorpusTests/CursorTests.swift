import Foundation
import Testing
@testable import Corpus

/// Batches over two epochs, each as its rows; an empty entry marks an epoch end.
private func straightRun(_ options: CorpusOptions, batchSize: Int) throws -> [[Row]] {
    let streamer = try CorpusStreamer(options: options, tokenizer: ToyTokenizer())
    return try pull(streamer, batchSize: batchSize, untilEpoch: 2)
}

private func pull(_ streamer: CorpusStreamer, batchSize: Int, untilEpoch: Int, limit: Int = .max) throws -> [[Row]] {
    var batch = TokenBatch(batchSize: batchSize, seqLength: streamer.options.maxSeqLength, padId: 0)
    var batches: [[Row]] = []
    while batches.count < limit, streamer.epoch < untilEpoch {
        if try streamer.nextBatch(into: &batch) {
            batches.append(rows(of: batch))
        } else {
            batches.append([])
            streamer.startNextEpoch()
        }
    }
    return batches
}

private let resumeCases: [(String, CorpusOptions, Int)] = [
    ("lines packed, shuffled, small chunks",
     CorpusOptions(sources: [Fixture.path("folder")], mode: .lines, maxSeqLength: 16, shuffleBufferSize: 7, seed: 11,
                   validationFraction: 0, tokenizationChunkBytes: 512), 3),
    ("multi-member gzip, documents, one document per row",
     CorpusOptions(sources: [Fixture.path("multi-member.txt.gz")], mode: .documents, maxSeqLength: 32,
                   packing: .packed(crossDocuments: false), shuffleBufferSize: 0, validationFraction: 0,
                   tokenizationChunkBytes: 1000), 4),
    ("validation split, line by line, shuffled",
     CorpusOptions(sources: [Fixture.path("folder"), Fixture.path("multi-member.txt.gz")], mode: .documents,
                   maxSeqLength: 24, packing: .lineByLine, shuffleBufferSize: 5, seed: 2, validationFraction: 0.3,
                   split: .validation, tokenizationChunkBytes: 300), 2),
    ("CSV table corpus (quoted commas and newlines)",
     CorpusOptions(sources: [Fixture.path("table.csv")], maxSeqLength: 16, shuffleBufferSize: 0, validationFraction: 0,
                   tokenizationChunkBytes: 400), 2),
    ("JSONL table corpus, validation split",
     CorpusOptions(sources: [Fixture.path("table.jsonl")], maxSeqLength: 12, shuffleBufferSize: 3, seed: 5,
                   validationFraction: 0.3, split: .validation, tokenizationChunkBytes: 200), 1),
]

@Test("a resumed stream continues with exactly the batches of a straight run",
      arguments: resumeCases.map { ($0.0, $0.1, $0.2) })
func resumeMatchesStraightRun(name: String, options: CorpusOptions, batchSize: Int) throws {
    let straight = try straightRun(options, batchSize: batchSize)
    #expect(straight.count > 20, "\(name)")
    var memberOffsets = Set<Int64>()
    for cut in Set(stride(from: 0, to: straight.count, by: max(1, straight.count / 9)).map { $0 } + [straight.count - 1]) {
        let first = try CorpusStreamer(options: options, tokenizer: ToyTokenizer())
        #expect(try pull(first, batchSize: batchSize, untilEpoch: 2, limit: cut) == Array(straight[..<cut]))
        let saved = try JSONEncoder().encode(first.cursor)
        let cursor = try JSONDecoder().decode(CorpusCursor.self, from: saved)
        memberOffsets.insert(cursor.position.memberOffset)
        let resumed = try CorpusStreamer(options: options, tokenizer: ToyTokenizer(), resumeFrom: cursor)
        let rest = try pull(resumed, batchSize: batchSize, untilEpoch: 2)
        #expect(rest == Array(straight[cut...]), "\(name): resumed after \(cut) batches")
    }
    if name.contains("gzip") {
        #expect(memberOffsets.count > 1, "resume points sit in later gzip members, not only the first")
    }
}

@Test("a cursor from other options or files is refused")
func mismatchedCursorIsRefused() throws {
    let options = CorpusOptions(sources: [Fixture.path("folder")], maxSeqLength: 16, shuffleBufferSize: 4)
    let streamer = try CorpusStreamer(options: options, tokenizer: ToyTokenizer())
    var batch = TokenBatch(batchSize: 2, seqLength: 16, padId: 0)
    _ = try streamer.nextBatch(into: &batch)
    let cursor = streamer.cursor
    var otherSeed = options
    otherSeed.seed = 1
    var otherFiles = options
    otherFiles.sources = [Fixture.path("folder/a.txt")]
    for other in [otherSeed, otherFiles] {
        #expect(throws: CorpusError.self) { try CorpusStreamer(options: other, tokenizer: ToyTokenizer(), resumeFrom: cursor) }
    }
    var future = cursor
    future.formatVersion = 99
    #expect(throws: CorpusError.self) { try CorpusStreamer(options: options, tokenizer: ToyTokenizer(), resumeFrom: future) }
}
