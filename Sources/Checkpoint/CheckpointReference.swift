import Foundation

/// What a user means by a model path (`--init`, `--resume`, `--checkpoint`, `inspect PATH`),
/// resolved to the one safetensors file to read and the folder whose `config.json`, `vocab.txt`
/// and `tokenizer_config.json` complete it. Every command resolves its path here, so each one
/// accepts the same five kinds.
public struct CheckpointReference: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        /// An `adapt` output folder (its `latest`, else its newest `step-N`) or a `classify`/`ner` one
        /// (its `model.safetensors.gz`).
        case runFolder = "run folder"
        /// A run's `latest` file: the checkpoint it names.
        case latestPointer = "latest pointer"
        /// A `.safetensors` or `.safetensors.gz` file, ours or anyone's.
        case file = "safetensors file"
        /// An HF model folder: `config.json` + `model.safetensors`.
        case modelFolder = "HF model folder"
        /// A sentence-transformers folder: `modules.json` naming the Transformer module's folder
        /// (the root, or `0_Transformer` in the older layout).
        case sentenceTransformers = "sentence-transformers folder"
    }

    /// The path as given.
    public let given: URL
    public let kind: Kind
    /// The safetensors file to read.
    public let weights: URL
    /// Where `config.json`, `vocab.txt` and `tokenizer_config.json` are looked for when the file's
    /// metadata lacks them.
    public let companions: URL

    /// What errors and notes name: the model folder for folders, else the checkpoint file itself.
    public var displayURL: URL {
        switch kind {
        case .modelFolder, .sentenceTransformers: return given
        case .runFolder, .latestPointer, .file: return weights
        }
    }

    public var description: String {
        kind == .file ? weights.path : "\(given.path) (\(kind.rawValue): \(weights.path))"
    }

    static let expected = "a run folder, its `latest` file, a .safetensors or .safetensors.gz file, "
        + "an HF model folder (config.json + model.safetensors) or a sentence-transformers folder (modules.json)"

    public static func resolve(_ path: String) throws -> CheckpointReference {
        try resolve(URL(fileURLWithPath: path))
    }

    public static func resolve(_ url: URL) throws -> CheckpointReference {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw CheckpointError.io(file: url.path, reason: "no such file or folder")
        }
        return isDirectory.boolValue ? try resolveFolder(url) : try resolveFile(url)
    }

    /// Opens and decompresses the file once; pass the result on rather than opening again.
    public func open() throws -> LoadedCheckpoint {
        try LoadedCheckpoint.open(reference: self)
    }

    // MARK: - Files

    private static func resolveFile(_ url: URL) throws -> CheckpointReference {
        let folder = url.deletingLastPathComponent()
        if url.lastPathComponent == CheckpointStore.latestPointerName {
            guard let named = try CheckpointStore(directory: folder).latest() else {
                throw CheckpointError.io(file: url.path, reason: "cannot read the `latest` pointer")
            }
            return CheckpointReference(given: url, kind: .latestPointer, weights: named, companions: folder)
        }
        let name = url.lastPathComponent
        if !(name.hasSuffix(".safetensors") || name.hasSuffix(".safetensors.gz")) {
            // Other names are accepted by content: a gzip stream or a safetensors header.
            let found = try sniff(url)
            guard found == nil else {
                throw CheckpointError.notACheckpoint(path: url.path, found: found!, expected: expected)
            }
        }
        return CheckpointReference(given: url, kind: .file, weights: url, companions: folder)
    }

    /// nil when the first bytes look like gzip or safetensors, else what the file seems to be.
    static func sniff(_ url: URL) throws -> String? {
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw CheckpointError.io(file: url.path, reason: "cannot open for reading")
        }
        defer { try? handle.close() }
        let head = [UInt8]((try? handle.read(upToCount: 256)) ?? Data())
        let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
        if head.count >= 2 && head[0] == 0x1f && head[1] == 0x8b { return nil }
        if head.count >= 9 && head[8] == UInt8(ascii: "{") {
            let length = head[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
            if length <= UInt64(max(0, size - 8)) { return nil }
        }
        if head.isEmpty { return "an empty file" }
        if head.starts(with: Array("PK".utf8)) { return "a zip archive (a PyTorch .bin/.pt file? convert it to model.safetensors)" }
        if head[0] == 0x80 { return "a Python pickle (a PyTorch .bin file? convert it to model.safetensors)" }
        if let text = String(bytes: head, encoding: .utf8) {
            let firstLine = text.split(separator: "\n", omittingEmptySubsequences: true).first.map(String.init) ?? ""
            return "a text file starting \"\(firstLine.prefix(60))\""
        }
        return "neither gzip nor safetensors data"
    }

    // MARK: - Folders

    private static func resolveFolder(_ folder: URL) throws -> CheckpointReference {
        let manager = FileManager.default
        func has(_ name: String, in directory: URL = folder) -> Bool {
            manager.fileExists(atPath: directory.appendingPathComponent(name).path)
        }
        if has("modules.json") || has("0_Transformer") {
            let module = try transformerModule(of: folder)
            let weights = try modelFolderWeights(module, describedAs: module == folder ? nil : "the Transformer module folder")
            return CheckpointReference(given: folder, kind: .sentenceTransformers, weights: weights, companions: module)
        }
        if has("config.json") || has("model.safetensors") || has("pytorch_model.bin") {
            let weights = try modelFolderWeights(folder, describedAs: nil)
            return CheckpointReference(given: folder, kind: .modelFolder, weights: weights, companions: folder)
        }
        let store = CheckpointStore(directory: folder)
        if let latest = try store.latest() ?? store.checkpoints().last?.url {
            return CheckpointReference(given: folder, kind: .runFolder, weights: latest, companions: folder)
        }
        // A classify or ner run's output.
        if has("model.safetensors.gz") {
            return CheckpointReference(given: folder, kind: .runFolder, weights: folder.appendingPathComponent("model.safetensors.gz"),
                                       companions: folder)
        }
        let entries = ((try? manager.contentsOfDirectory(atPath: folder.path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
        let found = entries.isEmpty ? "an empty folder"
            : "a folder holding " + entries.prefix(6).joined(separator: ", ") + (entries.count > 6 ? ", …" : "")
        throw CheckpointError.notACheckpoint(path: folder.path, found: found, expected: expected)
    }

    /// `model.safetensors` of an HF-style folder, which must also hold `config.json`.
    private static func modelFolderWeights(_ folder: URL, describedAs role: String?) throws -> URL {
        let manager = FileManager.default
        let label = role.map { "\($0) \(folder.lastPathComponent)" } ?? "this folder"
        let weights = folder.appendingPathComponent("model.safetensors")
        guard manager.fileExists(atPath: weights.path) else {
            let hasBin = manager.fileExists(atPath: folder.appendingPathComponent("pytorch_model.bin").path)
            throw CheckpointError.invalidModelFolder(
                folder: folder.path,
                reason: hasBin ? "only pytorch_model.bin found in \(label); convert it to model.safetensors first "
                    + "(transformers: save_pretrained(folder, safe_serialization=True))"
                    : "no model.safetensors in \(label); expected \(expected)")
        }
        guard manager.fileExists(atPath: folder.appendingPathComponent("config.json").path) else {
            throw CheckpointError.invalidModelFolder(folder: folder.path, reason: "no config.json in \(label) (beside model.safetensors)")
        }
        return weights
    }

    /// The folder of the `sentence_transformers.models.Transformer` module: `modules.json` names it
    /// (path "" is the root); without `modules.json`, `0_Transformer`.
    private static func transformerModule(of folder: URL) throws -> URL {
        let modulesURL = folder.appendingPathComponent("modules.json")
        guard FileManager.default.fileExists(atPath: modulesURL.path) else {
            return folder.appendingPathComponent("0_Transformer")
        }
        let modules: [[String: Any]]
        do {
            let object = try JSONSerialization.jsonObject(with: Data(contentsOf: modulesURL))
            guard let list = object as? [[String: Any]] else {
                throw CheckpointError.invalidModelFolder(folder: folder.path, reason: "modules.json is not a list of modules")
            }
            modules = list
        } catch let error as CheckpointError { throw error } catch {
            throw CheckpointError.invalidModelFolder(folder: folder.path, reason: "modules.json is not valid JSON (\(error.localizedDescription))")
        }
        guard let transformer = modules.first(where: { ($0["type"] as? String)?.hasSuffix(".Transformer") == true }) else {
            let types = modules.compactMap { $0["type"] as? String }
            throw CheckpointError.invalidModelFolder(
                folder: folder.path,
                reason: "modules.json lists no sentence_transformers.models.Transformer module (found \(types.joined(separator: ", ")))")
        }
        let path = transformer["path"] as? String ?? ""
        return path.isEmpty ? folder : folder.appendingPathComponent(path)
    }
}
