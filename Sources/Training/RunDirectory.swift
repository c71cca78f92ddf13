import Checkpoint
import Foundation
import Masking

/// Names inside a run's output folder, besides the checkpoints `CheckpointStore` manages.
public enum RunDirectory {
    public static let metricsFileName = "metrics.jsonl"
    public static let settingsFileName = "run.json"

    /// `runs/<yyyy-mm-dd-HHMM>-<corpus name>-<mask>` (UTC), the corpus name being the first
    /// corpus path's file name without extensions (or its folder name for a glob).
    public static func defaultURL(corpus: [String], mask: MaskingStrategyKind, date: Date = Date(),
                                  root: URL = URL(fileURLWithPath: "runs")) -> URL {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd-HHmm"
        return root.appendingPathComponent("\(formatter.string(from: date))-\(corpusName(corpus))-\(mask.rawValue)")
    }

    static func corpusName(_ corpus: [String]) -> String {
        guard let first = corpus.first else { return "corpus" }
        var url = URL(fileURLWithPath: first)
        // For a glob such as data/*.txt, name the run after the folder.
        while url.lastPathComponent.contains("*") || url.lastPathComponent.contains("?") {
            url.deleteLastPathComponent()
        }
        var name = url.lastPathComponent
        while let dot = name.lastIndex(of: "."), dot != name.startIndex {
            name = String(name[..<dot])
        }
        let cleaned = String(name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" })
        return cleaned.isEmpty || cleaned == "_" ? "corpus" : cleaned
    }

    /// The checkpoint `--resume PATH` means: a file as is; for a run folder, the one its
    /// `latest` names, else its newest `step-N` checkpoint.
    public static func resolveResume(_ path: String) throws -> URL {
        let url = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw TrainingError.resume("\(path) does not exist")
        }
        guard isDirectory.boolValue else { return url }
        let store = CheckpointStore(directory: url)
        if let latest = try store.latest() { return latest }
        guard let newest = store.checkpoints().last else {
            throw TrainingError.resume("\(path) holds no step-N.safetensors.gz checkpoint")
        }
        return newest.url
    }
}
