import Foundation
import Testing

@testable import Classification

@Suite struct DataReaderTests {
    func write(_ text: String, name: String) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("classification-readers-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let url = directory.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url
    }

    @Test func csvHandlesRFC4180Quoting() throws {
        let csv = "id,text,label\r\n1,\"Hello, world\",pos\r\n2,\"She said \"\"hi\"\"\nthen left\",neg\r\n3,plain,pos\r\n"
        let examples = try DataReader.readExamples(from: write(csv, name: "t.csv"))
        #expect(examples.map(\.text) == ["Hello, world", "She said \"hi\"\nthen left", "plain"])
        #expect(examples.map(\.label) == ["pos", "neg", "pos"])
        #expect(examples.map(\.line) == [2, 3, 5])
    }

    @Test func csvErrorsNameTheLine() throws {
        let unclosed = try write("text,label\n\"open,a\n", name: "u.csv")
        #expect(throws: ClassificationError.invalidData("\(unclosed.path):2: quoted field is never closed")) {
            try DataReader.readExamples(from: unclosed)
        }
        let ragged = try write("text,label\na,b,c\n", name: "r.csv")
        #expect(throws: ClassificationError.invalidData("\(ragged.path):2: 3 fields, but the header has 2")) {
            try DataReader.readExamples(from: ragged)
        }
    }

    @Test func tsvWithPairAndCustomColumns() throws {
        let tsv = "premise\thypothesis\tgold\nA cat.\tAn animal.\tentail\n\nA dog.\tA car.\tneutral\n"
        let examples = try DataReader.readExamples(
            from: write(tsv, name: "p.tsv"), columns: TextColumns(text: "premise", pair: "hypothesis", label: "gold"))
        #expect(examples == [
            TextExample(text: "A cat.", pair: "An animal.", label: "entail", line: 2),
            TextExample(text: "A dog.", pair: "A car.", label: "neutral", line: 4),
        ])
        let missing = try write("body\tlabel\nx\ty\n", name: "m.tsv")
        #expect(throws: ClassificationError.self) { try DataReader.readExamples(from: missing) }
    }

    @Test func jsonlAcceptsIntegerLabels() throws {
        let jsonl = "{\"text\": \"good\", \"label\": 1}\n{\"text\": \"bad\", \"label\": \"0\"}\n\n"
        let examples = try DataReader.readExamples(from: write(jsonl, name: "d.jsonl"))
        #expect(examples.map(\.label) == ["1", "0"])
        let broken = try write("{\"text\": \"a\", \"label\": 1}\n{nope}\n", name: "b.jsonl")
        #expect(throws: ClassificationError.self) { try DataReader.readExamples(from: broken) }
    }

    @Test func conllSentencesSplitOnBlankLines() throws {
        let conll = "@user\tO\nNew\tB-geo-loc\nYork\tI-geo-loc\n\n\nhi\tO\n"
        let sentences = try DataReader.readTaggedSentences(from: write(conll, name: "n.conll"))
        #expect(sentences == [
            TaggedSentence(words: ["@user", "New", "York"], tags: ["O", "B-geo-loc", "I-geo-loc"], line: 1),
            TaggedSentence(words: ["hi"], tags: ["O"], line: 6),
        ])
        let bad = try write("word\n", name: "bad.conll")
        #expect(throws: ClassificationError.self) { try DataReader.readTaggedSentences(from: bad) }
    }
}
