import Foundation
import Testing
import Tokenizer
@testable import Training

/// The trainer's own masking, not just the masking module's: random replacements are never special tokens
/// nor `[unusedN]` (bert-base-uncased has 994 of them, which never occur in text).
@Suite struct TrainerMaskingTests {
    @Test func randomReplacementsNeverDrawUnusedTokens() throws {
        let vocabulary = try Vocabulary(contentsOf: BundledSampleTests.repository.appendingPathComponent("Vocab/bert-base-uncased.txt"))
        let bracketed = Set(vocabulary.tokens.enumerated()
            .filter { $0.element.count > 2 && $0.element.hasPrefix("[") && $0.element.hasSuffix("]") }.map { Int32($0.offset) })
        #expect(bracketed.count > 990)
        var settings = AdaptationSettings(
            corpus: [BundledSampleTests.repository.appendingPathComponent("Corpora/samples/legal.txt").path], maxSteps: 1)
        settings.batchSize = 32
        // Every selected token replaced at random, so a wrong vocabulary shows at once.
        settings.maskRatio = 0
        settings.randomRatio = 1
        settings.keepRatio = 0
        let data = try AdaptationData(settings: settings, tokenizer: WordPieceTokenizer(vocabulary: vocabulary),
                                      vocabulary: vocabulary, resumeFrom: nil)
        var state = TrainerState(step: 0, epoch: 0, batchInEpoch: 0, seed: settings.seed)
        var replaced = 0
        for _ in 0..<10 {
            for batch in try data.nextStep(state: &state).batches {
                for (index, id) in batch.masked.inputIds.enumerated() where id != batch.tokens.inputIds[index] {
                    replaced += 1
                    #expect(!bracketed.contains(id), "drew \(vocabulary.tokens[Int(id)])")
                }
            }
        }
        #expect(replaced > 1000)
    }
}
