import Checkpoint
import Foundation
import Testing

@testable import Model

/// all-MiniLM-L6-v2 as fetched by `Corpora/fetch.sh` into `cache/` (or `$MLM_ADAPT_CACHE`), or the
/// folder named by `MLM_ADAPT_MINILM_DIR`.
enum MiniLM {
    static var folder: URL? {
        let environment = ProcessInfo.processInfo.environment
        var candidates = [Fixtures.repositoryRoot.appendingPathComponent("cache/models/all-MiniLM-L6-v2")]
        if let cache = environment["MLM_ADAPT_CACHE"] {
            candidates.insert(URL(fileURLWithPath: cache).appendingPathComponent("models/all-MiniLM-L6-v2"), at: 0)
        }
        if let override = environment["MLM_ADAPT_MINILM_DIR"] {
            candidates.insert(URL(fileURLWithPath: override), at: 0)
        }
        return candidates.first {
            FileManager.default.fileExists(atPath: $0.appendingPathComponent("model.safetensors").path)
        }
    }

    /// The encoder alone (no pooler, no MLM head), with the real weights.
    static func encoder() throws -> BertModel {
        let checkpoint = try LoadedCheckpoint.open(try #require(folder))
        let layout = ParameterLayout(config: try #require(checkpoint.config), heads: ModelHeads(maskedLM: false, pooler: false))
        let model = BertModel(layout: layout)
        _ = try checkpoint.loadWeights(into: model.parameters, layout: layout, options: LoadOptions(createMissingHeads: false))
        return model
    }
}

@Suite struct RealWeightsTests {
    @Test(
        .enabled(
            if: MiniLM.folder != nil,
            "skipped: cache/models/all-MiniLM-L6-v2 is absent (run Corpora/fetch.sh, or set MLM_ADAPT_CACHE or MLM_ADAPT_MINILM_DIR)"))
    func miniLMLastHiddenStatesMatchTransformers() throws {
        let model = try MiniLM.encoder()
        let layout = model.layout

        let reference = try SafeTensorsFixture(Fixtures.root.appendingPathComponent("minilm/case.safetensors"))
        let shape = try reference.shape("input_ids")
        let ids = try reference.ints("input_ids")
        let mask = try reference.ints("attention_mask").map { UInt8($0) }
        let types = [Int32](repeating: 0, count: ids.count)
        let workspace = try BertWorkspace(layout: layout, batchSize: shape[0], seqLength: shape[1], maxMaskedTokens: 1)
        let hidden = try ids.withUnsafeBufferPointer { i in
            try types.withUnsafeBufferPointer { t in
                try mask.withUnsafeBufferPointer { m in
                    Array(try model.encoderForward(
                        EncoderInputs(batchSize: shape[0], seqLength: shape[1], inputIds: i, tokenTypeIds: t, attentionMask: m),
                        workspace: workspace, training: false, dropoutSeed: 0))
                }
            }
        }
        let expected = try reference.floats("last_hidden_state")
        let difference = maxAbsDifference(hidden, expected)
        #expect(difference <= 1e-3, "max abs difference \(difference)")
        print("parity: all-MiniLM-L6-v2 last hidden state max |Δ| \(difference)")
    }
}
