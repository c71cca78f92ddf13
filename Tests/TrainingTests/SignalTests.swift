import Foundation
import Testing
@testable import Checkpoint
@testable import Training

@Suite(.serialized) struct SignalTests {
    @Test func sigintSetsTheStopFlag() async throws {
        let stop = StopSignal()
        stop.install()
        defer { stop.uninstall() }
        #expect(!stop.isRequested)
        kill(getpid(), SIGINT)
        for _ in 0..<200 where !stop.isRequested {
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        #expect(stop.isRequested)
        #expect(stop.signalNumber == SIGINT)
    }

    /// The built `mlm-adapt` next to the test bundle.
    static var executable: URL? {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("mlm-adapt"),
            Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("mlm-adapt"),
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent(".build/debug/mlm-adapt"),
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    /// The built `mlm-adapt` with `arguments`, not yet started. The test bundle's environment may already pin
    /// OpenBLAS, so the child skips its kernel re-exec.
    static func command(_ arguments: [String]) throws -> Process {
        let executable = try #require(Self.executable, "build the mlm-adapt executable first (swift build)")
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["MLM_ADAPT_NO_BLAS_REEXEC"] = "1"
        process.environment = environment
        return process
    }

    /// Starts the built `mlm-adapt` with `arguments`, stderr captured, stdout discarded.
    static func launch(_ arguments: [String]) throws -> (process: Process, errors: Pipe) {
        let process = try Self.command(arguments)
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        return (process, errors)
    }

    static func longRunArguments(_ tiny: TinySetup, output: URL, maxSteps: Int = 100_000) -> [String] {
        ["--vocab", tiny.vocabularyURL.path, "--config", tiny.configURL.path, "--corpus", tiny.corpusURL.path,
         "--validation-split", "0.1", "--max-seq-length", "32", "--batch-size", "8", "--max-steps", "\(maxSteps)",
         "--eval-every", "0", "--eval-batches", "2", "--save-every", "0", "--threads", "1",
         "--output-dir", output.path]
    }

    /// Waits until the run in `output` has logged a few training steps.
    static func waitForTraining(in output: URL) {
        let metrics = output.appendingPathComponent("metrics.jsonl")
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let text = try? String(contentsOf: metrics, encoding: .utf8),
               text.components(separatedBy: "\"type\":\"train\"").count > 3 { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// SIGHUP is what a closed terminal sends: it must save like Ctrl-C.
    @Test(arguments: [SIGINT, SIGHUP])
    func stopSignalToTheCommandSavesAResumableCheckpoint(signal: Int32) throws {
        let tiny = try TinySetup()
        defer { tiny.remove() }
        let output = tiny.directory.appendingPathComponent("run")
        let (process, errors) = try Self.launch(Self.longRunArguments(tiny, output: output))
        Self.waitForTraining(in: output)
        let metrics = output.appendingPathComponent("metrics.jsonl")
        let interrupted = Date()
        kill(process.processIdentifier, signal)
        while process.isRunning && Date().timeIntervalSince(interrupted) < 30 {
            Thread.sleep(forTimeInterval: 0.05)
        }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            Issue.record("mlm-adapt did not stop within 30 s of signal \(signal)")
        }
        process.waitUntilExit()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(Date().timeIntervalSince(interrupted) < 20, "took too long to stop")
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 128 + signal, "\(stderr)")
        #expect(stderr.contains("resume with: mlm-adapt --resume"), "\(stderr)")

        let trainSteps = try MetricsLog.read(metrics).filter { $0["type"] as? String == "train" }.count
        let checkpoint = try CheckpointReference.resolve(output.path).weights
        #expect(checkpoint.lastPathComponent == "step-\(trainSteps).safetensors.gz")
        let loaded = try LoadedCheckpoint.open(checkpoint)
        #expect(loaded.metadata.step == trainSteps)
        #expect(FileManager.default.fileExists(atPath: CheckpointStore.optimizerURL(for: checkpoint).path))
    }

    /// Two runs on one --output-dir would interleave checkpoints; the second is refused while the first runs.
    @Test func aSecondProcessOnTheSameOutputDirIsRefused() throws {
        let tiny = try TinySetup()
        defer { tiny.remove() }
        let output = tiny.directory.appendingPathComponent("run")
        let (first, _) = try Self.launch(Self.longRunArguments(tiny, output: output))
        defer { if first.isRunning { kill(first.processIdentifier, SIGKILL) } }
        Self.waitForTraining(in: output)
        let (second, errors) = try Self.launch(Self.longRunArguments(tiny, output: output, maxSteps: 2))
        second.waitUntilExit()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(second.terminationStatus != 0)
        #expect(stderr.contains("another run (pid \(first.processIdentifier))"), "\(stderr)")
        #expect(first.isRunning)
        kill(first.processIdentifier, SIGINT)
        first.waitUntilExit()
        #expect(first.terminationStatus == 128 + SIGINT)
    }
}
