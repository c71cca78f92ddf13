import Foundation
import Testing

enum Fixtures {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/fewshot")
    static let repositoryRoot = folder.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let tinyModel = folder.appendingPathComponent("tiny-st")

    static func json(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: folder.appendingPathComponent(name))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// all-MiniLM-L6-v2 as Corpora/fetch.sh leaves it, when present.
    static var miniLM: URL? {
        var candidates = [repositoryRoot.appendingPathComponent("cache/models/all-MiniLM-L6-v2")]
        if let override = ProcessInfo.processInfo.environment["MLM_ADAPT_MINILM_DIR"] {
            candidates.insert(URL(fileURLWithPath: override), at: 0)
        }
        return candidates.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("model.safetensors").path) }
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("fewshot-\(UUID())")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
