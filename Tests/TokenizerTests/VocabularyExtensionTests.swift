import Foundation
import Testing
@testable import Tokenizer

/// `VocabularyExtension`: the words it chooses, and HF `tokenizers` parity on the vocabularies it extends
/// (goldens from Scripts/fixtures/tokenizer/generate_extended.py).
@Suite struct VocabularyExtensionTests {
    static func baseTokens(_ vocab: String) throws -> [String] {
        try Vocabulary(contentsOf: Fixtures.vocabularyURL(vocab)).tokens
    }

    static func added(_ vocab: String) throws -> [String] {
        try Fixtures.lines("extension_\(vocab)_legal_sample")
    }

    static func extendedTokenizer(_ vocab: String) throws -> WordPieceTokenizer {
        WordPieceTokenizer(vocabulary: try Vocabulary(tokens: baseTokens(vocab) + added(vocab)), lowercase: vocab == "uncased")
    }

    static let cases: [(vocab: String, input: String)] = [
        ("uncased", "legal_sample"), ("uncased", "edge_cases"), ("cased", "legal_sample"), ("cased", "edge_cases"),
    ]

    @Test(arguments: cases)
    func extendedVocabularyMatchesHFTokenizers(vocab: String, input: String) throws {
        let tokenizer = try Self.extendedTokenizer(vocab)
        let lines = try Fixtures.lines(input)
        let goldens = try Fixtures.jsonLines("golden_extended_\(vocab)_\(input).jsonl", as: SingleGolden.self)
        try #require(lines.count == goldens.count)
        let firstNew = Int32(try Self.baseTokens(vocab).count)
        var differing: [Int] = []
        var newTokens = 0
        for (number, (line, golden)) in zip(lines, goldens).enumerated() {
            let encoding = tokenizer.encode(line)
            newTokens += encoding.ids.count { $0 >= firstNew }
            var same = encoding.ids == golden.ids && encoding.flatOffsets == golden.offsets && encoding.flatWordIds == golden.words
            if let decoded = golden.decoded { same = same && tokenizer.decode(encoding.ids) == decoded }
            if !same {
                if differing.count < 3 {
                    Issue.record("\(input) line \(number + 1): ours \(encoding.ids) \(encoding.flatOffsets), HF \(golden.ids) \(golden.offsets)")
                }
                differing.append(number + 1)
            }
        }
        #expect(differing.isEmpty, "\(differing.count) of \(lines.count) lines differ: \(differing.prefix(20))")
        if input == "legal_sample" { #expect(newTokens > 1000, "the sample uses the added tokens only \(newTokens) times") }
    }

    /// The committed extensions are what `rank` chooses on the sample, and each added word is then one token.
    @Test(arguments: ["uncased", "cased"])
    func rankingChoosesTheCommittedWords(vocab: String) throws {
        let lowercase = vocab == "uncased"
        let base = WordPieceTokenizer(vocabulary: try Vocabulary(tokens: Self.baseTokens(vocab)), lowercase: lowercase)
        var counts = WordCounts(lowercase: lowercase)
        for line in try Fixtures.lines("legal_sample") { counts.feed(line[...]) }
        let ranked = VocabularyExtension.rank(counts.counts, base: base)
        let added = try Self.added(vocab)
        #expect(ranked.prefix(300).map(\.word) == added)
        // Best first by pieces saved; every candidate needs two or more pieces and occurs at least twice.
        #expect(zip(ranked, ranked.dropFirst()).allSatisfy { $0.saving >= $1.saving })
        #expect(ranked.allSatisfy { $0.basePieces >= 2 && $0.count >= 2 })
        let extended = try Self.extendedTokenizer(vocab)
        for (offset, word) in added.enumerated() {
            #expect(extended.encode(word, addSpecialTokens: false).ids == [Int32(base.vocabulary.count + offset)], "\(word)")
            #expect(VocabularyExtension.producible(word, lowercase: lowercase), "\(word)")
        }
    }

    static let producibility: [(token: String, lowercase: Bool, producible: Bool)] = [
        ("licensee", true, true), ("Licensee", true, false), ("Licensee", false, true), ("café", true, false),
        ("cafe", true, true), ("café", false, true), ("well-known", true, false), ("two words", true, false),
        ("##ship", true, true), ("##Ship", true, false), ("##", true, false), (String(repeating: "a", count: 100), true, true),
        (String(repeating: "a", count: 101), true, false), ("[MASK]", true, false), ("中文", true, false), ("中", true, true),
    ]

    @Test(arguments: producibility.indices)
    func onlyTokensTheNormalizerCanProduceAreAccepted(index: Int) {
        let (token, lowercase, expected) = Self.producibility[index]
        #expect(VocabularyExtension.producible(token, lowercase: lowercase) == expected, "\(token.prefix(20)) lowercase \(lowercase)")
    }

    static let badLists: [(name: String, tokens: @Sendable ([String]) -> [String], fragments: [String])] = [
        ("moved", { base in var t = base; t.swapAt(7, 9); return t + ["licensor"] }, ["e.txt, line 8", "id 7"]),
        ("dropped", { base in [base[0]] + base.dropFirst(2) + ["licensor"] }, ["line 2", "'[unused1]' where", "has '[unused0]' (id 1)"]),
        ("short", { base in Array(base.prefix(100)) }, ["line 101", "ends after 100 tokens"]),
        ("too many", { base in base + (0..<30523).map { "word\($0)" } }, ["adds 30523 tokens", "at most 30522"]),
        ("uppercase", { base in base + ["licensor", "LICENSOR"] }, ["line 30524", "'LICENSOR' can never be produced by the uncased"]),
    ]

    @Test(arguments: badLists.indices)
    func badExtensionsNameTheLine(index: Int) throws {
        let (name, make, fragments) = Self.badLists[index]
        let base = try Self.baseTokens("uncased")
        let tokens = make(base)
        let error = try #require(throws: VocabularyError.self) {
            try VocabularyExtension.check(extended: tokens, base: base, lowercase: true, file: "e.txt", baseSource: "base.txt")
        }
        for fragment in fragments {
            #expect(error.description.contains(fragment), "\(name): \(error)")
        }
        #expect(try VocabularyExtension.check(extended: base + ["licensor"], base: base, lowercase: true, file: "e.txt", baseSource: "b") == 1)
    }
}
