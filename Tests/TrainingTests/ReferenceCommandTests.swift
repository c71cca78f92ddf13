import Foundation
import Testing
@testable import Checkpoint
@testable import Model
@testable import Training

/// A run folder and its `latest` work wherever a model path is asked for, in-process and through the
/// built `mlm-adapt`; a resume reads its checkpoint file once.
@Suite(.serialized) struct ReferenceCommandTests {
    /// A finished tiny run of `steps` steps in `tiny.directory/run`.
    static func finishedRun(_ tiny: TinySetup, steps: Int = 4) throws -> URL {
        let output = tiny.directory.appendingPathComponent("run")
        var settings = tiny.settings(steps: steps)
        settings.evalEvery = 0
        _ = try Adaptation(settings: settings, source: tiny.source, resume: nil, outputDirectory: output,
                           progressIsTerminal: false, log: { _ in }).run()
        return output
    }

    /// The resumed run gets the checkpoint already opened for its settings and never reads the model file
    /// again: it finishes although that file is gone by then.
    @Test func resumeReadsItsCheckpointOnce() throws {
        let tiny = try TinySetup()
        defer { tiny.remove() }
        let output = tiny.directory.appendingPathComponent("run")
        let settings = tiny.settings(steps: 6)
        let stop = StopSignal()
        let first = try Adaptation(settings: settings, source: tiny.source, resume: nil, outputDirectory: output,
                                   stop: stop, progressIsTerminal: false, log: { _ in })
        first.afterStep = { step in if step == 3 { stop.request() } }
        #expect(try first.run().finalStep == 3)

        let checkpoint = try CheckpointReference.resolve(output.path).open()
        let file = checkpoint.reference.weights
        #expect(file.lastPathComponent == "step-3.safetensors.gz")
        try FileManager.default.removeItem(at: file)
        let resumed = try Adaptation(settings: try Adaptation.resumeSettings(from: checkpoint), source: .checkpoint(checkpoint.reference),
                                     resume: checkpoint, outputDirectory: output, progressIsTerminal: false, log: { _ in })
        let summary = try resumed.run()
        #expect(summary.startStep == 3 && summary.finalStep == 6)
    }

    /// `--init` with a run folder or its `latest` starts from that run's newest weights.
    @Test(arguments: ["run", "run/latest", "run/step-4.safetensors.gz"])
    func initFromARunFolderOrLatest(path: String) throws {
        let tiny = try TinySetup()
        defer { tiny.remove() }
        let run = try Self.finishedRun(tiny)
        let newest = try LoadedCheckpoint.open(run.appendingPathComponent("step-4.safetensors.gz"))
        let source = ModelSource.checkpoint(try CheckpointReference.resolve(tiny.directory.appendingPathComponent(path)))
        let prepared = try ModelLoading.prepare(source, lowercase: nil, seed: 0)
        for tensor in prepared.model.layout.tensors {
            #expect(Array(prepared.model.tensor(tensor.name)!) == (try newest.tensors.floats(tensor.name)), "\(tensor.name)")
        }
        // A new run from it trains and its checkpoints name the masked-LM architecture.
        var settings = tiny.settings(steps: 2)
        settings.evalEvery = 0
        let output = tiny.directory.appendingPathComponent("second")
        _ = try Adaptation(settings: settings, source: source, resume: nil, outputDirectory: output,
                           progressIsTerminal: false, log: { _ in }).run()
        let saved = try CheckpointReference.resolve(output).open()
        #expect(saved.metadata.step == 2)
        #expect(saved.config?.architectures == ["BertForMaskedLM"])
    }

    // MARK: - The built CLI

    struct Output {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// Runs the built `mlm-adapt` to its end; `input` is its standard input (none when nil).
    static func mlmAdapt(_ arguments: [String], environment: [String: String] = [:], input: Data? = nil,
                         directory: URL? = nil) throws -> Output {
        let process = try SignalTests.command(arguments)
        process.environment?.merge(environment) { $1 }
        if let directory { process.currentDirectoryURL = directory }
        let stdin = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : stdin
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let out = directory.appendingPathComponent("out"), err = directory.appendingPathComponent("err")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        FileManager.default.createFile(atPath: err.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        if let input {
            try stdin.fileHandleForWriting.write(contentsOf: input)
            try stdin.fileHandleForWriting.close()
        }
        process.waitUntilExit()
        return Output(status: process.terminationStatus, stdout: try String(contentsOf: out, encoding: .utf8),
                      stderr: try String(contentsOf: err, encoding: .utf8))
    }

    @Test(arguments: ["run", "run/latest"])
    func cliCommandsTakeARunFolderOrLatest(path: String) throws {
        let tiny = try TinySetup()
        defer { tiny.remove() }
        _ = try Self.finishedRun(tiny)
        let model = tiny.directory.appendingPathComponent(path).path

        let fill = try Self.mlmAdapt(["fill-mask", "--checkpoint", model, "--top-k", "3", "--json", "--threads", "1",
                                      "the licensee shall [MASK] the software"])
        #expect(fill.status == 0, "\(fill.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(fill.stdout.utf8)) as? [String: Any], "\(fill.stdout)")
        #expect(object["text"] as? String == "the licensee shall [MASK] the software")
        let masks = try #require(object["masks"] as? [[[String: Any]]])
        #expect(masks.count == 1 && masks[0].count == 3)
        #expect(masks[0].allSatisfy { $0["token"] is Int && $0["token_str"] is String && $0["score"] is Double })

        let inspect = try Self.mlmAdapt(["inspect", model, "--no-tensors"])
        #expect(inspect.status == 0, "\(inspect.stderr)")
        #expect(inspect.stdout.contains("step:        4"))
        #expect(inspect.stdout.contains("metrics:     train @ step 4: "), "\(inspect.stdout)")
        #expect(inspect.stdout.contains("metrics:     eval @ step 4: "), "\(inspect.stdout)")
        #expect(inspect.stdout.contains("data cursor: epoch 0"), "\(inspect.stdout)")
        // The cursor is summarised, not dumped (its shuffle buffer is kilobytes of base64).
        #expect(!inspect.stdout.contains("deflated\":"), "\(inspect.stdout)")
        #expect(inspect.stdout.split(separator: "\n").allSatisfy { $0.count < 2_000 })
        #expect(!inspect.stdout.contains("bert.encoder.layer.0"))
        let withTensors = try Self.mlmAdapt(["inspect", model])
        #expect(withTensors.stdout.contains("bert.encoder.layer.0.attention.self.query.weight"))

        let exported = tiny.directory.appendingPathComponent("exported")
        let export = try Self.mlmAdapt(["export", "--checkpoint", model, "--to", exported.path])
        #expect(export.status == 0, "\(export.stderr)")
        for name in ["config.json", "model.safetensors", "vocab.txt", "tokenizer.json", "tokenizer_config.json"] {
            #expect(FileManager.default.fileExists(atPath: exported.appendingPathComponent(name).path), "\(name)")
        }
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: exported.appendingPathComponent("config.json"))) as? [String: Any]
        #expect(config?["architectures"] as? [String] == ["BertForMaskedLM"])

        let adapt = try Self.mlmAdapt([
            "--init", model, "--corpus", tiny.corpusURL.path, "--validation-split", "0.1", "--max-seq-length", "32",
            "--batch-size", "4", "--max-steps", "1", "--eval-every", "0", "--eval-batches", "1", "--threads", "1",
            "--output-dir", tiny.directory.appendingPathComponent("from-\(path.replacingOccurrences(of: "/", with: "-"))").path,
        ])
        #expect(adapt.status == 0, "\(adapt.stderr)")
    }

    /// The two failures users met before: a run folder and `latest` given where a model was expected.
    @Test func wrongPathsNameWhatWasFound() throws {
        let tiny = try TinySetup()
        defer { tiny.remove() }
        let result = try Self.mlmAdapt(["fill-mask", "--checkpoint", tiny.corpusURL.path, "a [MASK]"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("a text file starting"), "\(result.stderr)")
        #expect(result.stderr.contains("expected a run folder"), "\(result.stderr)")
    }
}
