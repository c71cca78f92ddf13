import Dispatch
import Foundation

/// Tokenizes a chunk of documents on all cores: the documents are cut into contiguous parts, one
/// per core, and the parts concatenated in order, so the result is the same as tokenizing one
/// document after another. The buffers are reused from chunk to chunk.
final class ChunkTokenizer {
    let tokenizer: any CorpusTokenizer
    /// The chunk's pieces and, per piece, its word index within its document.
    private(set) var ids: [Int32] = []
    private(set) var wordIds: [Int32] = []
    /// The end of each document in `ids`.
    private(set) var documentEnds: [Int] = []
    private let parts: [TokenizedPart]

    init(tokenizer: any CorpusTokenizer) {
        self.tokenizer = tokenizer
        let partCount = max(1, ProcessInfo.processInfo.activeProcessorCount)
        parts = (0..<partCount).map { _ in TokenizedPart() }
    }

    /// Forgets the chunk.
    func clear() {
        ids.removeAll(keepingCapacity: true)
        wordIds.removeAll(keepingCapacity: true)
        documentEnds.removeAll(keepingCapacity: true)
    }

    /// Replaces the chunk with the tokens of `texts`.
    func tokenize(_ texts: [String]) {
        var cumulative: [Int] = []
        cumulative.reserveCapacity(texts.count)
        var total = 0
        for text in texts {
            total += text.utf8.count
            cumulative.append(total)
        }
        // Below ~64 KB the thread handoff costs more than it saves.
        let partCount = total < 1 << 16 ? 1 : min(parts.count, texts.count)
        var bounds = [0]
        for part in 1..<partCount {
            let target = total * part / partCount
            let split = cumulative.firstIndex { $0 >= target } ?? texts.count
            bounds.append(max(bounds[part - 1], split))
        }
        bounds.append(texts.count)

        let tokenizer = self.tokenizer
        let parts = self.parts
        let partBounds = bounds
        let tokenize: @Sendable (Int) -> Void = { part in
            let output = parts[part]
            output.reset()
            for index in partBounds[part]..<partBounds[part + 1] {
                _ = tokenizer.appendPieces(of: texts[index][...], ids: &output.ids, wordIds: &output.wordIds, firstWordId: 0)
                output.documentEnds.append(output.ids.count)
            }
        }
        if partCount == 1 {
            tokenize(0)
        } else {
            DispatchQueue.concurrentPerform(iterations: partCount, execute: tokenize)
        }

        clear()
        for part in parts.prefix(partCount) {
            let offset = ids.count
            ids.append(contentsOf: part.ids)
            wordIds.append(contentsOf: part.wordIds)
            documentEnds.append(contentsOf: part.documentEnds.lazy.map { $0 + offset })
        }
    }
}

/// One core's share of a chunk; each is written by one thread only.
private final class TokenizedPart: @unchecked Sendable {
    var ids: [Int32] = []
    var wordIds: [Int32] = []
    var documentEnds: [Int] = []

    func reset() {
        ids.removeAll(keepingCapacity: true)
        wordIds.removeAll(keepingCapacity: true)
        documentEnds.removeAll(keepingCapacity: true)
    }
}
