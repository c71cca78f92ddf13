import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The files a corpus resolved to: ordered, each file once (`a.txt`, `./a.txt` and a link to it are one
/// file), and the names that were dropped as repeats.
public struct ResolvedCorpus: Equatable, Sendable {
    public struct Duplicate: Equatable, Sendable {
        /// The name dropped, and the earlier name of the same file.
        public let repeated: String, first: String
    }
    public var files: [String] = []
    /// In the order they were met.
    public var duplicates: [Duplicate] = []
}

/// Turns the user's sources (files, folders, globs) into an ordered, duplicate-free file list.
public enum CorpusSources {
    /// The source name that means standard input (`--corpus -`, `tokenize -`).
    public static let standardInput = "-"

    /// The files `specs` name, in order, each file once.
    public static func resolve(_ specs: [String]) throws -> ResolvedCorpus {
        var resolved = ResolvedCorpus()
        var seen: [FileIdentity: String] = [:]
        for spec in specs {
            let found: [String]
            if isGlob(spec) {
                found = try expandGlob(spec)
            } else {
                found = try expandPath(spec)
            }
            for file in found {
                let identity = FileIdentity(path: file)
                if let first = seen[identity] {
                    resolved.duplicates.append(.init(repeated: file, first: first))
                } else {
                    seen[identity] = file
                    resolved.files.append(file)
                }
            }
        }
        return resolved
    }

    /// `spec` (a file, folder or glob) as an absolute, standardized path, relative ones taken from
    /// `directory`; standard input stays `-`.
    public static func absolute(_ spec: String, from directory: String = FileManager.default.currentDirectoryPath) -> String {
        guard spec != standardInput else { return spec }
        let url = spec.hasPrefix("/") ? URL(fileURLWithPath: spec) : URL(fileURLWithPath: directory).appendingPathComponent(spec)
        return url.standardizedFileURL.path
    }

    /// Copies standard input to `folder/corpus-stdin.txt` (`.txt.gz` when it is gzip), so every pass of a
    /// run (epochs, the held-out split, a resume) reads the same text; returns the file's path. A copy
    /// already there (another run's input) is kept unless `replacing`.
    public static func spoolStandardInput(into folder: URL, replacing: Bool,
                                          from input: FileHandle = .standardInput) throws -> String {
        let names = ["corpus-stdin.txt", "corpus-stdin.txt.gz"]
        if !replacing, let taken = names.first(where: { FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path) }) {
            throw CorpusError.invalidOptions(
                "\(folder.appendingPathComponent(taken).path) already holds another run's standard input; choose another --output-dir")
        }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let first = try input.read(upToCount: 1 << 20) ?? Data()
        let url = folder.appendingPathComponent(first.starts(with: [0x1f, 0x8b]) ? names[1] : names[0])
        do {
            FileManager.default.createFile(atPath: url.path, contents: nil)
            let output = try FileHandle(forWritingTo: url)
            defer { try? output.close() }
            var chunk = first
            while !chunk.isEmpty {
                try output.write(contentsOf: chunk)
                chunk = try input.read(upToCount: 1 << 20) ?? Data()
            }
        } catch {
            throw CorpusError.readFailed(path: "standard input", detail: "copying it to \(url.path): \(error.localizedDescription)")
        }
        return url.path
    }

    static func isTextFile(_ path: String) -> Bool {
        let lower = path.lowercased()
        return lower.hasSuffix(".txt") || lower.hasSuffix(".gz")
    }

    static func isGzip(_ path: String) -> Bool {
        path.lowercased().hasSuffix(".gz")
    }

    private static func isGlob(_ spec: String) -> Bool {
        spec.contains("*") || spec.contains("?")
    }

    private static func isDirectory(_ path: String) -> Bool? {
        var directory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &directory) else { return nil }
        return directory.boolValue
    }

    /// A file named directly is read whatever its extension; a folder contributes its text files.
    private static func expandPath(_ path: String) throws -> [String] {
        switch isDirectory(path) {
        case nil:
            throw CorpusError.missingFile(path: path)
        case false:
            return [path]
        case true:
            let files = textFiles(inFolder: path)
            if files.isEmpty { throw CorpusError.noTextFiles(folder: path) }
            return files
        }
    }

    private static func textFiles(inFolder folder: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: folder) else { return [] }
        var files: [String] = []
        while let relative = walker.nextObject() as? String {
            let path = joined(folder, relative)
            if isTextFile(relative), isDirectory(path) == false { files.append(path) }
        }
        return files.sorted()
    }

    private static func joined(_ folder: String, _ name: String) -> String {
        folder.hasSuffix("/") ? folder + name : folder + "/" + name
    }

    /// Component-wise matching: `*` and `?` match within one path component (not a leading dot),
    /// `**` matches any number of folders, including none.
    private static func expandGlob(_ pattern: String) throws -> [String] {
        let absolute = pattern.hasPrefix("/")
        let components = pattern.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        var matches: [String] = []
        walk(base: absolute ? "/" : "", components: components[...], into: &matches)
        var files: [String] = []
        for match in matches.sorted() {
            switch isDirectory(match) {
            case true: files.append(contentsOf: textFiles(inFolder: match))
            case false: if isTextFile(match) { files.append(match) }
            case nil: break
            }
        }
        var seen = Set<String>()
        files = files.filter { seen.insert($0).inserted }
        if files.isEmpty { throw CorpusError.globMatchedNothing(pattern: pattern) }
        return files
    }

    private static func walk(base: String, components: ArraySlice<String>, into matches: inout [String]) {
        guard let component = components.first else {
            if !base.isEmpty { matches.append(base) }
            return
        }
        let rest = components.dropFirst()
        let folder = base.isEmpty ? "." : base
        func child(_ name: String) -> String { base.isEmpty ? name : joined(base, name) }

        if component == "**" {
            walk(base: base, components: rest, into: &matches)
            for name in entries(of: folder) where !name.hasPrefix(".") {
                let path = child(name)
                if isDirectory(path) == true, !isSymbolicLink(path) {
                    walk(base: path, components: components, into: &matches)
                }
            }
        } else if !isGlob(component) {
            let path = child(component)
            if isDirectory(path) != nil { walk(base: path, components: rest, into: &matches) }
        } else {
            for name in entries(of: folder) where fnmatch(component, name, FNM_PERIOD) == 0 {
                walk(base: child(name), components: rest, into: &matches)
            }
        }
    }

    private static func entries(of folder: String) -> [String] {
        guard isDirectory(folder) == true else { return [] }
        return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
    }

    private static func isSymbolicLink(_ path: String) -> Bool {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        return attributes?[.type] as? FileAttributeType == .typeSymbolicLink
    }
}

/// What makes two names one file: its device and inode (the name itself when it cannot be stat'ed).
private struct FileIdentity: Hashable {
    let device: UInt64, inode: UInt64, name: String

    init(path: String) {
        var info = stat()
        if stat(path, &info) == 0 {
            device = UInt64(info.st_dev); inode = UInt64(info.st_ino); name = ""
        } else {
            device = 0; inode = 0; name = path
        }
    }
}
