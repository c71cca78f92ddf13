import Foundation
import Testing
@testable import Corpus

/// The texts the fixture generator wrote, from the JSONL file (decoded by Foundation, not by us).
private func expectedTexts() throws -> [String] {
    let text = try String(contentsOfFile: Fixture.path("table.jsonl"), encoding: .utf8)
    return try text.split(separator: "\n").map { line in
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        return try #require(object?["text"] as? String)
    }
}

private func documents(_ name: String, column: String = "text") throws -> [String] {
    let reader = try DocumentReader(path: Fixture.path(name), position: .start, mode: .lines, textColumn: column)
    var result: [String] = []
    while try reader.next() { result.append(reader.decode().text) }
    return result
}

@Test("a table corpus gives one document per record: its text column", arguments: ["table.csv", "table.jsonl", "table.tsv"])
func tableRecordsAreDocuments(name: String) throws {
    let expected = try expectedTexts()
    #expect(expected.count == 80)
    // TSV has no quoting, so the generator replaced newlines inside texts by spaces.
    let wanted = name.hasSuffix(".tsv") ? expected.map { $0.replacingOccurrences(of: "\n", with: " ") } : expected
    #expect(try documents(name) == wanted)
}

@Test("a missing text column is an error naming the file and the column", arguments: ["table.csv", "table.jsonl", "table.tsv"])
func missingTextColumnIsNamed(name: String) throws {
    let error = try #require(throws: CorpusError.self) { try documents(name, column: "body") }
    #expect(error.description.contains(Fixture.path(name)), "\(error)")
    #expect(error.description.contains("'body'"), "\(error)")
}
