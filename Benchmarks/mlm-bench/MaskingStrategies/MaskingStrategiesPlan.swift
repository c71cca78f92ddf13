import Foundation
import Masking

/// Every setting of one benchmark run, after defaults.
struct MaskingStrategiesPlan: Sendable {
    var corpus: String
    var initModel: String
    var strategies: [String]
    var seeds: [UInt64]
    var steps: Int
    var batchSize: Int
    var maxSeqLength: Int
    var evalEvery: Int
    var evalBatches: Int
    var classifyTask: String
    var classifyEpochs: Int
    var classifyLearningRate: Double
    var classifyTrainExamples: Int?
    var classifyDevExamples: Int?
    var classifyTestExamples: Int?
    /// nil: no NER.
    var nerTask: String?
    var nerEpochs: Int
    var nerLearningRate: Double
    var nerTrainExamples: Int?
    var threads: Int?
    /// More `mlm-adapt` options for every adaptation run, e.g. a learning rate.
    var adaptExtra: [String]
    var quick: Bool

    /// The variant label of the un-adapted model.
    static let baseVariant = "base"

    var variants: [String] { [Self.baseVariant] + strategies }
    var tokensPerRun: Int { steps * batchSize * maxSeqLength }

    /// Seed for the fine-tuning subsamples: fixed, so every variant and seed sees the same examples.
    static let subsampleSeed: UInt64 = 20_240_601

    func seedFolder(_ work: URL, _ seed: UInt64) -> URL { work.appendingPathComponent("seed-\(seed)") }
    func adaptFolder(_ work: URL, _ seed: UInt64, _ strategy: String) -> URL {
        seedFolder(work, seed).appendingPathComponent(strategy).appendingPathComponent("adapt")
    }
    func fineTuneFolder(_ work: URL, _ seed: UInt64, _ variant: String, _ kind: String) -> URL {
        seedFolder(work, seed).appendingPathComponent(variant).appendingPathComponent(kind)
    }
    func dataFolder(_ work: URL, _ kind: String) -> URL { work.appendingPathComponent("data").appendingPathComponent(kind) }
}
