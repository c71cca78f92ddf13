import Foundation
import Model
import Testing
import Tokenizer
@testable import Checkpoint

@Suite struct ModelIntegrationTests {
    /// The loaded tiny BertForMaskedLM reproduces transformers' masked-position logits
    /// (golden.safetensors, eval mode) — the path `import` → `BertModel` → forward.
    @Test func loadedModelMatchesTransformersLogits() throws {
        let checkpoint = try LoadedCheckpoint.open(Fixtures.folder("tiny-mlm"))
        let (model, report) = try checkpoint.makeModel(heads: .maskedLM)
        #expect(report.initialized.isEmpty)
        let golden = try CheckpointFile.read(Fixtures.folder("tiny-mlm/golden.safetensors"))
        let ids = try integers(golden, "input_ids"), mask = try integers(golden, "attention_mask")
        let positions = try integers(golden, "masked_positions")
        let expected = try golden.floats("masked_logits")
        let shape = try #require(golden.entry("input_ids")?.shape)
        let workspace = try BertWorkspace(layout: model.layout, batchSize: shape[0], seqLength: shape[1], maxMaskedTokens: positions.count)
        let inputIds = ids.map(Int32.init), typeIds = [Int32](repeating: 0, count: ids.count), attention = mask.map(UInt8.init)
        let maskedPositions = positions.map(Int32.init), labels = [Int32](repeating: -100, count: positions.count)
        try inputIds.withUnsafeBufferPointer { idsBuffer in
            try typeIds.withUnsafeBufferPointer { typeBuffer in
                try attention.withUnsafeBufferPointer { maskBuffer in
                    let inputs = EncoderInputs(batchSize: shape[0], seqLength: shape[1], inputIds: idsBuffer,
                                               tokenTypeIds: typeBuffer, attentionMask: maskBuffer)
                    try maskedPositions.withUnsafeBufferPointer { positionBuffer in
                        try labels.withUnsafeBufferPointer { labelBuffer in
                            _ = try model.maskedLMForward(inputs, maskedPositions: positionBuffer, labels: labelBuffer,
                                                          workspace: workspace, training: false, dropoutSeed: 0)
                        }
                    }
                }
            }
        }
        let logits = Array(workspace.logits)
        #expect(logits.count == expected.count)
        let difference = zip(logits, expected).map { abs($0 - $1) }.max() ?? .infinity
        #expect(difference < 1e-4, "max |difference| \(difference)")
    }

    @Test func checkpointRoundTripThroughModel() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = BertModel(layout: ParameterLayout(config: tinyConfig, heads: .maskedLM))
        model.initializeWeights(seed: 9)
        let url = folder.appendingPathComponent("m.safetensors.gz")
        try CheckpointFile.write(model.parameterViews(), metadata: CheckpointMetadata().dictionary(), to: url)
        let copy = BertModel(layout: model.layout)
        try loadModelWeights(from: url, into: copy)
        for tensor in model.layout.tensors {
            #expect(Array(copy.tensor(tensor.name)!) == Array(model.tensor(tensor.name)!), "\(tensor.name)")
        }
    }

    @Test func vocabularyConvenienceDetectsMismatch() throws {
        let checkpoint = try LoadedCheckpoint.open(Fixtures.folder("tiny-mlm"))
        let tokens = try #require(checkpoint.vocabularyTokenList)
        try checkpoint.verifyVocabulary(try Vocabulary(tokens: tokens))
        var other = tokens
        other.swapAt(50, 51)
        let error = try #require(throws: CheckpointError.self) { try checkpoint.verifyVocabulary(try Vocabulary(tokens: other)) }
        #expect(error.description.contains("first difference at id 50"))
    }

    private func integers(_ file: SafeTensorsFile, _ name: String) throws -> [Int64] {
        let entry = try #require(file.entry(name))
        #expect(entry.dtype == .I64)
        return file.bytes.withUnsafeBytes { raw in
            (0..<entry.elementCount).map {
                raw.loadUnaligned(fromByteOffset: file.dataStart + entry.dataRange.lowerBound + 8 * $0, as: Int64.self)
            }
        }
    }
}

// Conveniences only these tests use.
extension LoadedCheckpoint {
    /// A new model with this checkpoint's config and the given heads, weights loaded.
    func makeModel(heads: ModelHeads, options: LoadOptions = LoadOptions()) throws -> (BertModel, LoadReport) {
        guard let config else {
            throw CheckpointError.configMismatch(file: source, reason: "no config in the metadata and no config.json beside it")
        }
        let model = BertModel(layout: ParameterLayout(config: config, heads: heads))
        let report = try loadWeights(into: model, options: options)
        return (model, report)
    }
}

/// Loads any supported checkpoint (`.safetensors.gz`, `.safetensors`, HF folder) into `model`.
@discardableResult
func loadModelWeights(from url: URL, into model: BertModel, options: LoadOptions = LoadOptions()) throws -> LoadReport {
    try LoadedCheckpoint.open(url).loadWeights(into: model, options: options)
}
