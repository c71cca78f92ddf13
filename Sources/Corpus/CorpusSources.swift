import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns the user's sources (files, folders, globs) into an ordered, duplicate-free file list.
enum CorpusSources {
    static func resolve(_ specs: [String]) throws -> [String] {
        var files: [String] = []
        var seen = Set<String>()
        for spec in specs {
            let found: [String]
            if isGlob(spec) {
                found = try expandGlob(spec)
            } else {
                found = try expandPath(spec)
            }
            for file in found where seen.insert(file).inserted {
                files.append(file)
            }
        }
        return files
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
