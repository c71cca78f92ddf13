import Foundation
import Model

/// Reading and writing one `.safetensors` or `.safetensors.gz` file.
public enum CheckpointFile {
    /// Compressed when the name ends in `.gz`. Atomic: see `AtomicFile`.
    public static func write(
        _ tensors: [TensorView], metadata: [String: String], to url: URL, compression: Gzip.Options = Gzip.Options()
    ) throws {
        try write(tensors, metadata: metadata, to: url, compression: compression, failAfterBytes: nil)
    }

    static func write(
        _ tensors: [TensorView], metadata: [String: String], to url: URL, compression: Gzip.Options, failAfterBytes: Int?
    ) throws {
        let plain = SafeTensorsWriter.serialize(tensors, metadata: metadata)
        let content = url.pathExtension == "gz" ? try Gzip.compress(plain, options: compression) : plain
        try AtomicFile.write([content], to: url, failAfterBytes: failAfterBytes)
    }

    /// Reads a plain or gzip-compressed safetensors file (recognised by its first bytes).
    public static func read(_ url: URL) throws -> SafeTensorsFile {
        let raw: [UInt8]
        do { raw = try [UInt8](Data(contentsOf: url)) } catch {
            throw CheckpointError.io(file: url.path, reason: "cannot read (\(error.localizedDescription))")
        }
        let plain = Gzip.isGzip(raw) ? try Gzip.decompress(raw, source: url.path) : raw
        return try SafeTensorsFile(bytes: plain, source: url.path)
    }
}

extension ParameterLayout {
    /// Views of every parameter in `arena`, with the layout's (HF BertForMaskedLM) names.
    public func tensorViews(of arena: UnsafeBufferPointer<Float>) -> [TensorView] {
        precondition(arena.count >= totalCount, "arena holds \(arena.count) floats, layout needs \(totalCount)")
        return tensors.map { tensor in
            TensorView(name: tensor.name, shape: tensor.shape,
                       values: UnsafeBufferPointer(rebasing: arena[tensor.offset..<(tensor.offset + tensor.count)]))
        }
    }

    /// The heads a set of HF tensor names implies (used when a file comes without a layout).
    public static func inferHeads(fromTensorNames names: some Sequence<String>, shapes: [String: [Int]]) -> ModelHeads {
        let canonical = Set(names.map { WeightNames.canonical($0) ?? $0 })
        let labels = shapes.first { WeightNames.canonical($0.key) == "classifier.weight" }?.value.first
        return ModelHeads(
            maskedLM: canonical.contains { $0.hasPrefix("cls.predictions.") },
            pooler: canonical.contains("bert.pooler.dense.weight"),
            classifierLabels: labels)
    }
}
