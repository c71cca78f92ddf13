import Foundation
@testable import Tokenizer

enum Fixtures {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let directory = repositoryRoot.appendingPathComponent("Tests/Fixtures/tokenizer")

    static func vocabularyURL(_ name: String) -> URL {
        repositoryRoot.appendingPathComponent("Vocab/bert-base-\(name).txt")
    }

    /// Tokenizers are built once per vocab: the character table and hash tables are shared.
    static let uncased = try? WordPieceTokenizer(vocabulary: Vocabulary(contentsOf: vocabularyURL("uncased")), lowercase: true)
    static let cased = try? WordPieceTokenizer(vocabulary: Vocabulary(contentsOf: vocabularyURL("cased")), lowercase: false)

    static func tokenizer(_ name: String) -> WordPieceTokenizer? {
        name == "uncased" ? uncased : cased
    }

    /// Lines split on "\n" bytes only, each decoded with U+FFFD replacement, as Scripts/fixtures/tokenizer/generate.py does.
    static func lines(_ name: String) throws -> [String] {
        let data = try Data(contentsOf: directory.appendingPathComponent("\(name).txt"))
        var lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        return lines.map { String(decoding: $0, as: UTF8.self) }
    }

    static func jsonLines<Record: Decodable>(_ name: String, as type: Record.Type) throws -> [Record] {
        let data = try Data(contentsOf: directory.appendingPathComponent(name))
        let decoder = JSONDecoder()
        return try data.split(separator: UInt8(ascii: "\n")).map { try decoder.decode(Record.self, from: Data($0)) }
    }
}

struct SingleGolden: Decodable {
    let ids: [Int32]
    let offsets: [Int]
    let words: [Int32]
    let special: [UInt8]?
    let decoded: String?
    let decoded_all: String?
}

struct PairGolden: Decodable {
    let a: String
    let b: String?
    let max_length: Int?
    let pad_to: Int?
    let add_special: Bool
    let ids: [Int32]
    let tokens: [String]
    let type_ids: [Int32]
    let offsets: [Int]
    let words: [Int32]
    let special: [UInt8]
    let attention: [UInt8]
}

extension Encoding {
    var flatOffsets: [Int] { offsets.flatMap { [$0.lowerBound, $0.upperBound] } }
    var flatWordIds: [Int32] { wordIds.map { $0 ?? -1 } }
}
