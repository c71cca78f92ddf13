import Testing

@testable import Model

/// Freezing the bottom of the encoder must skip work, never change what the trainable parameters learn.
@Suite struct FrozenBottomTests {
    static let cases: [FrozenBottom] = [.embeddingsAndLayers(0), .embeddingsAndLayers(1), .embeddingsAndLayers(2)]

    /// Masked-LM backward with dropout on: every trainable gradient is bit-identical to the full backward's,
    /// and every frozen one is never written.
    @Test(arguments: cases) func maskedLMTrainableGradientsEqualTheFullBackward(frozen: FrozenBottom) throws {
        let tiny = try TinyCase()
        let model = try tiny.model(heads: .maskedLM)
        let workspace = try tiny.workspace(for: model)
        _ = try tiny.maskedLMForward(model, workspace, training: true, seed: 5)
        model.zeroGradients()
        try model.maskedLMBackward(workspace: workspace)
        let full = Array(model.gradients)

        try model.setFrozenBottom(frozen)
        _ = try tiny.maskedLMForward(model, workspace, training: true, seed: 5)
        model.zeroGradients()
        try model.maskedLMBackward(workspace: workspace)
        try expectGradients(of: model, equal: full, frozen: frozen)
    }

    /// The pooler path (what sequence classification uses) through `encoderBackward`.
    @Test(arguments: cases) func poolerPathTrainableGradientsEqualTheFullBackward(frozen: FrozenBottom) throws {
        let tiny = try TinyCase()
        let model = try tiny.model(heads: ModelHeads(maskedLM: false, pooler: true))
        _ = model.tensor("bert.pooler.dense.weight")!.update(from: try tiny.reference.floats("pooler.weight"))
        let workspace = try tiny.workspace(for: model)
        let probe = try tiny.reference.floats("pooler.probe")
        func backward() throws {
            try tiny.withInputs { inputs in
                _ = try model.encoderForward(inputs, workspace: workspace, training: true, dropoutSeed: 11)
            }
            _ = try model.poolerForward(workspace: workspace)
            model.zeroGradients()
            let hidden = try probe.withUnsafeBufferPointer { try model.poolerBackward(pooledGradient: $0, workspace: workspace) }
            model.encoderBackward(hiddenGradient: UnsafeBufferPointer(hidden), workspace: workspace)
        }
        try backward()
        let full = Array(model.gradients)
        try model.setFrozenBottom(frozen)
        try backward()
        try expectGradients(of: model, equal: full, frozen: frozen)
    }

    @Test func freezingMoreLayersThanTheModelHasIsAnError() throws {
        let tiny = try TinyCase()
        let model = try tiny.model(heads: .maskedLM)
        #expect(throws: ModelError.self) { try model.setFrozenBottom(.embeddingsAndLayers(tiny.config.numHiddenLayers + 1)) }
        #expect(throws: ModelError.self) { try model.setFrozenBottom(.embeddingsAndLayers(-1)) }
        #expect(model.frozenBottom == .nothing)
    }

    private func expectGradients(of model: BertModel, equal full: [Float], frozen: FrozenBottom) throws {
        var checkedTrainable = 0
        for tensor in model.layout.tensors {
            let actual = Array(model.gradient(tensor.name)!)
            let expected = Array(full[tensor.offset..<(tensor.offset + tensor.count)])
            if Self.isFrozen(tensor.name, frozen) {
                #expect(actual.allSatisfy { $0 == 0 }, "\(tensor.name) is frozen but got a gradient")
            } else {
                #expect(expected.contains { $0 != 0 } || tensor.name.hasSuffix("key.bias"), "\(tensor.name): no gradient at all")
                #expect(actual == expected, "\(tensor.name): gradient differs from the full backward")
                checkedTrainable += 1
            }
        }
        #expect(checkedTrainable > 0)
    }

    private static func isFrozen(_ name: String, _ frozen: FrozenBottom) -> Bool {
        if name.hasPrefix("bert.embeddings.") { return !frozen.trainsEmbeddings }
        let prefix = "bert.encoder.layer."
        guard name.hasPrefix(prefix), let layer = Int(name.dropFirst(prefix.count).prefix { $0.isNumber }) else { return false }
        return layer < frozen.lowestTrainableLayer
    }
}

@Suite struct ParameterLayoutTests {
    /// Q, K and V of each layer form one [3H, H] matrix and one [3H] bias; names, order and shapes stay HF's,
    /// and no two tensors overlap.
    @Test func queryKeyValueArePackedAndTensorsDoNotOverlap() throws {
        let tiny = try TinyCase()
        let layout = ParameterLayout(config: tiny.config, heads: ModelHeads(maskedLM: true, pooler: true, classifierLabels: 3))
        let h = tiny.config.hiddenSize
        for l in 0..<tiny.config.numHiddenLayers {
            let p = "bert.encoder.layer.\(l).attention.self."
            let q = try #require(layout[p + "query.weight"]), k = try #require(layout[p + "key.weight"])
            let v = try #require(layout[p + "value.weight"])
            #expect(k.offset == q.offset + h * h && v.offset == k.offset + h * h)
            let qb = try #require(layout[p + "query.bias"]), kb = try #require(layout[p + "key.bias"])
            let vb = try #require(layout[p + "value.bias"])
            #expect(kb.offset == qb.offset + h && vb.offset == kb.offset + h)
            #expect(q.offset % 16 == 0 && qb.offset % 16 == 0)
        }
        let names = layout.tensors.map(\.name)
        let queryIndex = try #require(names.firstIndex(of: "bert.encoder.layer.0.attention.self.query.weight"))
        #expect(names[queryIndex + 1] == "bert.encoder.layer.0.attention.self.query.bias", "HF order is kept")
        let byOffset = layout.tensors.sorted { $0.offset < $1.offset }
        for (a, b) in zip(byOffset, byOffset.dropFirst()) {
            #expect(a.offset + a.count <= b.offset, "\(a.name) overlaps \(b.name)")
        }
        #expect(byOffset.last.map { $0.offset + $0.count <= layout.totalCount } == true)
    }
}
