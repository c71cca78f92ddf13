import Corpus
import Foundation
import Testing
@testable import Checkpoint
@testable import Masking
import Model
import Optimization
import Tokenizer
@testable import Training

/// The held-out loss per word: the masked tokens' summed cross-entropy over the words with a masked token.
@Suite(.serialized) struct PerWordLossTests {
    /// A forward-only scorer for `batchSize` rows of `seqLength` tokens, as `ModelEvaluation` builds one.
    static func scorer(_ prepared: PreparedModel, batchSize: Int, seqLength: Int) throws -> MaskedLMOptimizer {
        try MaskedLMOptimizer(
            model: prepared.model, spans: TrainableSpans(layout: prepared.model.layout) { _ in false }, settings: AdamWSettings(),
            schedule: LearningRateSchedule(kind: .constant, peakRate: 0, warmupSteps: 0, totalSteps: 1),
            maxGradNorm: nil, batchSize: batchSize, seqLength: seqLength, maxMaskedTokens: batchSize * seqLength, threads: 1)
    }

    /// One row `[CLS] w0 w1 w1 w1 [SEP]` with `columns` predicted (their inputs `[MASK]`), labels the original ids.
    static func row(_ ids: [Int32], words: [Int32], masked columns: [Int], predicted: [Int]? = nil,
                    maskId: Int32, seqLength: Int, padId: Int32) -> MicroBatch {
        var tokens = TokenBatch(batchSize: 1, seqLength: seqLength, padId: padId)
        for (column, id) in ids.enumerated() {
            tokens.inputIds[column] = id
            tokens.attentionMask[column] = 1
            tokens.specialTokensMask[column] = words[column] < 0 ? 1 : 0
            tokens.wordIds[column] = words[column]
        }
        tokens.rowCount = 1
        var masked = MaskedBatch(batchSize: 1, seqLength: seqLength)
        masked.inputIds = tokens.inputIds
        for column in columns { masked.inputIds[column] = maskId }
        for column in predicted ?? columns {
            masked.labels[column] = ids[column]
            masked.maskedPositions.append(Int32(column))
            masked.maskedLabels.append(ids[column])
        }
        masked.rowCount = 1
        return MicroBatch(tokens: tokens, masked: masked)
    }

    /// Two words masked, of 1 and 3 pieces: the per-word loss is the sum of the 4 tokens' losses over 2, each
    /// token's loss taken from a forward pass that predicts it alone (same inputs, so the same logits).
    @Test func aOnePieceAndAThreePieceWordGiveTheSumOverTwo() throws {
        let tiny = try TinySetup(dropout: 0)
        defer { tiny.remove() }
        let prepared = try ModelLoading.prepare(tiny.source, lowercase: nil, seed: 5)
        let v = prepared.vocabulary
        let piece = { (token: String) throws -> Int32 in try #require(v.id(of: token), "\(token) is not in the tiny vocabulary") }
        let ids = [v.clsId, try piece("the"), try piece("l"), try piece("##i"), try piece("##c"), v.sepId]
        let words: [Int32] = [-1, 0, 1, 1, 1, -1]
        let columns = [1, 2, 3, 4]
        let scorer = try Self.scorer(prepared, batchSize: 1, seqLength: 8)
        let all = Self.row(ids, words: words, masked: columns, maskId: v.maskId, seqLength: 8, padId: v.padId)
        #expect(all.masked.maskedWordCount(wordsOf: all.tokens) == 2)

        let tokenLosses = try columns.map { column in
            let alone = Self.row(ids, words: words, masked: columns, predicted: [column], maskId: v.maskId, seqLength: 8, padId: v.padId)
            let result = try scorer.forward(alone, training: false, dropoutSeed: 0)
            #expect(result.count == 1)
            return Double(result.loss)
        }
        let sum = tokenLosses.reduce(0, +)
        let metrics = try EvalMetrics(scoring: [all], with: scorer)
        #expect(metrics.maskedTokens == 4 && metrics.maskedWords == 2)
        // Float cross-entropies summed in a different order: equal to a few float ulps.
        #expect(abs(metrics.lossPerWord - sum / 2) < 1e-5 * sum, "\(metrics.lossPerWord) vs \(sum / 2) from \(tokenLosses)")
        #expect(abs(metrics.loss - sum / 4) < 1e-5 * sum, "\(metrics.loss) vs \(sum / 4)")
        #expect(metrics.lossPerWord == metrics.loss * 4 / 2)
    }

    /// Words counted from `maskedPositions` and `wordIds`: a word once however many of its pieces are
    /// predicted; the same word id in another row is another word.
    @Test(arguments: [
        (words: [[-1, 0, 1, 1, 1, -1]], predicted: [[1, 2, 3, 4]], expected: 2),
        (words: [[-1, 0, 1, 1, 1, -1]], predicted: [[2, 4]], expected: 1),  // token masking: 2 of a word's 3 pieces
        (words: [[-1, 0, 1, 1, 2, -1]], predicted: [[3, 4]], expected: 2),  // adjacent pieces of two words
        (words: [[-1, 0, 1, 1, 1, -1]], predicted: [[]], expected: 0),
        (words: [[-1, 0, 0, 1, -1, -1], [-1, 0, 1, 1, 2, -1]], predicted: [[1, 2], [1]], expected: 2),  // word 0 of each row
        (words: [[-1, 0, 0, 1, -1, -1], [-1, 0, 1, 1, 2, -1]], predicted: [[3], [2, 3, 4]], expected: 3),
    ])
    func maskedWordsAreDistinctWordsOfARow(words: [[Int32]], predicted: [[Int]], expected: Int) {
        let seqLength = 6
        var tokens = TokenBatch(batchSize: words.count, seqLength: seqLength, padId: 0)
        tokens.wordIds = words.flatMap { $0 }
        tokens.rowCount = words.count
        var masked = MaskedBatch(batchSize: words.count, seqLength: seqLength)
        for (row, columns) in predicted.enumerated() {
            masked.maskedPositions += columns.map { Int32(row * seqLength + $0) }
        }
        #expect(masked.maskedWordCount(wordsOf: tokens) == expected)
    }

    /// A vocabulary holding every word of the corpus whole: each word is one piece, so the masked words are the
    /// masked tokens and the per-word loss is the per-token loss, under either eval masking.
    @Test func withOnePiecePerWordThePerWordLossIsThePerTokenLoss() throws {
        let tiny = try TinySetup(dropout: 0)
        defer { tiny.remove() }
        var counts = WordCounts(lowercase: true)
        counts.feed(Substring(try String(contentsOf: tiny.corpusURL, encoding: .utf8)))
        let tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + counts.counts.keys.sorted()
        let vocabulary = tiny.directory.appendingPathComponent("words-vocab.txt")
        try (tokens.joined(separator: "\n") + "\n").write(to: vocabulary, atomically: true, encoding: .utf8)
        var config = tiny.config
        config.vocabSize = tokens.count
        let configURL = tiny.directory.appendingPathComponent("words-config.json")
        try config.jsonData().write(to: configURL)
        let prepared = try ModelLoading.prepare(.scratch(vocabulary: vocabulary, config: configURL), lowercase: nil, seed: 3)

        let settings = tiny.settings(steps: 1)
        let batches = try settings.heldOutBatches(tokenizer: prepared.tokenizer, padId: prepared.vocabulary.padId)
        for batch in batches {
            let real = batch.wordIds.filter { $0 >= 0 }.count
            #expect(real > 0)
            #expect(batch.inputIds.filter { $0 == prepared.vocabulary.unkId }.isEmpty, "a corpus word became [UNK]")
            for index in 1..<batch.wordIds.count where batch.wordIds[index] >= 0 {
                #expect(batch.wordIds[index] != batch.wordIds[index - 1], "two pieces of one word at \(index)")
            }
        }
        let report = try ModelEvaluation.evaluate(prepared, settings: settings)
        #expect(report.results.map(\.scheme) == [.token, .wholeWord])
        for (scheme, metrics) in report.results {
            #expect(metrics.maskedTokens > 0, "\(scheme)")
            #expect(metrics.maskedWords == metrics.maskedTokens, "\(scheme)")
            #expect(metrics.lossPerWord == metrics.loss, "\(scheme)")
        }
    }

    /// With the tiny vocabulary, which spells rare words out in pieces, whole-word masking masks fewer words than
    /// tokens and each costs more than a token; the count equals a set of (row, word id) pairs counted here.
    @Test func withSplitWordsAMaskedWordCostsMoreThanAToken() throws {
        let tiny = try TinySetup(dropout: 0)
        defer { tiny.remove() }
        let prepared = try ModelLoading.prepare(tiny.source, lowercase: nil, seed: 3)
        let settings = tiny.settings(steps: 1)
        let tokenBatches = try settings.heldOutBatches(tokenizer: prepared.tokenizer, padId: prepared.vocabulary.padId)
        let evaluation = try HeldOutEvaluation(
            tokenBatches: tokenBatches, vocabulary: MaskingVocabulary(prepared.vocabulary), schemes: [.token, .wholeWord])
        for batches in evaluation.batchesByScheme {
            let expected = batches.reduce(0) { total, batch in
                let s = batch.tokens.seqLength
                let words = Set(batch.masked.maskedPositions.map { p in [Int(p) / s, Int(batch.tokens.wordIds[Int(p)])] })
                return total + words.count
            }
            #expect(batches.reduce(0) { $0 + $1.masked.maskedWordCount(wordsOf: $1.tokens) } == expected)
        }
        let results = try evaluation.evaluate(try Self.scorer(prepared, batchSize: settings.batchSize, seqLength: settings.maxSeqLength))
        let wholeWord = try #require(results.first { $0.scheme == .wholeWord }?.metrics)
        #expect(wholeWord.maskedWords < wholeWord.maskedTokens)
        #expect(wholeWord.lossPerWord > wholeWord.loss)
        #expect(abs(wholeWord.lossPerWord * Double(wholeWord.maskedWords) - wholeWord.loss * Double(wholeWord.maskedTokens))
                < 1e-9 * wholeWord.loss * Double(wholeWord.maskedTokens))
    }

    /// `evaluate --json` prints the per-word fields beside the per-token ones, and the text output shows them.
    @Test func evaluatePrintsTheLossPerWord() throws {
        let tiny = try TinySetup()
        defer { tiny.remove() }
        let run = try ReferenceCommandTests.finishedRun(tiny)
        let arguments = ["evaluate", "--checkpoint", run.path, "--corpus", tiny.corpusURL.path, "--threads", "1"]
        let json = try ReferenceCommandTests.mlmAdapt(arguments + ["--json"])
        try #require(json.status == 0, "\(json.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any], "\(json.stdout)")
        for key in ["token", "whole_word"] {
            let loss = try #require(object["\(key)_loss"] as? Double), masked = try #require(object["\(key)_masked"] as? Int)
            let perWord = try #require(object["\(key)_loss_per_word"] as? Double, "\(object)")
            let words = try #require(object["\(key)_masked_words"] as? Int, "\(object)")
            #expect(words > 0 && words <= masked, "\(key)")
            #expect(abs(perWord * Double(words) - loss * Double(masked)) < 1e-9 * loss * Double(masked), "\(key)")
        }
        let text = try ReferenceCommandTests.mlmAdapt(arguments)
        try #require(text.status == 0, "\(text.stderr)")
        let wholeWord = try #require(text.stdout.split(separator: "\n").first { $0.hasPrefix("whole-word: ") }, "\(text.stdout)")
        let perWord = try #require(object["whole_word_loss_per_word"] as? Double)
        let words = try #require(object["whole_word_masked_words"] as? Int)
        #expect(wholeWord.hasSuffix("; loss per word \(String(format: "%.4f", perWord)) (\(words) masked words)"), "\(wholeWord)")
    }
}
