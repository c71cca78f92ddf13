import Foundation
@testable import Corpus

/// A stand-in tokenizer: words split at whitespace, each cut into pieces of up to three
/// characters, piece ids from a hash. Enough to see word ids, packing and conservation of tokens.
struct ToyTokenizer: CorpusTokenizer {
    let clsId: Int32 = 1
    let sepId: Int32 = 2
    let padId: Int32 = 0

    func appendPieces(of text: Substring, ids: inout [Int32], wordIds: inout [Int32], firstWordId: Int32) -> Int32 {
        var word = firstWordId
        for token in text.split(whereSeparator: { $0.isWhitespace }) {
            var rest = token[...]
            while !rest.isEmpty {
                ids.append(Self.pieceId(rest.prefix(3)))
                wordIds.append(word)
                rest = rest.dropFirst(3)
            }
            word += 1
        }
        return word
    }

    static func pieceId(_ piece: Substring) -> Int32 {
        var hash: UInt32 = 2_166_136_261
        for byte in piece.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return Int32(10 + hash % 5000)
    }
}

enum Fixture {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/corpus")

    static func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    /// Documents as the corpus rules define them, read with plain Foundation for comparison.
    static func documents(_ name: String, mode: CorpusMode) throws -> [String] {
        let text = try String(contentsOfFile: path(name), encoding: .utf8)
        return documents(in: text, mode: mode)
    }

    static func documents(in text: String, mode: CorpusMode) -> [String] {
        var result: [String] = []
        var current: [Substring] = []
        // "\r\n" is one Character in Swift, so split on both.
        for var line in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            if line.hasSuffix("\r") { line = line.dropLast() }
            let blank = line.unicodeScalars.allSatisfy { " \t\r\n\u{0B}\u{0C}".unicodeScalars.contains($0) }
            if blank {
                if !current.isEmpty { result.append(current.joined(separator: "\n")) }
                current = []
            } else if mode == .lines {
                result.append(String(line))
            } else {
                current.append(line)
            }
        }
        if !current.isEmpty { result.append(current.joined(separator: "\n")) }
        return result
    }

    static func tokens(of document: String) -> (ids: [Int32], wordIds: [Int32]) {
        var ids: [Int32] = []
        var wordIds: [Int32] = []
        _ = ToyTokenizer().appendPieces(of: document[...], ids: &ids, wordIds: &wordIds, firstWordId: 0)
        return (ids, wordIds)
    }

    /// A fresh temporary folder, removed by the caller.
    static func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("corpus-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// One row of a batch, all fields.
struct Row: Hashable {
    var ids: [Int32]
    var typeIds: [Int32]
    var attention: [UInt8]
    var special: [UInt8]
    var wordIds: [Int32]

    /// Ids between [CLS] and the closing [SEP].
    var content: ArraySlice<Int32> {
        let length = attention.reduce(0) { $0 + Int($1) }
        return ids[1..<(length - 1)]
    }
}

func rows(of batch: TokenBatch) -> [Row] {
    (0..<batch.rowCount).map { row in
        let range = (row * batch.seqLength)..<((row + 1) * batch.seqLength)
        return Row(ids: Array(batch.inputIds[range]), typeIds: Array(batch.tokenTypeIds[range]),
                   attention: Array(batch.attentionMask[range]), special: Array(batch.specialTokensMask[range]),
                   wordIds: Array(batch.wordIds[range]))
    }
}

/// Every row of the streamer's current epoch, in order.
func epochRows(_ streamer: CorpusStreamer, batchSize: Int = 4) throws -> [Row] {
    var batch = TokenBatch(batchSize: batchSize, seqLength: streamer.options.maxSeqLength, padId: 0)
    var all: [Row] = []
    while try streamer.nextBatch(into: &batch) {
        all += rows(of: batch)
    }
    return all
}

func multiset<S: Sequence>(_ values: S) -> [S.Element: Int] where S.Element: Hashable {
    values.reduce(into: [:]) { $0[$1, default: 0] += 1 }
}
