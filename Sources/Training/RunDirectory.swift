import Checkpoint
import Foundation

/// Names inside a run's output folder, besides the checkpoints `CheckpointStore` manages.
public enum RunDirectory {
    public static let metricsFileName = "metrics.jsonl"
    public static let settingsFileName = "run.json"

    /// `runs/<yyyy-mm-dd-HHMM>-<corpus name>-<mask>` (UTC), the corpus name being the first
    /// corpus path's file name without extensions (or its folder name for a glob).
    public static func defaultURL(corpus: [String], mask: MaskingKind, date: Date = Date(),
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
}
