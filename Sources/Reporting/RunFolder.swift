import Foundation

/// The one naming scheme of run folders, shared by `adapt`, `classify` and `ner`:
/// `runs/<yyyy-mm-dd-HHMMSS>-<command>-<data>[-<variant>]` (UTC), e.g.
/// `runs/2025-06-01-142501-adapt-legal-whole-word` or `runs/2025-06-01-150012-classify-bbc`.
public enum RunFolder {
    public static let root = "runs"

    public static func defaultURL(command: String, data: String, variant: String? = nil, date: Date = Date(),
                                  root: URL = URL(fileURLWithPath: RunFolder.root)) -> URL {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd-HHmmss"
        let parts = [formatter.string(from: date), command, data] + (variant.map { [$0] } ?? [])
        return root.appendingPathComponent(parts.map(cleaned).joined(separator: "-"))
    }

    /// A short name for the data a path holds: the file name without extensions; for a glob, or a
    /// generic file name such as `train.tsv`, the folder's name.
    public static func dataName(_ path: String?) -> String {
        guard let path, !path.isEmpty else { return "data" }
        var url = URL(fileURLWithPath: path)
        while url.lastPathComponent.contains("*") || url.lastPathComponent.contains("?") {
            url.deleteLastPathComponent()
        }
        var name = stem(url.lastPathComponent)
        if genericStems.contains(name.lowercased()) {
            let parent = url.deletingLastPathComponent().lastPathComponent
            if !parent.isEmpty && parent != "." && parent != "/" { name = parent }
        }
        let result = cleaned(name)
        return result.isEmpty || result == "_" ? "data" : result
    }

    /// Split names that say nothing about the task.
    static let genericStems: Set<String> = ["train", "training", "dev", "validation", "valid", "test"]

    static func stem(_ name: String) -> String {
        var name = name
        while let dot = name.lastIndex(of: "."), dot != name.startIndex { name = String(name[..<dot]) }
        return name
    }

    static func cleaned(_ part: String) -> String {
        String(part.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" })
    }
}
