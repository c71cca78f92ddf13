import Foundation
import Testing
import Tokenizer
@testable import Corpus

private let vocabularyURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Vocab/bert-base-uncased.txt")

@Test("with the real WordPiece tokenizer the packed stream is exactly its direct encoding, words included",
      arguments: [CorpusMode.lines, .documents])
func wordPieceStreamMatchesDirectEncoding(mode: CorpusMode) throws {
    let tokenizer = WordPieceTokenizer(vocabulary: try Vocabulary(contentsOf: vocabularyURL))
    let sources = ["folder/a.txt", "folder/b.txt", "multi-member.txt.gz"]
    let options = CorpusOptions(sources: sources.map(Fixture.path), mode: mode, maxSeqLength: 64, shuffleBufferSize: 0,
                                validationFraction: 0, tokenizationChunkBytes: 4096)
    let rows = try epochRows(CorpusStreamer(options: options, tokenizer: tokenizer), batchSize: 8)

    var expectedIds: [Int32] = []
    var expectedWords: [Int] = []
    var wordBase = 0
    for name in ["folder/a.txt", "folder/b.txt", "multi-member.txt"] {
        for document in try Fixture.documents(name, mode: mode) {
            let encoding = tokenizer.encode(document, addSpecialTokens: false)
            expectedIds += encoding.ids
            expectedWords += encoding.wordIds.map { wordBase + Int($0 ?? -1) }
            wordBase += Int((encoding.wordIds.last ?? nil) ?? 0) + 1
        }
    }
    var streamedIds: [Int32] = []
    var sameWordAsPrevious: [Bool] = []
    for row in rows {
        var previous: Int32 = -1
        for column in 0..<64 where row.special[column] == 0 {
            streamedIds.append(row.ids[column])
            sameWordAsPrevious.append(row.wordIds[column] == previous)
            previous = row.wordIds[column]
        }
    }
    #expect(streamedIds == expectedIds)
    // Same word as the previous piece in the row exactly when the direct encoding says so
    // (a row's first piece always starts a word, even when it continues one from the row before).
    var position = 0
    var mismatches = 0
    for row in rows {
        var previousWord = -1
        for column in 0..<64 where row.special[column] == 0 && position < expectedWords.count {
            let word = expectedWords[position]
            if sameWordAsPrevious[position] != (word == previousWord) { mismatches += 1 }
            previousWord = word
            position += 1
        }
    }
    #expect(mismatches == 0)
}

@Test("[CLS], [SEP] and [PAD] written in the text stay special tokens")
func literalSpecialTokensStaySpecial() throws {
    let vocabulary = try Vocabulary(contentsOf: vocabularyURL)
    let folder = try Fixture.temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let file = folder.appendingPathComponent("special.txt")
    try "hello [SEP] world\n".write(to: file, atomically: true, encoding: .utf8)
    let options = CorpusOptions(sources: [file.path], maxSeqLength: 8, shuffleBufferSize: 0, validationFraction: 0)
    let row = try #require(try epochRows(CorpusStreamer(options: options, tokenizer: WordPieceTokenizer(vocabulary: vocabulary))).first)
    let ids = [vocabulary.clsId, vocabulary.id(of: "hello"), vocabulary.sepId, vocabulary.id(of: "world"), vocabulary.sepId]
    #expect(row.ids.prefix(5).map { Optional($0) } == ids)
    #expect(row.special.prefix(6) == [1, 0, 1, 0, 1, 1])
    #expect(row.wordIds.prefix(5) == [-1, 0, -1, 1, -1])
}
