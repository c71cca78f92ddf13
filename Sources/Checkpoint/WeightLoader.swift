import Foundation
import Model
import SeededRandom
import TensorKernels

/// How file tensor names map onto the layout's HF BertForMaskedLM names.
public enum WeightNames {
    static let tiedDecoderWeight = "cls.predictions.decoder.weight"
    static let decoderBias = "cls.predictions.decoder.bias"
    static let predictionBias = "cls.predictions.bias"
    static let wordEmbeddings = "bert.embeddings.word_embeddings.weight"

    /// The layout name for a file name: sentence-transformers / BertModel files lack the `bert.`
    /// prefix; old TF-converted files call LayerNorm parameters gamma/beta. Nil for buffers
    /// that are no parameters (`position_ids`, `token_type_ids`).
    public static func canonical(_ fileName: String) -> String? {
        var name = fileName
        if name.hasSuffix("embeddings.position_ids") || name.hasSuffix("embeddings.token_type_ids") { return nil }
        if name.contains("LayerNorm.") {
            if name.hasSuffix(".gamma") { name = String(name.dropLast("gamma".count)) + "weight" }
            if name.hasSuffix(".beta") { name = String(name.dropLast("beta".count)) + "bias" }
        }
        if !(name.hasPrefix("bert.") || name.hasPrefix("cls.") || name.hasPrefix("classifier.")) {
            name = "bert." + name
        }
        return name
    }

    /// Tensors that belong to a head and may be created when absent, as transformers does.
    static func isHead(_ name: String) -> Bool {
        name.hasPrefix("cls.") || name.hasPrefix("bert.pooler.") || name.hasPrefix("classifier.")
    }
}

public struct LoadOptions: Sendable {
    /// Initialise absent heads (MLM head, pooler, classifier) instead of failing.
    public var createMissingHeads: Bool
    /// Seed for the normal(0, initializer_range) initialisation of created heads.
    public var seed: UInt64
    public init(createMissingHeads: Bool = true, seed: UInt64 = 0) {
        self.createMissingHeads = createMissingHeads; self.seed = seed
    }
}

/// What a load did, in transformers' terms.
public struct LoadReport: Sendable, CustomStringConvertible {
    public var source: String
    /// Layout tensors filled from the file.
    public var loaded: [String] = []
    /// Layout tensors absent from the file and freshly initialised (heads only).
    public var initialized: [String] = []
    /// True when the whole MLM head was absent and has been created.
    public var createdMaskedLMHead = false
    /// File tensors of a head the layout does not have (e.g. the pooler for BertForMaskedLM).
    public var unused: [String] = []
    /// Non-parameter buffers such as `embeddings.position_ids`.
    public var ignoredBuffers: [String] = []
    /// File dtypes other than F32 that were converted, with tensor counts.
    public var convertedDTypes: [String: Int] = [:]
    public var warnings: [String] = []

    public var description: String {
        var lines = ["loaded \(loaded.count) tensors from \(source)"]
        if createdMaskedLMHead { lines.append("MLM head absent: created it (transform initialised, decoder tied to word embeddings)") }
        if !initialized.isEmpty { lines.append("newly initialised: \(initialized.joined(separator: ", "))") }
        if !unused.isEmpty { lines.append("unused (head not in this model): \(unused.joined(separator: ", "))") }
        if !ignoredBuffers.isEmpty { lines.append("ignored buffers: \(ignoredBuffers.joined(separator: ", "))") }
        for (dtype, count) in convertedDTypes.sorted(by: { $0.key < $1.key }) {
            lines.append("converted \(count) tensors from \(dtype) to F32")
        }
        lines += warnings.map { "warning: \($0)" }
        return lines.joined(separator: "\n")
    }
}

extension LoadedCheckpoint {
    /// Fills `arena` (laid out by `layout`) from this checkpoint: checks the config, every
    /// dtype and shape, maps the naming variants, creates absent heads when allowed, and
    /// reports missing and unused tensors by name, and refuses unexpected ones.
    public func loadWeights(
        into arena: UnsafeMutableBufferPointer<Float>, layout: ParameterLayout, options: LoadOptions = LoadOptions()
    ) throws -> LoadReport {
        precondition(arena.count >= layout.totalCount, "arena holds \(arena.count) floats, layout needs \(layout.totalCount)")
        try verifyConfig(matches: layout.config)
        var report = LoadReport(source: source)

        var byCanonical: [String: SafeTensorsEntry] = [:]
        for entry in tensors.entries {
            guard let name = WeightNames.canonical(entry.name) else {
                report.ignoredBuffers.append(entry.name)
                continue
            }
            if let other = byCanonical[name] {
                throw CheckpointError.invalidTensor(
                    file: source, tensor: entry.name, reason: "names the same parameter as '\(other.name)'")
            }
            byCanonical[name] = entry
        }

        var consumed: Set<String> = []
        var missing: [ParameterTensor] = []
        for tensor in layout.tensors {
            var candidate = byCanonical[tensor.name]
            if candidate == nil && tensor.name == WeightNames.predictionBias {
                candidate = byCanonical[WeightNames.decoderBias]  // the same parameter in transformers
            }
            guard let entry = candidate else {
                missing.append(tensor)
                continue
            }
            consumed.insert(WeightNames.canonical(entry.name) ?? entry.name)
            try load(entry, into: arena, tensor: tensor, report: &report)
            report.loaded.append(tensor.name)
        }

        let missingBase = missing.filter { !WeightNames.isHead($0.name) }.map(\.name)
        guard missingBase.isEmpty else { throw CheckpointError.missingTensors(file: source, names: missingBase) }
        if !missing.isEmpty {
            guard options.createMissingHeads else {
                throw CheckpointError.missingTensors(file: source, names: missing.map(\.name))
            }
            for tensor in missing {
                HeadInitializer.initialize(tensor, in: arena, config: layout.config, seed: options.seed)
                report.initialized.append(tensor.name)
            }
            let headNames = layout.tensors.map(\.name).filter { $0.hasPrefix("cls.") }
            report.createdMaskedLMHead = !headNames.isEmpty && headNames.allSatisfy { report.initialized.contains($0) }
        }

        var unexpected: [String] = []
        for entry in tensors.entries {
            guard let name = WeightNames.canonical(entry.name), !consumed.contains(name) else { continue }
            switch name {
            case WeightNames.tiedDecoderWeight where layout.heads.maskedLM:
                try checkSharedCopy(
                    entry, of: WeightNames.wordEmbeddings, resolution: "the model ties them, so the word embeddings are used",
                    arena: arena, layout: layout, report: &report)
            case WeightNames.decoderBias where layout.heads.maskedLM:
                try checkSharedCopy(
                    entry, of: WeightNames.predictionBias, resolution: "\(WeightNames.predictionBias) is used",
                    arena: arena, layout: layout, report: &report)
            case _ where WeightNames.isHead(name):
                report.unused.append(entry.name)
            default:
                unexpected.append(entry.name)
            }
        }
        try refuseUnexpected(unexpected, config: layout.config)
        return report
    }

    /// A tensor that matches nothing means the file is not the model its config describes (most often a
    /// config with fewer layers than the file holds): loading it anyway would silently drop weights.
    private func refuseUnexpected(_ names: [String], config: BertConfig) throws {
        guard let first = names.first else { return }
        let layerPattern = /encoder\.layer\.(\d+)\./
        if let layer = names.compactMap({ $0.firstMatch(of: layerPattern).flatMap { Int($0.1) } }).max(),
           layer >= config.numHiddenLayers {
            throw CheckpointError.configMismatch(
                file: source, reason: "the file holds encoder layer \(layer) but num_hidden_layers is \(config.numHiddenLayers)")
        }
        throw CheckpointError.invalidTensor(
            file: source, tensor: first,
            reason: "matches no parameter of the model" + (names.count > 1 ? " (and \(names.count - 1) more: \(names.dropFirst().prefix(5).joined(separator: ", ")))" : ""))
    }

    private func load(
        _ entry: SafeTensorsEntry, into arena: UnsafeMutableBufferPointer<Float>, tensor: ParameterTensor,
        report: inout LoadReport
    ) throws {
        guard entry.dtype.isLoadableAsFloat else {
            throw CheckpointError.invalidTensor(
                file: source, tensor: entry.name, reason: "dtype \(entry.dtype.rawValue) is not a float type (F32, F16, BF16)")
        }
        guard entry.shape == tensor.shape else {
            throw CheckpointError.shapeMismatch(file: source, tensor: entry.name, expected: tensor.shape, found: entry.shape)
        }
        try tensors.readFloats(entry, into: UnsafeMutableBufferPointer(rebasing: arena[tensor.offset..<(tensor.offset + tensor.count)]))
        if entry.dtype != .F32 { report.convertedDTypes[entry.dtype.rawValue, default: 0] += 1 }
    }

    /// A file entry that duplicates a tensor the model keeps once (the decoder tied to the word
    /// embeddings, `cls.predictions.decoder.bias` shared with `cls.predictions.bias`): a copy that
    /// differs loads, with a warning that ends with `resolution` (which copy is used).
    private func checkSharedCopy(
        _ entry: SafeTensorsEntry, of sharedName: String, resolution: String,
        arena: UnsafeMutableBufferPointer<Float>, layout: ParameterLayout, report: inout LoadReport
    ) throws {
        guard let shared = layout[sharedName], entry.shape == shared.shape, entry.dtype.isLoadableAsFloat else {
            throw CheckpointError.shapeMismatch(
                file: source, tensor: entry.name, expected: layout[sharedName]?.shape ?? [], found: entry.shape)
        }
        let difference = try maximumDifference(entry, from: arena, at: shared)
        if difference != 0 {
            report.warnings.append("\(entry.name) differs from \(sharedName) (max |difference| \(difference)); \(resolution)")
        }
    }

    private func maximumDifference(
        _ entry: SafeTensorsEntry, from arena: UnsafeMutableBufferPointer<Float>, at tensor: ParameterTensor
    ) throws -> Float {
        var values = [Float](repeating: 0, count: entry.elementCount)
        try values.withUnsafeMutableBufferPointer { try tensors.readFloats(entry, into: $0) }
        var largest: Float = 0
        for i in 0..<values.count { largest = max(largest, abs(values[i] - arena[tensor.offset + i])) }
        return largest
    }
}

/// BERT initialisation for heads absent from a checkpoint: weights normal(0, initializer_range),
/// biases 0, LayerNorm 1/0. Each tensor's stream depends only on the seed and its name.
enum HeadInitializer {
    static func initialize(
        _ tensor: ParameterTensor, in arena: UnsafeMutableBufferPointer<Float>, config: BertConfig, seed: UInt64
    ) {
        let values = UnsafeMutableBufferPointer(rebasing: arena[tensor.offset..<(tensor.offset + tensor.count)])
        if tensor.name.contains("LayerNorm") && tensor.name.hasSuffix(".weight") {
            values.update(repeating: 1)
        } else if tensor.name.hasSuffix(".bias") {
            values.update(repeating: 0)
        } else {
            var generator = SplitMix64(afterOneDrawFrom: seed ^ fnv1a(tensor.name))
            let std = Double(config.initializerRange)
            for i in 0..<values.count { values[i] = Float(generator.nextGaussian() * std) }
        }
    }

    static func fnv1a(_ text: String) -> UInt64 {
        text.utf8.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }
}
