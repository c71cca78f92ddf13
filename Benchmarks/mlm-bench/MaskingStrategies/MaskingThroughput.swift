import Checkpoint
import Corpus
import Foundation
import Masking
import Tokenizer

extension MaskingStrategiesBenchmark {
    /// Masks the same tokenized batches of the corpus with every strategy and seed; tokens/s of the
    /// strategies alone (tokenization done before the clock starts), single-threaded as in the trainer.
    func measureMaskingThroughput(_ plan: MaskingStrategiesPlan) throws -> [String: [UInt64: Double]] {
        // Any starting point (HF folder, run folder, checkpoint file) carries its vocabulary and casing.
        let checkpoint = try LoadedCheckpoint.open(URL(fileURLWithPath: plan.initModel))
        guard let vocabularyText = checkpoint.vocabularyText else {
            print("note: \(plan.initModel) has no vocabulary: masking throughput not measured")
            return [:]
        }
        let vocabulary = try Vocabulary(tokens: vocabularyTokens(fromText: vocabularyText), file: checkpoint.vocabularySource)
        let tokenizer = WordPieceTokenizer(vocabulary: vocabulary, lowercase: checkpoint.doLowerCase ?? true)
        let options = CorpusOptions(
            sources: [plan.corpus], mode: .documents, maxSeqLength: plan.maxSeqLength, shuffleBufferSize: 0)
        let streamer = try CorpusStreamer(options: options, tokenizer: tokenizer)
        var batches: [TokenBatch] = []
        let batchCount = plan.quick ? 64 : 256
        while batches.count < batchCount {
            var batch = TokenBatch(batchSize: plan.batchSize, seqLength: plan.maxSeqLength, padId: vocabulary.padId)
            guard try streamer.nextBatch(into: &batch) else { break }
            batches.append(batch)
        }
        let realTokens = batches.reduce(0) { sum, batch in sum + batch.attentionMask.reduce(0) { $0 + Int($1) } }
        let maskingVocabulary = try MaskingVocabulary(vocabulary)
        var results: [String: [UInt64: Double]] = [:]
        for name in plan.strategies {
            guard let kind = MaskingStrategyKind(rawValue: name) else { continue }
            let strategy = try makeMaskingStrategy(MaskingOptions(strategy: kind, probability: 0.15), vocabulary: maskingVocabulary)
            var masked = MaskedBatch(batchSize: plan.batchSize, seqLength: plan.maxSeqLength)
            for seed in plan.seeds {
                // One untimed pass sizes the buffers; the best of three timed passes resists other load.
                for (index, batch) in batches.enumerated() {
                    strategy.mask(batch, seed: seed, epoch: 0, batchIndex: index, into: &masked)
                }
                var best = Double.infinity
                for pass in 1...3 {
                    let start = DispatchTime.now()
                    for (index, batch) in batches.enumerated() {
                        strategy.mask(batch, seed: seed, epoch: pass, batchIndex: index, into: &masked)
                    }
                    best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9)
                }
                results[name, default: [:]][seed] = Double(realTokens) / best
            }
        }
        return results
    }

    static let maskingFileName = "masking-throughput.json"

    func saveMaskingThroughput(_ values: [String: [UInt64: Double]], to work: URL) throws {
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let flat = values.mapValues { bySeed in Dictionary(uniqueKeysWithValues: bySeed.map { (String($0.key), $0.value) }) }
        let data = try JSONSerialization.data(withJSONObject: flat, options: [.sortedKeys, .prettyPrinted])
        try data.write(to: work.appendingPathComponent(Self.maskingFileName))
    }

    func loadMaskingThroughput(from work: URL) throws -> [String: [UInt64: Double]] {
        let data = try Data(contentsOf: work.appendingPathComponent(Self.maskingFileName))
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: [String: Double]] else { return [:] }
        return object.mapValues { bySeed in
            Dictionary(uniqueKeysWithValues: bySeed.compactMap { key, value in UInt64(key).map { ($0, value) } })
        }
    }
}
