import Foundation
import Testing

@testable import Model
import TensorKernels

/// Sizes from options and files are checked against memory before anything is allocated from them: an
/// absurd `--batch-size` or a forged config.json gets an error that names it, never an allocation abort.
@Suite struct UntrustedSizeTests {
    @Test func checkedArithmeticReportsOverflowAndNegativeFactors() {
        #expect(MemoryBudget.product(3, 4, 5) == 60)
        #expect(MemoryBudget.product(Int.max, 2) == nil)
        #expect(MemoryBudget.product(1 << 32, 1 << 31) == nil)
        #expect(MemoryBudget.product(7, -1) == nil)
        #expect(MemoryBudget.sum([1, 2, 3]) == 6)
        #expect(MemoryBudget.sum([Int.max, 1]) == nil)
        #expect(MemoryBudget.sum([1, nil]) == nil)
    }

    @Test func theBudgetIsWhatTheMachineCanGive() throws {
        let available = MemoryBudget.available()
        #expect(available.bytes > 1 << 20)
        #expect(available.bytes <= Int(ProcessInfo.processInfo.physicalMemory))
        try MemoryBudget.check(1 << 20, for: "a megabyte", hint: "-")
        // One byte more than the machine has: never available, however MemAvailable moves meanwhile (one byte
        // more than `available` would race with memory other processes free).
        let physical = Int(ProcessInfo.processInfo.physicalMemory)
        #expect {
            try MemoryBudget.check(MemoryBudget.sum([physical, 1]), for: "one byte too many", hint: "lower --x")
        } throws: { error in
            let text = "\(error)"
            return text.hasPrefix("one byte too many need ") && text.hasSuffix("; lower --x") && text.contains(available.bound)
        }
        #expect(throws: MemoryBudgetError.self) { try MemoryBudget.check(nil, for: "an overflow", hint: "-") }
    }

    static let tinyConfig = BertConfig(
        vocabSize: 100, hiddenSize: 32, numHiddenLayers: 2, numAttentionHeads: 4, intermediateSize: 37,
        maxPositionEmbeddings: 64)

    @Test(arguments: [(1, 8), (3, 64)]) func aWorkspaceThatFitsIsBuilt(batch: Int, sequence: Int) throws {
        let layout = ParameterLayout(config: Self.tinyConfig, heads: .maskedLM)
        let workspace = try BertWorkspace(layout: layout, batchSize: batch, seqLength: sequence, maxMaskedTokens: 4)
        #expect(workspace.byteCount > batch * sequence * Self.tinyConfig.hiddenSize * 4)
    }

    @Test(arguments: [(100_000_000, 64), (Int.max, 128), (1 << 32, 1 << 32)])
    func aWorkspaceThatCannotFitIsRefusedNamingTheOptions(batch: Int, sequence: Int) {
        let layout = ParameterLayout(config: Self.tinyConfig, heads: .maskedLM)
        #expect {
            _ = try BertWorkspace(layout: layout, batchSize: batch, seqLength: sequence, maxMaskedTokens: 1)
        } throws: { error in
            "\(error)".contains("a batch of \(batch) × \(sequence) tokens") && "\(error)".contains("--batch-size")
        }
    }

    /// The bound the config check uses is at least the arena the layout builds, and close to it.
    @Test(arguments: [
        tinyConfig, BertConfig(vocabSize: 30522, hiddenSize: 384, numHiddenLayers: 6, intermediateSize: 1536),
        BertConfig(),
    ]) func theParameterBoundCoversEveryLayout(config: BertConfig) throws {
        let bound = try #require(config.parameterCountBound)
        for heads in [ModelHeads.maskedLM, ModelHeads(maskedLM: false, pooler: true, classifierLabels: nil)] {
            let count = ParameterLayout(config: config, heads: heads).totalCount
            #expect(bound >= count)
        }
        let largest = ParameterLayout(config: config, heads: ModelHeads(maskedLM: true, pooler: true)).totalCount
        #expect(Double(bound) < Double(largest) * 1.05 + 4096)
    }

    @Test(arguments: [
        ("num_hidden_layers", 1_000_000), ("hidden_size", 1 << 20), ("vocab_size", 1_000_000_000),
        ("intermediate_size", 1_000_000_000), ("max_position_embeddings", 1_000_000_000),
        ("type_vocab_size", 1_000_000_000), ("vocab_size", 1_000_000_000_000_000_000),
    ]) func aConfigNoMemoryHoldsIsRefusedNamingTheFile(field: String, value: Int) throws {
        var object = try #require(try JSONSerialization.jsonObject(with: Self.tinyConfig.jsonData()) as? [String: Any])
        object[field] = value
        if field == "hidden_size" { object["num_attention_heads"] = 16 }
        let data = try JSONSerialization.data(withJSONObject: object)
        #expect {
            _ = try BertConfig.decode(data, source: "forged/config.json")
        } throws: { error in
            let text = "\(error)"
            return text.contains("forged/config.json") && text.contains("\(field) \(value)") && text.contains("would need")
        }
    }
}
