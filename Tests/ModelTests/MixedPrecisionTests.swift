import Checkpoint
import Foundation
import Testing
import TensorKernels

@testable import Model

/// bf16 autocast against our fp32 path and against PyTorch autocast. The emulated backend (exact bf16
/// products, float sums) runs everywhere; oneDNN joins where it runs bf16 (else that case is skipped).
enum MixedPrecisionBackends {
    static var oneDNNRuns: Bool { (try? OneDNNBF16Gemm.shared.get()) != nil }
    static var oneDNNNote: String {
        if case .failure(let error) = OneDNNBF16Gemm.shared { return "skipped: \(error)" }
        return "oneDNN runs bf16"
    }

    static func resolved(_ name: String) throws -> ResolvedPrecision {
        let environment = name == "emulated" ? [PrecisionEnvironment.emulateBF16: "1"] : [:]
        let flags: Set<String> = name == "emulated" ? [] : Precision.bf16CPUFlags
        return try Precision.resolve(
            requested: .bf16, environment: environment, cpuFlags: flags, cpuVendor: "",
            oneDNN: { OneDNNBF16Gemm.shared.map { $0 as any BF16Gemm } })
    }
}

func cosineSimilarity(_ a: [Float], _ b: [Float]) -> Double {
    var dot = 0.0, na = 0.0, nb = 0.0
    for (x, y) in zip(a, b) {
        dot += Double(x) * Double(y); na += Double(x) * Double(x); nb += Double(y) * Double(y)
    }
    return na == 0 && nb == 0 ? 1 : dot / (na.squareRoot() * nb.squareRoot())
}

@Suite struct MixedPrecisionTests {
    /// Hidden states within 2e-2 relative L2 of fp32, loss within 1e-2 of fp32 and of PyTorch's bf16
    /// autocast, every parameter gradient at cosine ≥ 0.999 to fp32's (dropout on, same masks).
    @Test func tinyModelMatchesFloat32AndTorchAutocastEmulated() throws {
        try tinyModelMatchesFloat32AndTorchAutocast(backend: "emulated")
    }

    @Test(.enabled(if: MixedPrecisionBackends.oneDNNRuns, "\(MixedPrecisionBackends.oneDNNNote)"))
    func tinyModelMatchesFloat32AndTorchAutocastOneDNN() throws {
        try tinyModelMatchesFloat32AndTorchAutocast(backend: "oneDNN")
    }

    func tinyModelMatchesFloat32AndTorchAutocast(backend: String) throws {
        let tiny = try TinyCase()
        let model = try tiny.model(heads: .maskedLM)
        let workspace = try tiny.workspace(for: model)
        let fp32Loss = try tiny.maskedLMForward(model, workspace).loss
        let fp32Hidden = Array(workspace.lastHiddenState)
        _ = try tiny.maskedLMForward(model, workspace, training: true, seed: 3)
        model.zeroGradients()
        try model.maskedLMBackward(workspace: workspace)
        let fp32Gradients = Array(model.gradients)

        model.setPrecision(try MixedPrecisionBackends.resolved(backend))
        let bf16Loss = try tiny.maskedLMForward(model, workspace).loss
        let hiddenError = relativeL2Error(Array(workspace.lastHiddenState), fp32Hidden)
        #expect(hiddenError <= 2e-2, "last hidden state relative L2 \(hiddenError)")
        #expect(hiddenError > 0, "bf16 changed nothing: is the bf16 path running?")
        let autocast = try SafeTensorsFixture(Fixtures.root.appendingPathComponent("tiny/autocast.safetensors"))
        let torchLoss = try autocast.floats("loss_bf16_autocast")[0]
        #expect(abs(bf16Loss - fp32Loss) / fp32Loss <= 1e-2, "bf16 loss \(bf16Loss) vs fp32 \(fp32Loss)")
        #expect(abs(bf16Loss - torchLoss) / torchLoss <= 1e-2, "bf16 loss \(bf16Loss) vs torch autocast \(torchLoss)")
        let torchHidden = try autocast.floats("last_hidden_state_bf16_autocast")
        let torchHiddenError = relativeL2Error(Array(workspace.lastHiddenState), torchHidden)
        #expect(torchHiddenError <= 2e-2, "last hidden state vs torch autocast: relative L2 \(torchHiddenError)")

        _ = try tiny.maskedLMForward(model, workspace, training: true, seed: 3)
        model.zeroGradients()
        try model.maskedLMBackward(workspace: workspace)
        var worst = 1.0
        for tensor in model.layout.tensors where !tensor.name.hasSuffix("attention.self.key.bias") {
            let expected = Array(fp32Gradients[tensor.offset..<(tensor.offset + tensor.count)])
            let cosine = cosineSimilarity(Array(model.gradient(tensor.name)!), expected)
            #expect(cosine >= 0.999, "gradient of \(tensor.name): cosine \(cosine)")
            worst = min(worst, cosine)
        }
        print("bf16 (\(backend)): hidden rel L2 \(hiddenError) (vs torch autocast \(torchHiddenError)), loss \(bf16Loss) vs fp32 \(fp32Loss) vs torch autocast \(torchLoss), worst gradient cosine \(worst)")
    }

    /// The bf16 weight copies follow the parameters after `parametersDidChange()`, and only then.
    @Test func weightCopiesRefreshAfterParametersDidChange() throws {
        let tiny = try TinyCase()
        let model = try tiny.model(heads: .maskedLM)
        let workspace = try tiny.workspace(for: model)
        model.setPrecision(try MixedPrecisionBackends.resolved("emulated"))
        let before = try tiny.maskedLMForward(model, workspace).loss
        let weight = model.tensor("bert.encoder.layer.1.output.dense.weight")!
        for i in weight.indices { weight[i] *= 1.5 }
        #expect(try tiny.maskedLMForward(model, workspace).loss == before, "copies are kept until told")
        model.parametersDidChange()
        let after = try tiny.maskedLMForward(model, workspace).loss
        let fresh = try tiny.model(heads: .maskedLM)
        let freshWeight = fresh.tensor("bert.encoder.layer.1.output.dense.weight")!
        for i in freshWeight.indices { freshWeight[i] *= 1.5 }
        fresh.setPrecision(try MixedPrecisionBackends.resolved("emulated"))
        #expect(after == (try tiny.maskedLMForward(fresh, try tiny.workspace(for: fresh)).loss))
        #expect(after != before)
        model.setPrecision(.fp32)
        #expect(try tiny.maskedLMForward(model, workspace).loss != after, "back to fp32")
    }

    static let noMiniLM = "skipped: cache/models/all-MiniLM-L6-v2 is absent (run Corpora/fetch.sh)"

    @Test(.enabled(if: MiniLM.folder != nil, "\(noMiniLM)")) func miniLMWithin2PercentOfFloat32Emulated() throws {
        try miniLMLastHiddenStatesWithin2PercentOfFloat32(backend: "emulated")
    }

    @Test(
        .enabled(if: MiniLM.folder != nil, "\(noMiniLM)"),
        .enabled(if: MixedPrecisionBackends.oneDNNRuns, "\(MixedPrecisionBackends.oneDNNNote)"))
    func miniLMWithin2PercentOfFloat32OneDNN() throws {
        try miniLMLastHiddenStatesWithin2PercentOfFloat32(backend: "oneDNN")
    }

    func miniLMLastHiddenStatesWithin2PercentOfFloat32(backend: String) throws {
        let model = try MiniLM.encoder()
        let layout = model.layout
        let reference = try SafeTensorsFixture(Fixtures.root.appendingPathComponent("minilm/case.safetensors"))
        let shape = try reference.shape("input_ids")
        let ids = try reference.ints("input_ids")
        let mask = try reference.ints("attention_mask").map { UInt8($0) }
        let types = [Int32](repeating: 0, count: ids.count)
        let workspace = try BertWorkspace(layout: layout, batchSize: shape[0], seqLength: shape[1], maxMaskedTokens: 1)
        func hidden() throws -> [Float] {
            try ids.withUnsafeBufferPointer { i in
                try types.withUnsafeBufferPointer { t in
                    try mask.withUnsafeBufferPointer { m in
                        Array(try model.encoderForward(
                            EncoderInputs(batchSize: shape[0], seqLength: shape[1], inputIds: i, tokenTypeIds: t, attentionMask: m),
                            workspace: workspace, training: false, dropoutSeed: 0))
                    }
                }
            }
        }
        let fp32 = try hidden()
        model.setPrecision(try MixedPrecisionBackends.resolved(backend))
        let error = relativeL2Error(try hidden(), fp32)
        #expect(error <= 2e-2, "relative L2 \(error)")
        print("bf16 (\(backend)): all-MiniLM-L6-v2 last hidden state relative L2 \(error)")
    }
}
