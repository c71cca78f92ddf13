import Foundation
import Testing
@testable import Tokenizer

@Suite struct VocabularyTests {
    static let specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

    @Test func bertVocabularies() throws {
        let uncased = try Vocabulary(contentsOf: Fixtures.vocabularyURL("uncased"))
        #expect(uncased.count == 30522)
        #expect([uncased.padId, uncased.unkId, uncased.clsId, uncased.sepId, uncased.maskId] == [0, 100, 101, 102, 103])
        #expect(uncased.id(of: "court") == 2457)
        #expect(uncased.id(of: "##ing") == 2075)
        #expect(uncased.token(of: 2075) == "##ing")
        #expect(uncased.id(of: "not-a-token") == nil)
        #expect(uncased.specialIds == [0, 100, 101, 102, 103])
        let cased = try Vocabulary(contentsOf: Fixtures.vocabularyURL("cased"))
        #expect(cased.count == 28996)
        #expect([cased.padId, cased.unkId, cased.clsId, cased.sepId, cased.maskId] == [0, 100, 101, 102, 103])
        #expect(cased.id(of: "Court") != nil && cased.id(of: "Court") != cased.id(of: "court"))
    }

    @Test func crlfLinesAndTrailingWhitespaceAreTrimmed() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("vocab-crlf-\(UUID()).txt")
        defer { try? FileManager.default.removeItem(at: url) }
        try (Self.specials + ["hello ", "##ish"]).joined(separator: "\r\n").write(to: url, atomically: true, encoding: .utf8)
        let vocabulary = try Vocabulary(contentsOf: url)
        #expect(vocabulary.count == 7)
        #expect(vocabulary.id(of: "hello") == 5)
        #expect(vocabulary.id(of: "##ish") == 6)
    }

    static let badVocabularies: [(tokens: [String], message: String)] = [
        (["[PAD]", "[UNK]", "[CLS]", "[SEP]"], "missing special token(s) [MASK]"),
        (specials + ["a", "b", "a"], "line 8: duplicate token \"a\" (first on line 6)"),
        (specials + ["a", "", "b"], "line 7: empty token"),
    ]

    @Test(arguments: badVocabularies)
    func badVocabularyNamesTheProblem(tokens: [String], message: String) throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("vocab-bad-\(UUID()).txt")
        defer { try? FileManager.default.removeItem(at: url) }
        try (tokens.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
        let error = try #require(throws: VocabularyError.self) { try Vocabulary(contentsOf: url) }
        #expect(error.description.contains(url.path))
        #expect(error.description.contains(message), "\(error.description)")
    }

    @Test func missingFileNamesTheFile() throws {
        let url = URL(fileURLWithPath: "/nonexistent/vocab.txt")
        let error = try #require(throws: VocabularyError.self) { try Vocabulary(contentsOf: url) }
        #expect(error.description.contains("/nonexistent/vocab.txt"))
    }
}
