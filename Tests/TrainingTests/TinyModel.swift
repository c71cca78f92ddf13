import Foundation
@testable import Checkpoint
@testable import Model
@testable import Training

let fixturesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures")

/// A temporary folder with a tiny vocabulary (built from the test corpus), a tiny BERT config,
/// and the corpus path, for end-to-end runs that take seconds in a debug build.
struct TinySetup {
    let directory: URL
    let vocabularyURL: URL
    let configURL: URL
    let corpusURL: URL
    let config: BertConfig

    static let corpus = fixturesDirectory.appendingPathComponent("training/legal-tiny.txt")

    init(dropout: Float = 0.1) throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("mlm-adapt-training-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        corpusURL = Self.corpus
        let text = try String(contentsOf: corpusURL, encoding: .utf8).lowercased()

        // Specials, then every character alone and as a continuation, then the most frequent words:
        // each word is either whole or spelled out in pieces, so nothing becomes [UNK].
        var tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        let characters = Set(text.filter { !$0.isWhitespace }.map(String.init)).sorted()
        tokens += characters
        tokens += characters.filter { $0.first!.isLetter || $0.first!.isNumber }.map { "##" + $0 }
        var counts: [String: Int] = [:]
        for word in text.split(whereSeparator: { !($0.isLetter || $0.isNumber) }) where word.count > 1 {
            counts[String(word), default: 0] += 1
        }
        let frequent = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .prefix(150).map(\.key)
        tokens += frequent
        vocabularyURL = directory.appendingPathComponent("vocab.txt")
        try (tokens.joined(separator: "\n") + "\n").write(to: vocabularyURL, atomically: true, encoding: .utf8)

        var config = BertConfig(
            vocabSize: tokens.count, hiddenSize: 32, numHiddenLayers: 2, numAttentionHeads: 2, intermediateSize: 64,
            maxPositionEmbeddings: 64, hiddenDropoutProb: dropout, attentionProbsDropoutProb: dropout)
        config.initializerRange = 0.02
        self.config = config
        configURL = directory.appendingPathComponent("config.json")
        try config.jsonData().write(to: configURL)
    }

    var source: ModelSource { .scratch(vocabulary: vocabularyURL, config: configURL) }

    func settings(steps: Int) -> AdaptationSettings {
        var s = AdaptationSettings(corpus: [corpusURL.path], maxSteps: steps)
        s.validationSplit = 0.1
        s.maxSeqLength = 32
        s.mask = .wholeWord
        s.batchSize = 8
        s.learningRate = 5e-3
        s.warmup = .steps(5)
        s.evalEvery = 10
        s.evalBatches = 3
        s.saveEvery = 10
        s.keepLast = 2
        s.seed = 7
        s.threads = 2
        // Tests pin fp32: `auto` is bf16 on AMX, whose roundings differ between batch shapes.
        s.precision = .fp32
        return s
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}

/// Collects log lines from a run instead of printing them.
final class LogLines: @unchecked Sendable {
    private(set) var lines: [String] = []
    private let lock = NSLock()
    func append(_ line: String) { lock.withLock { lines.append(line) } }
}
