import Foundation

/// Finds the files a default names relative to the repository (the base model in `cache/models/`,
/// the vocabularies in `Vocab/`, the corpora in `Corpora/`) from any working directory. The places
/// tried, in order: `$MLM_ADAPT_HOME`; the repository the executable was built in (the nearest folder
/// above it holding `Package.swift`); the current directory.
public enum RepositoryFiles {
    public static let homeVariable = "MLM_ADAPT_HOME"
    /// The default starting model of `adapt`, `classify` and `ner`.
    public static let baseModel = "cache/models/all-MiniLM-L6-v2"

    public struct Root: Equatable, Sendable {
        public var url: URL
        /// Where the root came from, for messages: "MLM_ADAPT_HOME", "the executable's repository", "the current directory".
        public var origin: String
    }

    public static func roots(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        executable: URL? = currentExecutable,
        currentDirectory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    ) -> [Root] {
        var roots: [Root] = []
        if let home = environment[homeVariable], !home.isEmpty {
            roots.append(Root(url: URL(fileURLWithPath: home), origin: homeVariable))
        }
        if let executable {
            var folder = executable.resolvingSymlinksInPath().deletingLastPathComponent()
            while folder.path != "/" && !folder.path.isEmpty {
                if FileManager.default.fileExists(atPath: folder.appendingPathComponent("Package.swift").path) {
                    roots.append(Root(url: folder, origin: "the executable's repository"))
                    break
                }
                folder.deleteLastPathComponent()
            }
        }
        roots.append(Root(url: currentDirectory, origin: "the current directory"))
        return roots
    }

    /// The first existing `relative` under the roots; the error lists every place tried.
    public static func locate(_ relative: String, roots: [Root] = roots(), hint: String = "") throws -> URL {
        for root in roots {
            let candidate = root.url.appendingPathComponent(relative)
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
        }
        let tried = roots.map { "\($0.url.appendingPathComponent(relative).path) (\($0.origin))" }.joined(separator: ", ")
        throw ReportError("\(relative) was not found; tried \(tried). Set \(homeVariable) to the repository folder"
            + (hint.isEmpty ? "." : ", or \(hint)"))
    }

    /// The running executable (`/proc/self/exe` on Linux).
    public static var currentExecutable: URL? {
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            return URL(fileURLWithPath: path)
        }
        return Bundle.main.executableURL
    }
}
