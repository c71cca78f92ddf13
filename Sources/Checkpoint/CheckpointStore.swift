import Foundation

/// A run's checkpoint folder: `step-N.safetensors.gz` (model, HF names, metadata),
/// `step-N.optimizer.safetensors.gz` (AdamW moments) and `latest` (text naming the newest
/// model file). Keeps the last `keepLast` steps.
public struct CheckpointStore: Sendable {
    public static let latestPointerName = "latest"
    /// Metadata key both files of one save carry, so a model is never resumed with another save's moments.
    static let saveIDKey = "save_id"
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
        removeLeftovers()
        let saveID = UUID().uuidString
        var stamped = metadata
        stamped.step = step
        stamped.extra[Self.saveIDKey] = saveID
        let url = modelURL(step: step)
        let optimizerURL = Self.optimizerURL(for: url)
        if let optimizer {
            var optimizerMetadata = CheckpointMetadata(step: step)
            optimizerMetadata.extra["content"] = "optimizer"
            optimizerMetadata.extra[Self.saveIDKey] = saveID
            try CheckpointFile.write(optimizer, metadata: optimizerMetadata.dictionary(), to: optimizerURL,
                                     compression: compression, fault: fault)
        }
        do {
            try CheckpointFile.write(model, metadata: stamped.dictionary(), to: url, compression: compression, fault: fault)
        } catch {
            // Its model never landed: a sibling left behind would only take space a retry needs.
            if optimizer != nil { try? FileManager.default.removeItem(at: optimizerURL) }
            throw error
        }
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

    /// The optimizer state saved together with `model`; refuses a sibling from another save (two runs
    /// on one folder, or a copy put beside the wrong model).
    public static func readOptimizer(pairedWith model: LoadedCheckpoint) throws -> SafeTensorsFile {
        let url = optimizerURL(for: model.url)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw CheckpointError.io(file: url.path, reason: "missing (the optimizer state of \(model.url.lastPathComponent))")
        }
        let file = try CheckpointFile.read(url)
        let modelID = model.metadata.extra[saveIDKey]
        guard modelID == file.metadata[saveIDKey] else {
            throw CheckpointError.io(
                file: url.path,
                reason: "belongs to another save than \(model.url.lastPathComponent) (save_id \(file.metadata[saveIDKey] ?? "none") vs "
                    + "\(modelID ?? "none")); refusing to resume with mismatched optimizer state")
        }
        return file
    }

    /// Temporaries of writers that no longer run, and optimizer files whose model is gone.
    public func removeLeftovers() {
        AtomicFile.removeAbandonedTemporaries(in: directory)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        let suffix = ".optimizer.safetensors.gz"
        for name in names where name.hasSuffix(suffix) {
            let model = directory.appendingPathComponent(String(name.dropLast(suffix.count)) + ".safetensors.gz")
            if !FileManager.default.fileExists(atPath: model.path) {
                try? FileManager.default.removeItem(at: directory.appendingPathComponent(name))
            }
        }
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
