import Foundation

/// A command that could not be started or exited non-zero.
struct SubprocessError: Error, CustomStringConvertible {
    let description: String
}

/// Runs the real CLIs as child processes, so benchmarks measure what users run.
enum Subprocess {
    struct Result {
        let status: Int32
        let seconds: Double
        /// Everything the child wrote to stdout and stderr, in order.
        let output: String
    }

    /// Runs `executable arguments…`, appending its stdout and stderr to `log` (when given) and echoing
    /// each line to our stderr with `echoPrefix` (when given). Throws on a non-zero exit with the tail
    /// of the output.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], log: URL? = nil, echoPrefix: String? = nil,
                    currentDirectory: String? = nil, allowFailure: Bool = false) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice

        var logHandle: FileHandle?
        if let log {
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            logHandle = try? FileHandle(forWritingTo: log)
            logHandle?.write(Data(("$ " + shellQuoted([executable] + arguments) + "\n").utf8))
        }
        defer { try? logHandle?.close() }

        let started = DispatchTime.now()
        do { try process.run() } catch {
            throw SubprocessError(description: "cannot start \(executable): \(error.localizedDescription)")
        }
        var collected = Data()
        var pendingLine = Data()
        let reader = pipe.fileHandleForReading
        while true {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            collected.append(chunk)
            logHandle?.write(chunk)
            if let echoPrefix {
                pendingLine.append(chunk)
                // Progress bars redraw with \r; echo only whole lines.
                while let newline = pendingLine.firstIndex(where: { $0 == 0x0A || $0 == 0x0D }) {
                    let line = String(decoding: pendingLine[pendingLine.startIndex..<newline], as: UTF8.self)
                    pendingLine.removeSubrange(pendingLine.startIndex...newline)
                    if pendingLine.first == 0x0A { pendingLine.removeFirst() }
                    if !line.isEmpty { FileHandle.standardError.write(Data((echoPrefix + line + "\n").utf8)) }
                }
            }
        }
        process.waitUntilExit()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        let output = String(decoding: collected, as: UTF8.self)
        let status = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        if status != 0 && !allowFailure {
            let tail = output.split(separator: "\n").suffix(15).joined(separator: "\n")
            throw SubprocessError(description: "\(shellQuoted([executable] + arguments)) exited with status \(status)"
                + (log.map { " (log: \($0.path))" } ?? "") + ":\n" + tail)
        }
        return Result(status: status, seconds: seconds, output: output)
    }

    /// First output line of a command, or nil when it fails or cannot start (for machine facts).
    static func firstLine(_ executable: String, _ arguments: [String], currentDirectory: String? = nil) -> String? {
        guard FileManager.default.isExecutableFile(atPath: executable),
              let result = try? run(executable, arguments, currentDirectory: currentDirectory, allowFailure: true),
              result.status == 0 else { return nil }
        return result.output.split(separator: "\n").first.map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// The path of an executable on PATH, or nil.
    static func which(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// The sibling executable `name` in the folder of the running one (same build configuration).
    static func sibling(_ name: String) -> String {
        let me = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let own = Bundle.main.executableURL ?? me
        return own.deletingLastPathComponent().appendingPathComponent(name).path
    }
}

/// A command line that can be pasted into a POSIX shell.
func shellQuoted(_ words: [String]) -> String {
    words.map { word in
        let safe = !word.isEmpty && word.allSatisfy { $0.isLetter || $0.isNumber || "-_./=:,+@%".contains($0) }
        return safe ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }.joined(separator: " ")
}
