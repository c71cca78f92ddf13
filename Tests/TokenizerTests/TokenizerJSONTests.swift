import Foundation
import Testing
@testable import Tokenizer

/// `huggingFaceJSON()` equals what HF tokenizers' BertWordPieceTokenizer saves for the same vocab and casing
/// (goldens from Scripts/fixtures/checkpoint/generate_tokenizer_json.py).
@Suite struct TokenizerJSONTests {
    static let checkpointFixtures = Fixtures.repositoryRoot.appendingPathComponent("Tests/Fixtures/checkpoint")

    @Test(arguments: [("uncased", true), ("cased", false)])
    func matchesBertWordPieceTokenizer(name: String, lowercase: Bool) throws {
        let vocabulary = try Vocabulary(contentsOf: Self.checkpointFixtures.appendingPathComponent("tiny-mlm/vocab.txt"))
        let ours = try WordPieceTokenizer(vocabulary: vocabulary, lowercase: lowercase).huggingFaceJSON()
        let golden = try Data(contentsOf: Self.checkpointFixtures.appendingPathComponent("tokenizer-json/\(name).json"))
        let oursObject = try #require(try JSONSerialization.jsonObject(with: Data(ours.utf8)) as? NSDictionary)
        let goldenObject = try #require(try JSONSerialization.jsonObject(with: golden) as? NSDictionary)
        for key in goldenObject.allKeys.compactMap({ $0 as? String }).sorted() {
            #expect(oursObject[key] as? NSObject == goldenObject[key] as? NSObject, "\(key)")
        }
        #expect(Set(oursObject.allKeys.compactMap { $0 as? String }) == Set(goldenObject.allKeys.compactMap { $0 as? String }))
        let normalizer = try #require(oursObject["normalizer"] as? [String: Any])
        #expect((normalizer["lowercase"] as? Bool) == lowercase)
    }
}
