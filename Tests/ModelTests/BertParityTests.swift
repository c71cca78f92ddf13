import Foundation
import Testing

@testable import Model

/// The tiny random BERT of `Scripts/fixtures/bert/generate.py`, with its inputs and torch outputs.
struct TinyCase {
    let config: BertConfig
    let weights: SafeTensorsFixture
    let gradients: SafeTensorsFixture
    let reference: SafeTensorsFixture
    let inputIds: [Int32]
    let tokenTypeIds: [Int32]
    let attentionMask: [UInt8]
    let maskedPositions: [Int32]
    let maskedLabels: [Int32]
    let batchSize: Int
    let seqLength: Int

    init() throws {
        let folder = Fixtures.root.appendingPathComponent("tiny")
        config = try BertConfig.load(from: folder.appendingPathComponent("config.json"))
        weights = try SafeTensorsFixture(folder.appendingPathComponent("weights.safetensors"))
        gradients = try SafeTensorsFixture(folder.appendingPathComponent("gradients.safetensors"))
        reference = try SafeTensorsFixture(folder.appendingPathComponent("case.safetensors"))
        inputIds = try reference.ints("input_ids")
        tokenTypeIds = try reference.ints("token_type_ids")
        attentionMask = try reference.ints("attention_mask").map { UInt8($0) }
        maskedPositions = try reference.ints("masked_positions")
        maskedLabels = try reference.ints("masked_labels")
        let shape = try reference.shape("input_ids")
        batchSize = shape[0]
        seqLength = shape[1]
    }

    /// A workspace sized for this case's batch and masked positions.
    func workspace(for model: BertModel) throws -> BertWorkspace {
        try BertWorkspace(layout: model.layout, batchSize: batchSize, seqLength: seqLength, maxMaskedTokens: maskedPositions.count)
    }

    /// A model of `heads` with every tensor the weights file has copied in.
    func model(heads: ModelHeads) throws -> BertModel {
        let model = BertModel(layout: ParameterLayout(config: config, heads: heads))
        for tensor in model.layout.tensors where weights.entries[tensor.name] != nil {
            let values = try weights.floats(tensor.name)
            #expect(try weights.shape(tensor.name) == tensor.shape, "shape of \(tensor.name)")
            guard let target = model.tensor(tensor.name) else { continue }
            _ = target.update(from: values)
        }
        return model
    }

    func withInputs<R>(_ body: (EncoderInputs) throws -> R) rethrows -> R {
        try inputIds.withUnsafeBufferPointer { ids in
            try tokenTypeIds.withUnsafeBufferPointer { types in
                try attentionMask.withUnsafeBufferPointer { mask in
                    try body(EncoderInputs(
                        batchSize: batchSize, seqLength: seqLength, inputIds: ids, tokenTypeIds: types,
                        attentionMask: mask))
                }
            }
        }
    }

    func maskedLMForward(_ model: BertModel, _ workspace: BertWorkspace, training: Bool = false, seed: UInt64 = 0)
        throws -> MaskedLMResult
    {
        try withInputs { inputs in
            try maskedPositions.withUnsafeBufferPointer { positions in
                try maskedLabels.withUnsafeBufferPointer { labels in
                    try model.maskedLMForward(
                        inputs, maskedPositions: positions, labels: labels, workspace: workspace, training: training,
                        dropoutSeed: seed)
                }
            }
        }
    }
}

@Suite struct BertParityTests {
    @Test func maskedLMLogitsLossAndGradientsMatchTransformers() throws {
        let tiny = try TinyCase()
        let model = try tiny.model(heads: .maskedLM)
        for tensor in model.layout.tensors {
            #expect(tiny.weights.entries[tensor.name] != nil, "fixture lacks \(tensor.name)")
        }
        let workspace = try tiny.workspace(for: model)
        let result = try tiny.maskedLMForward(model, workspace)

        let hidden = Array(workspace.lastHiddenState)
        #expect(maxAbsDifference(hidden, try tiny.reference.floats("last_hidden_state")) <= 1e-4)
        let logits = Array(workspace.logits)
        let expectedLogits = try tiny.reference.floats("logits")
        #expect(logits.count == expectedLogits.count)
        #expect(maxAbsDifference(logits, expectedLogits) <= 1e-4)
        let expectedLoss = try tiny.reference.floats("loss")[0]
        #expect(abs(result.loss - expectedLoss) / expectedLoss <= 1e-5, "loss \(result.loss) vs \(expectedLoss)")
        print("parity: logits max |Δ| \(maxAbsDifference(logits, expectedLogits)), loss rel \(abs(result.loss - expectedLoss) / expectedLoss)")
        #expect(result.count == tiny.maskedLabels.filter { $0 >= 0 }.count)

        model.zeroGradients()
        try model.maskedLMBackward(workspace: workspace)
        var worstGradient = 0.0
        for tensor in model.layout.tensors {
            let expected = try tiny.gradients.floats(tensor.name)
            let actual = Array(model.gradient(tensor.name)!)
            if tensor.name.hasSuffix("attention.self.key.bias") {
                // Softmax ignores a shift shared by all keys, so this gradient is exactly 0 in theory and
                // both sides hold rounding noise (torch's norm is ~1e-8): compare magnitudes instead.
                let norm = actual.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
                #expect(norm <= 1e-6, "gradient of \(tensor.name) should vanish, norm \(norm)")
                continue
            }
            let error = relativeL2Error(actual, expected)
            #expect(error <= 1e-3, "gradient of \(tensor.name): relative L2 error \(error)")
            worstGradient = max(worstGradient, error)
        }
        print("parity: worst parameter-gradient relative L2 error \(worstGradient)")
    }

    @Test func poolerOutputAndGradientsMatchTransformers() throws {
        let tiny = try TinyCase()
        let model = try tiny.model(heads: ModelHeads(maskedLM: false, pooler: true))
        _ = model.tensor("bert.pooler.dense.weight")!.update(from: try tiny.reference.floats("pooler.weight"))
        _ = model.tensor("bert.pooler.dense.bias")!.update(from: try tiny.reference.floats("pooler.bias"))
        let workspace = try BertWorkspace(
            layout: model.layout, batchSize: tiny.batchSize, seqLength: tiny.seqLength, maxMaskedTokens: 1)
        try tiny.withInputs { inputs in
            _ = try model.encoderForward(inputs, workspace: workspace, training: false, dropoutSeed: 0)
        }
        let pooled = Array(try model.poolerForward(workspace: workspace))
        #expect(maxAbsDifference(pooled, try tiny.reference.floats("pooler.output")) <= 1e-5)

        model.zeroGradients()
        let probe = try tiny.reference.floats("pooler.probe")
        let hiddenGradient = try probe.withUnsafeBufferPointer { try model.poolerBackward(pooledGradient: $0, workspace: workspace) }
        model.encoderBackward(hiddenGradient: UnsafeBufferPointer(hiddenGradient), workspace: workspace)
        let checks = [
            ("bert.pooler.dense.weight", "pooler.grad.weight"), ("bert.pooler.dense.bias", "pooler.grad.bias"),
            ("bert.embeddings.LayerNorm.weight", "pooler.grad.embeddings.LayerNorm.weight"),
            ("bert.encoder.layer.0.attention.self.query.weight",
             "pooler.grad.encoder.layer.0.attention.self.query.weight"),
        ]
        for (name, key) in checks {
            let error = relativeL2Error(Array(model.gradient(name)!), try tiny.reference.floats(key))
            #expect(error <= 1e-3, "gradient of \(name): relative L2 error \(error)")
        }
    }

    @Test func evaluationWithDropoutConfiguredIgnoresSeedAndTrainingIsReproducible() throws {
        let tiny = try TinyCase()
        let model = try tiny.model(heads: .maskedLM)
        let workspace = try tiny.workspace(for: model)
        let evaluation1 = try tiny.maskedLMForward(model, workspace, training: false, seed: 1)
        let evaluation2 = try tiny.maskedLMForward(model, workspace, training: false, seed: 2)
        #expect(evaluation1 == evaluation2)
        let trainingA = try tiny.maskedLMForward(model, workspace, training: true, seed: 7)
        let trainingB = try tiny.maskedLMForward(model, workspace, training: true, seed: 7)
        let trainingC = try tiny.maskedLMForward(model, workspace, training: true, seed: 8)
        #expect(trainingA == trainingB)
        #expect(trainingA.loss != trainingC.loss)
        #expect(trainingA.loss != evaluation1.loss)
    }

    /// With dropout on, the loss is still a deterministic function of the parameters for a fixed seed,
    /// so central differences check the dropout backward paths too.
    @Test func trainingGradientsMatchFiniteDifferences() throws {
        let tiny = try TinyCase()
        let model = try tiny.model(heads: .maskedLM)
        let workspace = try tiny.workspace(for: model)
        let seed: UInt64 = 99
        _ = try tiny.maskedLMForward(model, workspace, training: true, seed: seed)
        model.zeroGradients()
        try model.maskedLMBackward(workspace: workspace)
        let names = [
            "bert.embeddings.word_embeddings.weight", "bert.embeddings.position_embeddings.weight",
            "bert.embeddings.LayerNorm.weight", "bert.encoder.layer.0.attention.self.query.weight",
            "bert.encoder.layer.0.attention.self.value.bias", "bert.encoder.layer.1.intermediate.dense.weight",
            "bert.encoder.layer.1.output.LayerNorm.bias", "cls.predictions.transform.dense.weight",
            "cls.predictions.bias",
        ]
        let step: Float = 1e-2
        for name in names {
            let parameter = model.tensor(name)!, gradient = model.gradient(name)!
            // The three largest-gradient coordinates: well above the float noise of the loss.
            let indices = gradient.indices.sorted { abs(gradient[$0]) > abs(gradient[$1]) }.prefix(3)
            for index in indices {
                let original = parameter[index]
                parameter[index] = original + step
                let plus = try tiny.maskedLMForward(model, workspace, training: true, seed: seed).loss
                parameter[index] = original - step
                let minus = try tiny.maskedLMForward(model, workspace, training: true, seed: seed).loss
                parameter[index] = original
                let numeric = (plus - minus) / (2 * step)
                let analytic = gradient[index]
                #expect(
                    abs(numeric - analytic) <= 2e-3 + 0.03 * abs(analytic),
                    "\(name)[\(index)]: finite difference \(numeric) vs backward \(analytic)")
            }
        }
    }

    @Test func badInputsThrowNamedErrors() throws {
        let tiny = try TinyCase()
        let model = try tiny.model(heads: .maskedLM)
        let workspace = try BertWorkspace(layout: model.layout, batchSize: 3, seqLength: 16, maxMaskedTokens: 9)
        var ids = tiny.inputIds
        ids[5] = Int32(tiny.config.vocabSize)
        let types = tiny.tokenTypeIds, mask = tiny.attentionMask
        #expect(throws: ModelError.self) {
            try ids.withUnsafeBufferPointer { i in
                try types.withUnsafeBufferPointer { t in
                    try mask.withUnsafeBufferPointer { m in
                        try model.encoderForward(
                            EncoderInputs(batchSize: 3, seqLength: 16, inputIds: i, tokenTypeIds: t, attentionMask: m),
                            workspace: workspace, training: false, dropoutSeed: 0)
                    }
                }
            }
        }
        let small = try BertWorkspace(layout: model.layout, batchSize: 2, seqLength: 16, maxMaskedTokens: 9)
        #expect(throws: ModelError.self) { try tiny.maskedLMForward(model, small) }
        let noPooler = { try model.poolerForward(workspace: workspace) }
        #expect(throws: ModelError.self) { _ = try noPooler() }
    }

    @Test func initializationFollowsBert() throws {
        let config = BertConfig(
            vocabSize: 500, hiddenSize: 32, numHiddenLayers: 1, numAttentionHeads: 2, intermediateSize: 64,
            maxPositionEmbeddings: 32, initializerRange: 0.05)
        let model = BertModel(layout: ParameterLayout(config: config, heads: .maskedLM))
        model.initializeWeights(seed: 3)
        let words = model.tensor("bert.embeddings.word_embeddings.weight")!
        let mean = words.reduce(0.0) { $0 + Double($1) } / Double(words.count)
        let std = (words.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(words.count) - mean * mean).squareRoot()
        #expect(abs(mean) < 0.002)
        #expect(abs(std - 0.05) < 0.002)
        #expect(words[0..<32].allSatisfy { $0 == 0 }, "padding row is zero")
        #expect(model.tensor("bert.encoder.layer.0.output.LayerNorm.weight")!.allSatisfy { $0 == 1 })
        #expect(model.tensor("bert.encoder.layer.0.output.LayerNorm.bias")!.allSatisfy { $0 == 0 })
        #expect(model.tensor("cls.predictions.bias")!.allSatisfy { $0 == 0 })
        let again = BertModel(layout: model.layout)
        again.initializeWeights(seed: 3)
        #expect(Array(again.parameters) == Array(model.parameters))
    }
}
