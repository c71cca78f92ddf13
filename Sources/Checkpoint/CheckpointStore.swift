import Foundation

/// A run's checkpoint folder: `step-N.safetensors.gz` (model, HF names, metadata),
/// `step-N.optimizer.safetensors.gz` (AdamW moments) and `latest` (text naming the newest
/// model file). Keeps the last `keepLast` steps.
public struct CheckpointStore: Sendable {
    public static let latestPointerName = "latest"
    public let directory: URL
    public let keepLast: Int
    public var compression: Gzip.Options

    public init(directory: URL, keepLast: Int = 3, compression: Gzip.Options = Gzip.Options()) {
        self.directory = directory; self.keepLast = max(1, keepLast); self.compression = compression
    }

    public func modelURL(step: Int) -> URL { directory.appendingPathComponent("step-\(step).safetensors.gz") }

    /// The optimizer sibling of a model checkpoint file.
    public static func optimizerURL(for model: URL) -> URL {
        let name = model.lastPathComponent
        let stem = name.hasSuffix(".safetensors.gz") ? String(name.dropLast(".safetensors.gz".count))
            : name.hasSuffix(".safetensors") ? String(name.dropLast(".safetensors".count)) : name
        return model.deletingLastPathComponent().appendingPathComponent("\(stem).optimizer.safetensors.gz")
    }

    /// Writes optimizer state, then the model, then moves `latest`, then prunes. A crash at any
    /// point leaves `latest` naming a complete earlier checkpoint.
    @discardableResult
    public func save(
        step: Int, model: [TensorView], optimizer: [TensorView]?, metadata: CheckpointMetadata
    ) throws -> URL {
        try save(step: step, model: model, optimizer: optimizer, metadata: metadata, fault: nil)
    }

    func save(
        step: Int, model: [TensorView], optimizer: [TensorView]?, metadata: CheckpointMetadata, fault: WriteFault?
    ) throws -> URL {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw CheckpointError.io(file: directory.path, reason: "cannot create the checkpoint folder (\(error.localizedDescription))")
        }
        AtomicFile.removeAbandonedTemporaries(in: directory)
        var stamped = metadata
        stamped.step = step
        let url = modelURL(step: step)
        if let optimizer {
            var optimizerMetadata = CheckpointMetadata(step: step)
            optimizerMetadata.extra["content"] = "optimizer"
            try CheckpointFile.write(optimizer, metadata: optimizerMetadata.dictionary(), to: Self.optimizerURL(for: url),
                                     compression: compression, fault: fault)
        }
        try CheckpointFile.write(model, metadata: stamped.dictionary(), to: url, compression: compression,
                                 fault: fault)
        try AtomicFile.write(text: url.lastPathComponent + "\n", to: directory.appendingPathComponent(Self.latestPointerName))
        try prune(keeping: url)
        return url
    }

    /// The model file named by `latest`, or nil when the folder has no checkpoint yet.
    public func latest() throws -> URL? {
        let pointer = directory.appendingPathComponent(Self.latestPointerName)
        guard FileManager.default.fileExists(atPath: pointer.path) else { return nil }
        let name: String
        do { name = try String(contentsOf: pointer, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) } catch {
            throw CheckpointError.io(file: pointer.path, reason: "cannot read (\(error.localizedDescription))")
        }
        guard !name.isEmpty, !name.contains("/") else {
            throw CheckpointError.io(file: pointer.path, reason: "does not name a checkpoint file ('\(name)')")
        }
        let url = directory.appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw CheckpointError.io(file: pointer.path, reason: "names \(name), which does not exist")
        }
        return url
    }

    /// Model checkpoint files present, oldest step first.
    public func checkpoints() -> [(step: Int, url: URL)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.compactMap { name -> (Int, URL)? in
            guard name.hasPrefix("step-"), name.hasSuffix(".safetensors.gz"), !name.hasSuffix(".optimizer.safetensors.gz"),
                  let step = Int(name.dropFirst("step-".count).dropLast(".safetensors.gz".count)) else { return nil }
            return (step, directory.appendingPathComponent(name))
        }.sorted { $0.0 < $1.0 }
    }

    private func prune(keeping newest: URL) throws {
        let all = checkpoints()
        for (_, url) in all.dropLast(keepLast) where url != newest {
            for file in [url, Self.optimizerURL(for: url)] where FileManager.default.fileExists(atPath: file.path) {
                do { try FileManager.default.removeItem(at: file) } catch {
                    throw CheckpointError.io(file: file.path, reason: "cannot remove an old checkpoint (\(error.localizedDescription))")
                }
            }
        }
    }
}
