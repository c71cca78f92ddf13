import Foundation

/// Trains a WordPiece vocabulary the way HF `tokenizers`' `WordPieceTrainer` does (as used by
/// `BertWordPieceTokenizer.train`): words come from the BERT normalizer and pre-tokenizer; the vocabulary
/// starts with the special tokens, then the alphabet (the `limitAlphabet` most frequent scalars, in scalar
/// order), then `##`-prefixed continuation scalars, then BPE merges by pair count until `vocabularySize`.
///
/// Unlike HF, which iterates hash maps, every order here is fixed: words are sorted by their bytes, count
/// ties in the alphabet limit drop the larger scalar first, and merge ties pick the pair of smaller ids.
/// Words longer than 100 scalars (always `[UNK]` when tokenizing) are not counted.
public struct WordPieceTrainer: Sendable {
    public var vocabularySize: Int
    public var minFrequency: Int
    public var limitAlphabet: Int?
    public let lowercase: Bool
    public var specialTokens: [String]
    public static let continuationPrefix = "##"

    private var words: WordCounts

    public init(
        vocabularySize: Int, minFrequency: Int = 2, limitAlphabet: Int? = 1000, lowercase: Bool = true,
        specialTokens: [String] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    ) {
        self.vocabularySize = vocabularySize
        self.minFrequency = minFrequency
        self.limitAlphabet = limitAlphabet
        self.lowercase = lowercase
        self.specialTokens = specialTokens
        words = WordCounts(lowercase: lowercase)
    }

    /// Counts the words of `text` (normalized and pre-tokenized as by the tokenizer).
    public mutating func feed(_ text: Substring) {
        words.feed(text)
    }

    /// The trained vocabulary, in id order.
    public func train() -> [String] {
        var tokens: [String] = []
        var ids: [String: Int32] = [:]
        func add(_ token: String) -> Int32 {
            if let id = ids[token] { return id }
            let id = Int32(tokens.count)
            tokens.append(token)
            ids[token] = id
            return id
        }
        for token in specialTokens { _ = add(token) }

        let words = self.words.counts.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
        var scalarCounts: [UInt32: Int] = [:]
        for (word, count) in words {
            for scalar in word.unicodeScalars { scalarCounts[scalar.value, default: 0] += count }
        }
        var alphabet = scalarCounts.sorted { ($0.value, $1.key) < ($1.value, $0.key) }
        if let limitAlphabet, alphabet.count > limitAlphabet {
            alphabet.removeFirst(alphabet.count - limitAlphabet)
        }
        let kept = Set(alphabet.map(\.key))
        for scalar in kept.sorted() { _ = add(String(Unicode.Scalar(scalar)!)) }

        // Each word as symbol ids: its first scalar as is, the rest as `##` continuations.
        var symbols: [[Int32]] = []
        var counts: [Int] = []
        for (word, count) in words {
            var wordSymbols: [Int32] = []
            for (position, scalar) in word.unicodeScalars.enumerated() where kept.contains(scalar.value) {
                let text = String(scalar)
                wordSymbols.append(add(position == 0 ? text : Self.continuationPrefix + text))
            }
            symbols.append(wordSymbols)
            counts.append(count)
        }

        var pairCounts: [UInt64: Int] = [:]
        var positions: [UInt64: Set<Int>] = [:]
        for (index, wordSymbols) in symbols.enumerated() where wordSymbols.count > 1 {
            for position in 0..<(wordSymbols.count - 1) {
                let pair = Self.pair(wordSymbols[position], wordSymbols[position + 1])
                pairCounts[pair, default: 0] += counts[index]
                positions[pair, default: []].insert(index)
            }
        }
        var queue = MergeQueue()
        for (pair, wordIndices) in positions where pairCounts[pair, default: 0] > 0 {
            queue.push(Merge(pair: pair, count: pairCounts[pair, default: 0], words: wordIndices))
        }

        while tokens.count < vocabularySize, var top = queue.pop() {
            let current = pairCounts[top.pair, default: 0]
            if top.count != current {
                top.count = current
                queue.push(top)
                continue
            }
            if top.count < 1 || top.count < minFrequency { break }
            let first = Int32(truncatingIfNeeded: top.pair >> 32)
            let second = Int32(truncatingIfNeeded: top.pair & 0xFFFF_FFFF)
            var secondText = tokens[Int(second)]
            if secondText.utf8.starts(with: Self.continuationPrefix.utf8) {
                secondText = String(decoding: secondText.utf8.dropFirst(2), as: UTF8.self)
            }
            let merged = add(tokens[Int(first)] + secondText)

            var changed: [UInt64: Set<Int>] = [:]
            for index in top.words.sorted() {
                for (pair, change) in Self.merge(&symbols[index], first, second, into: merged) {
                    pairCounts[pair, default: 0] += change * counts[index]
                    if change > 0 { changed[pair, default: []].insert(index) }
                }
            }
            for (pair, wordIndices) in changed.sorted(by: { $0.key < $1.key }) {
                let count = pairCounts[pair, default: 0]
                if count > 0 { queue.push(Merge(pair: pair, count: count, words: wordIndices)) }
            }
        }
        return tokens
    }

    @inline(__always) static func pair(_ first: Int32, _ second: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: first)) << 32 | UInt64(UInt32(bitPattern: second))
    }

    /// Replaces each non-overlapping `first second` (left to right) by `merged`; returns the pair count changes.
    static func merge(_ word: inout [Int32], _ first: Int32, _ second: Int32, into merged: Int32) -> [(UInt64, Int)] {
        var changes: [(UInt64, Int)] = []
        var index = 0
        while index < word.count {
            if word[index] == first, index + 1 < word.count, word[index + 1] == second {
                if index > 0 {
                    changes.append((pair(word[index - 1], first), -1))
                    changes.append((pair(word[index - 1], merged), 1))
                }
                word.replaceSubrange(index...(index + 1), with: [merged])
                if index < word.count - 1 {
                    changes.append((pair(second, word[index + 1]), -1))
                    changes.append((pair(merged, word[index + 1]), 1))
                }
            }
            index += 1
        }
        return changes
    }
}

/// Counts normalized words, keyed by their text.
struct WordCollector: PieceSink {
    static var tracksOffsets: Bool { false }
    static var collectsWords: Bool { true }
    var counts: [String: Int] = [:]

    mutating func append(id: Int32, word: Int32, start: Int, end: Int) {}

    mutating func word(_ utf8: UnsafeBufferPointer<UInt8>) {
        counts[String(decoding: utf8, as: UTF8.self), default: 0] += 1
    }
}

struct Merge {
    var pair: UInt64
    var count: Int
    var words: Set<Int>

    /// Pops first: the higher count, then the smaller pair of ids.
    func precedes(_ other: Merge) -> Bool {
        count != other.count ? count > other.count : pair < other.pair
    }
}

/// Binary max-heap of merges ordered by `Merge.precedes`.
struct MergeQueue {
    private var heap: [Merge] = []

    mutating func push(_ merge: Merge) {
        heap.append(merge)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].precedes(heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Merge? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var best = parent
            if left < heap.count, heap[left].precedes(heap[best]) { best = left }
            if right < heap.count, heap[right].precedes(heap[best]) { best = right }
            if best == parent { break }
            heap.swapAt(parent, best)
            parent = best
        }
        return top
    }
}
