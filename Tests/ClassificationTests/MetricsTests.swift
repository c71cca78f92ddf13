import Foundation
import Testing

@testable import Classification

let classificationFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/classification")

/// Goldens written by Scripts/fixtures/classification/generate.py with the `seqeval` package.
struct SeqevalCase: Decodable, CustomTestStringConvertible, Sendable {
    struct TypeScore: Decodable, Sendable { var precision, recall, f1: Double; var support: Int }
    var name: String
    var gold: [[String]]
    var predicted: [[String]]
    var gold_entities: [[[Entity]]]
    var predicted_entities: [[[Entity]]]
    var precision, recall, f1, macro_f1: Double
    var per_type: [String: TypeScore]
    var testDescription: String { name }

    /// A `[type, start, end]` triple as JSON mixes strings and integers.
    enum Entity: Decodable, Sendable, Equatable {
        case text(String), number(Int)
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let n = try? c.decode(Int.self) { self = .number(n) } else { self = .text(try c.decode(String.self)) }
        }
    }

    static func load() throws -> [SeqevalCase] {
        try JSONDecoder().decode(
            [SeqevalCase].self, from: Data(contentsOf: classificationFixtures.appendingPathComponent("seqeval_golden.json")))
    }
}

struct MacroF1Case: Decodable, CustomTestStringConvertible, Sendable {
    var name: String
    var labels: Int
    var gold: [Int32]
    var predicted: [Int32]
    var accuracy, macro_f1: Double
    var testDescription: String { name }

    static func load() throws -> [MacroF1Case] {
        try JSONDecoder().decode(
            [MacroF1Case].self, from: Data(contentsOf: classificationFixtures.appendingPathComponent("macro_f1_golden.json")))
    }
}

@Suite struct EntityMetricsTests {
    @Test(arguments: try SeqevalCase.load())
    func entitiesMatchSeqevalGetEntities(_ golden: SeqevalCase) {
        for (sentences, expected) in [(golden.gold, golden.gold_entities), (golden.predicted, golden.predicted_entities)] {
            for (index, tags) in sentences.enumerated() {
                let spans = EntityMetrics.entities(in: tags).map {
                    [SeqevalCase.Entity.text($0.type), .number($0.start), .number($0.end)]
                }
                #expect(spans == expected[index], "sentence \(index): \(tags)")
            }
        }
    }

    @Test(arguments: try SeqevalCase.load())
    func scoresMatchSeqeval(_ golden: SeqevalCase) {
        let metrics = EntityMetrics(gold: golden.gold, predicted: golden.predicted)
        #expect(abs(metrics.precision - golden.precision) < 1e-12)
        #expect(abs(metrics.recall - golden.recall) < 1e-12)
        #expect(abs(metrics.f1 - golden.f1) < 1e-12)
        #expect(abs(metrics.macroF1 - golden.macro_f1) < 1e-12)
        #expect(Set(metrics.perType.map(\.label)) == Set(golden.per_type.keys))
        for score in metrics.perType {
            guard let expected = golden.per_type[score.label] else { continue }
            #expect(abs(score.precision - expected.precision) < 1e-12, "\(score.label)")
            #expect(abs(score.recall - expected.recall) < 1e-12, "\(score.label)")
            #expect(abs(score.f1 - expected.f1) < 1e-12, "\(score.label)")
            #expect(score.support == expected.support, "\(score.label)")
        }
    }
}

@Suite struct ClassificationMetricsTests {
    @Test(arguments: try MacroF1Case.load())
    func macroF1MatchesHandComputed(_ golden: MacroF1Case) throws {
        let labels = try LabelSet(names: (0..<golden.labels).map { "c\($0)" })
        let metrics = ClassificationMetrics(gold: golden.gold, predicted: golden.predicted, labels: labels)
        #expect(abs(metrics.accuracy - golden.accuracy) < 1e-12)
        #expect(abs(metrics.macroF1 - golden.macro_f1) < 1e-12)
    }

    @Test func perClassScoresAndConfusionByHand() throws {
        // gold:      a a a b b c
        // predicted: a a b b c c
        let labels = try LabelSet(names: ["a", "b", "c"])
        let metrics = ClassificationMetrics(gold: [0, 0, 0, 1, 1, 2], predicted: [0, 0, 1, 1, 2, 2], labels: labels)
        #expect(metrics.confusion == [[2, 1, 0], [0, 1, 1], [0, 0, 1]])
        #expect(metrics.accuracy == 4.0 / 6.0)
        let a = metrics.perClass[0], b = metrics.perClass[1], c = metrics.perClass[2]
        #expect(a.precision == 1 && abs(a.recall - 2.0 / 3.0) < 1e-15 && a.support == 3)
        #expect(b.precision == 0.5 && b.recall == 0.5 && abs(b.f1 - 0.5) < 1e-15)
        #expect(c.precision == 0.5 && c.recall == 1 && abs(c.f1 - 2.0 / 3.0) < 1e-15)
        #expect(abs(metrics.macroF1 - (0.8 + 0.5 + 2.0 / 3.0) / 3) < 1e-12)
    }

    @Test func labelSetSortsNumericLabelsNumerically() throws {
        #expect(try LabelSet(collecting: ["10", "2", "1", "2"]).names == ["1", "2", "10"])
        #expect(try LabelSet(collecting: ["tech", "business", "tech"]).names == ["business", "tech"])
        #expect(throws: ClassificationError.self) { try LabelSet(names: ["a", "a"]) }
        let labels = try LabelSet(names: ["x", "y"])
        #expect(throws: ClassificationError.self) {
            try labels.ids(of: [TextExample(text: "t", label: "z", line: 7)], path: "dev.tsv")
        }
    }
}
