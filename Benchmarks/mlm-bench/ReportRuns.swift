import Foundation

/// Runs `mlm-adapt` into one folder per run, once: a folder whose `command.txt` holds the same command
/// and whose results are complete is reused, so a study can be finished over several sittings.
/// Shared by the benchmarks that drive the real CLI (masking-strategies, adaptation).
struct MLMAdaptRuns {
    let mlmAdapt: String
    /// false: rerun everything.
    let reuse: Bool

    /// Fails before any run when the executable, one of `subcommands` (names in `mlm-adapt --help`),
    /// one of `adaptOptions` (in `mlm-adapt help adapt`) or one of `files` is missing.
    func checkPrerequisites(subcommands: [String], adaptOptions: [String] = [], files: [String]) throws {
        guard FileManager.default.isExecutableFile(atPath: mlmAdapt) else {
            throw SubprocessError(description: "\(mlmAdapt) not found: build it in the same configuration "
                + "(swift build -c release --product mlm-adapt) or pass --mlm-adapt PATH")
        }
        let help = try Subprocess.run(mlmAdapt, ["--help"], allowFailure: true).output
        let missing = subcommands.filter { !help.contains($0) }
        if !missing.isEmpty {
            throw SubprocessError(description: "\(mlmAdapt) lacks the subcommand(s) \(missing.joined(separator: ", ")) this benchmark drives")
        }
        if !adaptOptions.isEmpty {
            let adaptHelp = try Subprocess.run(mlmAdapt, ["help", "adapt"], allowFailure: true).output
            let absent = adaptOptions.filter { !adaptHelp.contains($0) }
            if !absent.isEmpty {
                throw SubprocessError(description: "\(mlmAdapt) adapt lacks the option(s) \(absent.joined(separator: ", ")) this benchmark passes (an older build?)")
            }
        }
        for path in files where !FileManager.default.fileExists(atPath: path) {
            throw SubprocessError(description: "\(path) not found: run Corpora/fetch.sh first")
        }
    }

    /// Runs `mlm-adapt arguments` into `folder` unless a finished run with the same arguments is there.
    /// `command.txt` records the arguments; a run that did not finish is cleared and rerun. `record` sees
    /// the finished process (e.g. to keep its stdout) before `finished` is asked. Returns whether it ran.
    @discardableResult
    func runOnce(_ arguments: [String], folder: URL, label: String,
                 record: (Subprocess.Result) throws -> Void = { _ in }, finished: () -> Bool) throws -> Bool {
        let fm = FileManager.default
        let commandFile = folder.appendingPathComponent("command.txt")
        let command = shellQuoted([mlmAdapt] + arguments) + "\n"
        if isFinished(arguments, folder: folder, finished: finished) {
            FileHandle.standardError.write(Data("[\(label)] reusing the finished run in \(folder.path)\n".utf8))
            return false
        }
        if fm.fileExists(atPath: folder.path) { try fm.removeItem(at: folder) }
        try fm.createDirectory(at: folder, withIntermediateDirectories: true)
        try command.write(to: commandFile, atomically: true, encoding: .utf8)
        let log = folder.deletingLastPathComponent().appendingPathComponent(folder.lastPathComponent + ".log")
        let result = try Subprocess.run(mlmAdapt, arguments, log: log, echoPrefix: "[\(label)] ")
        try record(result)
        try String(format: "%.3f\n", result.seconds).write(
            to: folder.appendingPathComponent(Self.wallSecondsFile), atomically: true, encoding: .utf8)
        guard finished() else {
            throw SubprocessError(description: "[\(label)] mlm-adapt exited 0 but left no results in \(folder.path) (log: \(log.path))")
        }
        return true
    }

    /// Whether `runOnce` would reuse `folder`: same command recorded and `finished`.
    func isFinished(_ arguments: [String], folder: URL, finished: () -> Bool) -> Bool {
        let recorded = try? String(contentsOf: folder.appendingPathComponent("command.txt"), encoding: .utf8)
        return reuse && recorded == shellQuoted([mlmAdapt] + arguments) + "\n" && finished()
    }

    /// An adaptation run into `folder` that reached `steps` and saved its final checkpoint; returns the
    /// checkpoint and whether it ran. The optimizer moments are only for resuming, which the benchmarks
    /// never do: deleted.
    @discardableResult
    func adapt(_ arguments: [String], steps: Int, folder: URL, label: String) throws -> (checkpoint: URL, ran: Bool) {
        let ran = try runOnce(arguments, folder: folder, label: label) { Self.adaptFinished(folder, steps: steps) }
        if let files = try? FileManager.default.contentsOfDirectory(atPath: folder.path) {
            for file in files where file.contains(".optimizer.") {
                try? FileManager.default.removeItem(at: folder.appendingPathComponent(file))
            }
        }
        return (try Self.latestCheckpoint(in: folder), ran)
    }

    static func adaptFinished(_ folder: URL, steps: Int) -> Bool {
        guard let metrics = try? AdaptationMetrics.read(folder.appendingPathComponent("metrics.jsonl")) else { return false }
        return metrics.trainSteps >= steps && (try? latestCheckpoint(in: folder)) != nil
    }

    /// The training, dev and test files of one fine-tuning run.
    struct TaskFiles: Equatable, Sendable {
        var train: URL
        var validation: URL
        var test: URL

        /// `train.EXT`, `dev.EXT` and `test.EXT` of `folder`.
        init(folder: URL, fileExtension: String) {
            train = folder.appendingPathComponent("train.\(fileExtension)")
            validation = folder.appendingPathComponent("dev.\(fileExtension)")
            test = folder.appendingPathComponent("test.\(fileExtension)")
        }

        init(train: URL, validation: URL, test: URL) {
            self.train = train
            self.validation = validation
            self.test = test
        }
    }

    /// The arguments of one `mlm-adapt classify|ner` run, `training` options in the middle (the order is
    /// part of `runOnce`'s record, so finished runs of earlier versions are still recognised).
    static func fineTuneArguments(
        _ command: String, initModel: String, files: TaskFiles, training: [String], seed: UInt64, maxSeqLength: Int,
        threads: Int?, folder: URL
    ) -> [String] {
        var arguments = [
            command, "--init", initModel, "--train", files.train.path, "--validation", files.validation.path,
            "--test", files.test.path,
        ] + training + [
            "--seed", String(seed), "--max-seq-length", String(maxSeqLength), "--output-dir", folder.path, "--no-save",
        ]
        if let threads { arguments += ["--threads", String(threads)] }
        return arguments
    }

    /// One fine-tuning run, finished when it wrote `report.json`; returns whether it ran.
    @discardableResult
    func fineTune(_ arguments: [String], folder: URL, label: String) throws -> Bool {
        try runOnce(arguments, folder: folder, label: label) { Self.hasReport(folder) }
    }

    static func hasReport(_ folder: URL) -> Bool {
        FileManager.default.fileExists(atPath: folder.appendingPathComponent("report.json").path)
    }

    /// The checkpoint the run's `latest` pointer names.
    static func latestCheckpoint(in folder: URL) throws -> URL {
        let pointer = folder.appendingPathComponent("latest")
        guard let name = try? String(contentsOf: pointer, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
              !name.isEmpty else {
            throw SubprocessError(description: "\(pointer.path): missing or empty (the run saved no checkpoint)")
        }
        let checkpoint = folder.appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: checkpoint.path) else {
            throw SubprocessError(description: "\(pointer.path) names \(name), which is not in \(folder.path)")
        }
        return checkpoint
    }

    static let wallSecondsFile = "wall-seconds.txt"

    /// The wall seconds `runOnce` recorded for the run in `folder`, if it ran to the end.
    static func wallSeconds(_ folder: URL) -> Double? {
        (try? String(contentsOf: folder.appendingPathComponent(wallSecondsFile), encoding: .utf8))
            .flatMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }
}
