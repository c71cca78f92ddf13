import Foundation
import Testing
@testable import Tokenizer

@Suite struct TrainerTests {
    static func trainOnLegalSample() throws -> [String] {
        var trainer = WordPieceTrainer(vocabularySize: 2000, minFrequency: 2, limitAlphabet: 1000, lowercase: true)
        for line in try Fixtures.lines("legal_sample") { trainer.feed(line[...]) }
        return trainer.train()
    }

    /// HF's own trainer iterates hash maps, so its ties fall differently from run to run; the vocabularies
    /// must still agree almost everywhere.
    @Test func matchesHFWordPieceTrainer() throws {
        let ours = try Self.trainOnLegalSample()
        let hfData = try Data(contentsOf: Fixtures.directory.appendingPathComponent("golden_trainer_vocab.txt"))
        let hf = String(decoding: hfData, as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(ours.count == hf.count)
        #expect(Array(ours.prefix(5)) == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
        let shared = Set(ours).intersection(hf).count
        #expect(Double(shared) / Double(ours.count) >= 0.95, "only \(shared) of \(ours.count) tokens in HF's vocab")
        // The alphabet block (single scalars, in scalar order, right after the special tokens) is exact.
        let alphabet = { (tokens: [String]) in tokens.dropFirst(5).prefix { $0.unicodeScalars.count == 1 } }
        #expect(Array(alphabet(ours)) == Array(alphabet(hf)))
    }

    @Test func deterministicAndUsable() throws {
        let first = try Self.trainOnLegalSample()
        let second = try Self.trainOnLegalSample()
        #expect(first == second)
        #expect(Set(first).count == first.count)
        let tokenizer = WordPieceTokenizer(vocabulary: try Vocabulary(tokens: first))
        let encoding = tokenizer.encode("Permission is hereby granted, free of charge.")
        #expect(!encoding.ids.contains(tokenizer.vocabulary.unkId))
        #expect(tokenizer.decode(encoding.ids) == "permission is hereby granted, free of charge.")
    }

    @Test func mergeReportsPairChanges() {
        var word: [Int32] = [1, 2, 3, 2, 3]
        let changes = WordPieceTrainer.merge(&word, 2, 3, into: 9)
        #expect(word == [1, 9, 9])
        let pair = WordPieceTrainer.pair
        #expect(changes.map { $0.0 } == [pair(1, 2), pair(1, 9), pair(3, 2), pair(9, 2), pair(9, 2), pair(9, 9)])
        #expect(changes.map { $0.1 } == [-1, 1, -1, 1, -1, 1])
    }
}
