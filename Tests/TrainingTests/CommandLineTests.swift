import Foundation
import Testing
@testable import Training

/// A child `mlm-adapt` whose stdout and stderr go to one pipe, read as the lines arrive.
final class Child: @unchecked Sendable {
    let process = Process()
    private let pipe = Pipe()
    private let lock = NSLock()
    private var received = ""
    /// Each line, when it arrived, and whether the process was still running then.
    private(set) var arrivals: [(line: String, time: Date, running: Bool)] = []

    /// `executable`: another program than mlm-adapt (mpirun, which starts it).
    init(_ arguments: [String], directory: URL? = nil, environment extra: [String: String] = [:], executable: URL? = nil) throws {
        process.executableURL = try executable ?? #require(SignalTests.executable, "build the mlm-adapt executable first (swift build)")
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["MLM_ADAPT_NO_BLAS_REEXEC"] = "1"
        environment.removeValue(forKey: "MLM_ADAPT_HOME")
        for (key, value) in extra { environment[key] = value }
        process.environment = environment
        if let directory { process.currentDirectoryURL = directory }
        process.standardOutput = pipe
        process.standardError = pipe
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            guard let self else { return }
            let data = handle.availableData
            guard !data.isEmpty else { return }
            let running = self.process.isRunning, time = Date()
            self.lock.withLock {
                self.received += String(decoding: data, as: UTF8.self)
                while let newline = self.received.firstIndex(where: { $0 == "\n" || $0 == "\r" }) {
                    self.arrivals.append((String(self.received[..<newline]), time, running))
                    self.received.removeSubrange(...newline)
                }
            }
        }
        try process.run()
    }

    var lines: [(line: String, time: Date, running: Bool)] { lock.withLock { arrivals } }
    var text: String { lock.withLock { arrivals.map(\.line).joined(separator: "\n") + received } }

    /// Waits for a line containing `fragment`; nil after `timeout` seconds.
    func waitForLine(containing fragment: String, timeout: Double) -> (line: String, time: Date, running: Bool)? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let hit = lines.first(where: { $0.line.contains(fragment) }) { return hit }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return nil
    }

    /// Waits for the exit (killing the child after `timeout` seconds) and the pipe's last bytes.
    @discardableResult
    func finish(timeout: Double = 300) -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            Issue.record("mlm-adapt \(process.arguments ?? []) did not finish within \(Int(timeout)) s")
        }
        process.waitUntilExit()
        Thread.sleep(forTimeInterval: 0.1)
        pipe.fileHandleForReading.readabilityHandler = nil
        return process.terminationStatus
    }
}

@Suite(.serialized) struct CommandLineTests {
    @Test func versionAndHelpPrintNoKernelLineUnlessVerbose() throws {
        let version = try Child(["--version"])
        #expect(version.finish(timeout: 60) == 0)
        #expect(version.text.trimmingCharacters(in: .whitespacesAndNewlines).range(of: #"^\d+\.\d+\.\d+$"#, options: .regularExpression) != nil,
                "\(version.text)")
        for arguments in [["--help"], ["classify", "--help"], ["report", "--help"]] {
            let help = try Child(arguments)
            #expect(help.finish(timeout: 60) == 0)
            #expect(help.text.contains("USAGE"), "\(help.text)")
            #expect(!help.text.contains("OpenBLAS kernel:"), "\(arguments): \(help.text)")
        }
        let verbose = try Child(["--verbose", "--help"])
        #expect(verbose.finish(timeout: 60) == 0)
        #expect(verbose.text.contains("OpenBLAS kernel:") && verbose.text.contains("USAGE"))
    }

    /// adapt, then classify twice: the runs write summary.json and report.html into folders of one naming
    /// scheme; the default model is found through MLM_ADAPT_HOME from another folder; classify's epoch lines
    /// reach a pipe while it runs; `report` overlays the runs.
    @Test func runsReportAndLogAsTheyGo() throws {
        let tiny = try TinySetup()
        defer { tiny.remove() }
        let fm = FileManager.default
        let adaptDir = tiny.directory.appendingPathComponent("adapt-run")
        let adapt = try Child([
            "--vocab", tiny.vocabularyURL.path, "--config", tiny.configURL.path, "--corpus", tiny.corpusURL.path,
            "--validation-split", "0.1", "--max-seq-length", "32", "--batch-size", "4", "--max-steps", "3",
            "--eval-every", "0", "--eval-batches", "1", "--threads", "1", "--output-dir", adaptDir.path,
        ])
        #expect(adapt.finish() == 0, "\(adapt.text)")
        #expect(adapt.text.contains("OpenBLAS kernel:"), "the run's log names the kernel")
        #expect(adapt.text.contains("report: \(adaptDir.path)/report.html"))
        let summary = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: adaptDir.appendingPathComponent("summary.json"))) as? [String: Any])
        #expect(summary["command"] as? String == "adapt" && summary["completed"] as? Int == 3)
        #expect((summary["final"] as? [String: Double])?["whole_word_loss"] != nil)
        #expect(((summary["paths"] as? [String: Any])?["checkpoints"] as? [String])?.last?.hasSuffix("step-3.safetensors.gz") == true)
        let adaptPage = try String(contentsOf: adaptDir.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(adaptPage.contains("Held-out MLM accuracy") && adaptPage.contains("adapt-run"))

        // A home holding the default base model (the tiny one, as an HF folder); run classify from elsewhere.
        let home = tiny.directory.appendingPathComponent("home")
        let elsewhere = tiny.directory.appendingPathComponent("elsewhere")
        try fm.createDirectory(at: elsewhere, withIntermediateDirectories: true)
        let export = try Child(["export", "--checkpoint", adaptDir.appendingPathComponent("step-3.safetensors.gz").path,
                                "--to", home.appendingPathComponent("cache/models/all-MiniLM-L6-v2").path])
        #expect(export.finish() == 0, "\(export.text)")
        let corpus = try String(contentsOf: tiny.corpusURL, encoding: .utf8).split(separator: "\n")
            .map { $0.replacingOccurrences(of: "\t", with: " ") }.filter { $0.count > 20 }.prefix(24)
        let tsv = "text\tlabel\n" + corpus.enumerated().map { "\($0.element)\t\($0.offset % 2 == 0 ? "a" : "b")" }.joined(separator: "\n") + "\n"
        let task = tiny.directory.appendingPathComponent("toy-task")
        try fm.createDirectory(at: task, withIntermediateDirectories: true)
        try tsv.write(to: task.appendingPathComponent("train.tsv"), atomically: true, encoding: .utf8)
        let classify = try Child(
            ["classify", "--train", task.appendingPathComponent("train.tsv").path, "--validation", task.appendingPathComponent("train.tsv").path,
             "--epochs", "2", "--batch-size", "4", "--grad-accum", "2", "--warmup", "2", "--schedule", "cosine",
             "--max-seq-length", "32", "--threads", "1"],
            directory: elsewhere, environment: ["MLM_ADAPT_HOME": home.path])
        #expect(classify.finish() == 0, "\(classify.text)")
        let runs = try fm.contentsOfDirectory(atPath: elsewhere.appendingPathComponent("runs").path)
        #expect(runs.count == 1)
        let classifyName = try #require(runs.first)
        #expect(classifyName.range(of: #"^\d{4}-\d{2}-\d{2}-\d{6}-classify-toy-task$"#, options: .regularExpression) != nil, "\(classifyName)")
        let classifyDir = elsewhere.appendingPathComponent("runs").appendingPathComponent(classifyName)
        let details = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: classifyDir.appendingPathComponent("report.json"))) as? [String: Any])
        #expect((details["initCheckpoint"] as? String)?.hasPrefix(home.path) == true, "the default --init came from MLM_ADAPT_HOME")
        #expect((details["epochs"] as? [Any])?.count == 2)
        for file in ["summary.json", "report.html", "model.safetensors.gz"] {
            #expect(fm.fileExists(atPath: classifyDir.appendingPathComponent(file).path), "\(file)")
        }

        // Many epochs: each epoch's line must reach the pipe when written, not with later ones in a flushed buffer.
        try ("text\tlabel\n" + String(repeating: String(tsv.dropFirst("text\tlabel\n".count)), count: 6))
            .write(to: task.appendingPathComponent("long.tsv"), atomically: true, encoding: .utf8)
        let long = try Child(
            ["classify", "--init", home.appendingPathComponent("cache/models/all-MiniLM-L6-v2").path,
             "--train", task.appendingPathComponent("long.tsv").path, "--validation", task.appendingPathComponent("train.tsv").path,
             "--epochs", "100000", "--patience", "0", "--batch-size", "4", "--max-seq-length", "32", "--threads", "1", "--no-save",
             "--output-dir", tiny.directory.appendingPathComponent("long").path])
        let first = long.waitForLine(containing: "epoch 1: train loss", timeout: 120)
        let second = long.waitForLine(containing: "epoch 2: train loss", timeout: 120)
        kill(long.process.processIdentifier, SIGKILL)
        long.finish(timeout: 30)
        let one = try #require(first, "no epoch line reached the pipe within 120 s: \(long.text)")
        let two = try #require(second, "no second epoch line within 120 s: \(long.text)")
        #expect(one.running, "the epoch line arrived only when the process ended")
        // An epoch takes well over 10 ms; lines held in a stdio buffer arrive together.
        #expect(two.time.timeIntervalSince(one.time) > 0.01, "epochs 1 and 2 arrived together: the output was buffered")

        let page = tiny.directory.appendingPathComponent("compare.html")
        let report = try Child(["report", adaptDir.path, classifyDir.path, "--out", page.path])
        #expect(report.finish(timeout: 60) == 0, "\(report.text)")
        let html = try String(contentsOf: page, encoding: .utf8)
        #expect(html.contains("adapt-run") && html.contains(classifyName) && html.contains("Dev score per epoch"))
        let missing = try Child(["report", tiny.directory.appendingPathComponent("nothing").path, "--out", page.path])
        #expect(missing.finish(timeout: 60) != 0)
        #expect(missing.text.contains("no such run folder"), "\(missing.text)")
    }
}
