import Foundation
import Testing
@testable import Tokenizer

/// Golden outputs of HF `tokenizers` 0.23.3 (Scripts/fixtures/tokenizer/generate.py).
@Suite struct ParityTests {
    static let cases: [(vocab: String, input: String)] = [
        ("uncased", "legal_sample"), ("uncased", "edge_cases"), ("uncased", "random_unicode"), ("uncased", "combining_marks"),
        ("cased", "legal_sample"), ("cased", "edge_cases"), ("cased", "random_unicode"), ("cased", "combining_marks"),
    ]

    @Test(arguments: cases)
    func singleSequences(vocab: String, input: String) throws {
        let tokenizer = try #require(Fixtures.tokenizer(vocab))
        let lines = try Fixtures.lines(input)
        let goldens = try Fixtures.jsonLines("golden_\(vocab)_\(input).jsonl", as: SingleGolden.self)
        try #require(lines.count == goldens.count)
        var differing: [Int] = []
        for (number, (line, golden)) in zip(lines, goldens).enumerated() {
            let encoding = tokenizer.encode(line)
            var same = encoding.ids == golden.ids && encoding.flatOffsets == golden.offsets
                && encoding.flatWordIds == golden.words
            if let special = golden.special { same = same && encoding.specialTokensMask == special }
            if let decoded = golden.decoded { same = same && tokenizer.decode(encoding.ids) == decoded }
            if let decodedAll = golden.decoded_all {
                same = same && tokenizer.decode(encoding.ids, skipSpecialTokens: false) == decodedAll
            }
            if !same {
                if differing.count < 5 {
                    Issue.record("""
                        \(input) line \(number + 1) \(line.debugDescription)
                          ours ids \(encoding.ids) offsets \(encoding.flatOffsets) words \(encoding.flatWordIds) \
                        decoded \(tokenizer.decode(encoding.ids).debugDescription)
                          HF   ids \(golden.ids) offsets \(golden.offsets) words \(golden.words) \
                        decoded \((golden.decoded ?? "").debugDescription)
                        """)
                }
                differing.append(number + 1)
            }
        }
        #expect(differing.isEmpty, "\(differing.count) of \(lines.count) lines differ: \(differing.prefix(20))")
    }

    /// The corpus fast path gives the same pieces and word ids as `encode`, without `[CLS]`/`[SEP]`, and
    /// continues word ids from `firstWordId` across calls.
    @Test(arguments: ["uncased", "cased"])
    func appendPiecesMatchesGoldens(vocab: String) throws {
        let tokenizer = try #require(Fixtures.tokenizer(vocab))
        let lines = try Fixtures.lines("legal_sample") + Fixtures.lines("edge_cases")
        let goldens = try Fixtures.jsonLines("golden_\(vocab)_legal_sample.jsonl", as: SingleGolden.self)
            + Fixtures.jsonLines("golden_\(vocab)_edge_cases.jsonl", as: SingleGolden.self)
        var ids: [Int32] = []
        var wordIds: [Int32] = []
        var expectedIds: [Int32] = []
        var expectedWords: [Int32] = []
        var nextWord: Int32 = 7
        for (line, golden) in zip(lines, goldens) {
            let start = nextWord
            nextWord = tokenizer.appendPieces(of: line[...], ids: &ids, wordIds: &wordIds, firstWordId: start)
            let inner = 1..<(golden.ids.count - 1)
            expectedIds += golden.ids[inner]
            expectedWords += golden.words[inner].map { $0 + start }
            let lastWord = golden.words[inner].max().map { $0 + 1 } ?? 0
            #expect(nextWord - start >= lastWord)
        }
        #expect(ids == expectedIds)
        #expect(wordIds == expectedWords)
    }

    @Test(arguments: ["uncased", "cased"])
    func pairsTruncationAndPadding(vocab: String) throws {
        let tokenizer = try #require(Fixtures.tokenizer(vocab))
        let goldens = try Fixtures.jsonLines("golden_\(vocab)_pairs.jsonl", as: PairGolden.self)
        #expect(goldens.count > 50)
        for golden in goldens {
            let encoding = tokenizer.encode(
                golden.a, pair: golden.b, addSpecialTokens: golden.add_special, maxLength: golden.max_length,
                padToLength: golden.pad_to)
            let label = "a=\(golden.a.debugDescription) b=\((golden.b ?? "-").debugDescription) max=\(golden.max_length ?? -1) pad=\(golden.pad_to ?? -1) special=\(golden.add_special)"
            #expect(encoding.ids == golden.ids, "\(label)")
            #expect(encoding.tokens == golden.tokens, "\(label)")
            #expect(encoding.typeIds == golden.type_ids, "\(label)")
            #expect(encoding.flatOffsets == golden.offsets, "\(label)")
            #expect(encoding.flatWordIds == golden.words, "\(label)")
            #expect(encoding.specialTokensMask == golden.special, "\(label)")
            #expect(encoding.attentionMask == golden.attention, "\(label)")
        }
    }
}
