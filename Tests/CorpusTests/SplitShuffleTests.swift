import Foundation
import Testing
@testable import Corpus

private func streamer(split: CorpusSplit, fraction: Double, mode: CorpusMode = .lines, shuffle: Int = 0, seed: UInt64 = 0,
                      sources: [String] = [Fixture.path("folder")]) throws -> CorpusStreamer {
    try CorpusStreamer(options: CorpusOptions(sources: sources, mode: mode, maxSeqLength: 256, packing: .lineByLine,
                                              shuffleBufferSize: shuffle, seed: seed, validationFraction: fraction,
                                              split: split, tokenizationChunkBytes: 500),
                       tokenizer: ToyTokenizer())
}

@Test("train and validation are disjoint and together hold every document", arguments: [CorpusMode.lines, .documents])
func splitsAreDisjointAndComplete(mode: CorpusMode) throws {
    // lineByLine with long rows: one row per document, untruncated, so rows stand for documents.
    let train = try epochRows(streamer(split: .train, fraction: 0.3, mode: mode)).map(\.ids)
    let validation = try epochRows(streamer(split: .validation, fraction: 0.3, mode: mode)).map(\.ids)
    let everything = try epochRows(streamer(split: .train, fraction: 0, mode: mode)).map(\.ids)
    #expect(!train.isEmpty && !validation.isEmpty)
    #expect(Set(train).isDisjoint(with: Set(validation)))
    #expect(multiset(train + validation) == multiset(everything))
}

@Test("the split of each document matches the independent Python hash (split-golden.txt)")
func splitMatchesGolden() throws {
    let golden = try String(contentsOfFile: Fixture.path("split-golden.txt"), encoding: .utf8)
        .split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
    var actual: [[String]] = []
    for name in ["folder/a.txt", "folder/b.txt"] {
        for mode in [CorpusMode.lines, .documents] {
            let reader = try DocumentReader(path: Fixture.path(name), position: .start, mode: mode)
            var firstLine = reader.position.lineNumber
            while try reader.next() {
                firstLine = reader.lineNumbers.first ?? firstLine
                let heldOut = Double(reader.splitHash() >> 11) * 0x1p-53 < 0.3
                actual.append([name, mode.rawValue, String(firstLine), heldOut ? "validation" : "train"])
            }
        }
    }
    #expect(actual == golden)
}

@Test("about the requested fraction of documents is held out")
func validationFractionIsRespected() throws {
    let folder = try Fixture.temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let file = folder.appendingPathComponent("numbers.txt")
    try (0..<4000).map { "document number \($0) of the fraction test" }.joined(separator: "\n")
        .write(to: file, atomically: true, encoding: .utf8)
    let validation = try streamer(split: .validation, fraction: 0.05, sources: [file.path])
    _ = try epochRows(validation, batchSize: 64)
    // Binomial(4000, 0.05): mean 200, sd 13.8; ±4.5 sd.
    #expect((138...262).contains(validation.stats.documents))
    #expect(validation.stats.documents + validation.stats.otherSplitDocuments == 4000)
}

@Test("shuffling is deterministic per seed, differs between epochs and seeds, and keeps every row")
func shuffleIsDeterministic() throws {
    func run(seed: UInt64) throws -> (CorpusStreamer, [Row]) {
        let shuffled = try streamer(split: .train, fraction: 0, shuffle: 50, seed: seed)
        return (shuffled, try epochRows(shuffled))
    }
    let (first, epoch0) = try run(seed: 7)
    let (_, again) = try run(seed: 7)
    let (_, otherSeed) = try run(seed: 8)
    first.startNextEpoch()
    let epoch1 = try epochRows(first)
    let unshuffled = try epochRows(streamer(split: .train, fraction: 0))
    #expect(epoch0 == again)
    #expect(epoch0 != otherSeed)
    #expect(epoch0 != epoch1)
    #expect(epoch0 != unshuffled)
    // lineByLine rows do not depend on file order, so every ordering holds the same rows.
    for ordering in [epoch1, otherSeed] {
        #expect(multiset(ordering) == multiset(unshuffled))
    }
    #expect(multiset(epoch0) == multiset(unshuffled))
}

@Test("packed rows under shuffling hold exactly the tokens of the corpus")
func shuffledPackingConservesTokens() throws {
    let options = CorpusOptions(sources: [Fixture.path("folder")], mode: .documents, maxSeqLength: 32,
                                shuffleBufferSize: 20, seed: 3, validationFraction: 0, tokenizationChunkBytes: 800)
    let rows = try epochRows(CorpusStreamer(options: options, tokenizer: ToyTokenizer()))
    let streamed = rows.flatMap { $0.content.filter { $0 != 2 } }
    var expected: [Int32] = []
    for name in ["folder/a.txt", "folder/b.txt", "folder/sub/c.txt"] {
        for document in try Fixture.documents(name, mode: .documents) { expected += Fixture.tokens(of: document).ids }
    }
    let gzipReader = try DocumentReader(path: Fixture.path("folder/sub/d.txt.gz"), position: .start, mode: .documents)
    while try gzipReader.next() { expected += Fixture.tokens(of: gzipReader.decode().text).ids }
    #expect(multiset(streamed) == multiset(expected))
}
