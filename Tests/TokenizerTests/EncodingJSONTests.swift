import Foundation
import Testing
@testable import Tokenizer

@Suite struct EncodingJSONTests {
    /// Every edge case (quotes, backslashes, control characters, non-ASCII tokens) parses back as JSON with
    /// the golden ids, offsets and word ids.
    @Test(arguments: ["uncased", "cased"])
    func jsonLinesParseBackToGoldens(vocab: String) throws {
        let tokenizer = try #require(Fixtures.tokenizer(vocab))
        let lines = try Fixtures.lines("edge_cases") + ["quote \" backslash \\ tab\tend"]
        let goldens = try Fixtures.jsonLines("golden_\(vocab)_edge_cases.jsonl", as: SingleGolden.self)
        for (number, line) in lines.enumerated() {
            let encoding = tokenizer.encode(line)
            var output: [UInt8] = []
            encoding.appendJSONLine(to: &output)
            #expect(output.last == UInt8(ascii: "\n"))
            #expect(output.dropLast().contains(UInt8(ascii: "\n")) == false)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(output)) as? [String: Any])
            let ids = try #require(object["ids"] as? [Int]).map(Int32.init)
            let tokens = try #require(object["tokens"] as? [String])
            let offsets = try #require(object["offsets"] as? [[Int]]).flatMap { $0 }
            let words = try #require(object["word_ids"] as? [Any]).map { ($0 as? Int).map(Int32.init) ?? -1 }
            #expect(tokens.map { Array($0.utf8) } == encoding.tokens.map { Array($0.utf8) })
            if number < goldens.count {
                #expect(ids == goldens[number].ids)
                #expect(offsets == goldens[number].offsets)
                #expect(words == goldens[number].words)
            } else {
                #expect(tokens.contains("\"") && tokens.contains("\\"))
            }
        }
    }
}
