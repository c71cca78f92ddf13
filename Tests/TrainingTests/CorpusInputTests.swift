import Foundation
import Testing
@testable import Checkpoint
@testable import Training

/// How the built `mlm-adapt` takes its input: standard input, paths from any working folder, a file named
/// twice, and bad input named by file (and line) with a plain message.
@Suite(.serialized) struct CorpusInputTests {
    typealias Output = ReferenceCommandTests.Output

    static func adapt(_ tiny: TinySetup, _ arguments: [String], steps: Int = 2, input: Data? = nil,
                      directory: URL? = nil) throws -> Output {
        try ReferenceCommandTests.mlmAdapt(
            ["--vocab", tiny.vocabularyURL.path, "--config", tiny.configURL.path]
                + (arguments.contains("--validation-corpus") ? [] : ["--validation-split", "0.1"])
                // A constant rate without warmup, so the resumes below may extend the run.
                + ["--max-seq-length", "32", "--batch-size", "4", "--max-steps", "\(steps)", "--schedule", "constant",
                   "--warmup", "0", "--eval-every", "0",
             "--eval-batches", "1", "--threads", "1"] + arguments, input: input, directory: directory)
    }

    static func storedCorpus(_ run: URL) throws -> [String] {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("run.json"))) as? [String: Any]
        return try #require((object?["settings"] as? [String: Any])?["corpus"] as? [String])
    }

    /// `--corpus -` copies standard input into the run folder once; the stored settings name the copy, so
    /// the run resumes (from another working folder) on the same text.
    @Test func standardInputIsACorpus() throws {
        let tiny = try TinySetup()
        defer { tiny.remove() }
        let text = try Data(contentsOf: tiny.corpusURL)
        let run = tiny.directory.appendingPathComponent("stdin-run")
        let first = try Self.adapt(tiny, ["--corpus", "-", "--output-dir", run.path], input: text)
        #expect(first.status == 0, "\(first.stderr)")
        let copy = run.appendingPathComponent("corpus-stdin.txt")
        #expect(try Data(contentsOf: copy) == text)
        #expect(try Self.storedCorpus(run) == [copy.path])
        let resumed = try ReferenceCommandTests.mlmAdapt(
            ["--resume", run.path, "--max-steps", "3", "--threads", "1"], directory: URL(fileURLWithPath: "/"))
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(FileManager.default.fileExists(atPath: run.appendingPathComponent("step-3.safetensors.gz").path))
    }

    /// Relative corpus paths are stored absolute (a resume from elsewhere finds them), and one file named
    /// three ways is read once, with a log line saying so.
    @Test func relativePathsAndRepeatedFiles() throws {
        let tiny = try TinySetup()
        defer { tiny.remove() }
        let work = tiny.directory.appendingPathComponent("work")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: tiny.corpusURL, to: work.appendingPathComponent("legal.txt"))
        try FileManager.default.createSymbolicLink(atPath: work.appendingPathComponent("link.txt").path, withDestinationPath: "legal.txt")
        let first = try Self.adapt(
            tiny, ["--corpus", "legal.txt", "--corpus", "./legal.txt", "--corpus", "link.txt", "--output-dir", "run"],
            directory: work)
        #expect(first.status == 0, "\(first.stderr)")
        let legal = work.appendingPathComponent("legal.txt").path
        #expect(first.stderr.contains("corpus: \(legal) is named more than once; read once"), "\(first.stderr)")
        #expect(first.stderr.contains("corpus: \(work.appendingPathComponent("link.txt").path) is the same file as \(legal); read once"))
        #expect(first.stderr.contains("corpus: 1 file(s)"), "\(first.stderr)")
        let run = work.appendingPathComponent("run")
        #expect(try Self.storedCorpus(run) == [legal, legal, work.appendingPathComponent("link.txt").path])
        let resumed = try ReferenceCommandTests.mlmAdapt(["--resume", run.path, "--max-steps", "3", "--threads", "1"],
                                                         directory: tiny.directory)
        #expect(resumed.status == 0, "\(resumed.stderr)")
    }

    struct BadInput: CustomTestStringConvertible, Sendable {
        let name: String
        /// Files to write (name → bytes) in the test folder.
        let files: [String: [UInt8]]
        /// Arguments; `@` stands for the test folder.
        let arguments: [String]
        /// What the message must say; `@` stands for the test folder.
        let says: [String]
        /// A usage error (status 64, with the usage text) rather than a failed run (status 1).
        var usage = false
        var testDescription: String { name }
    }

    static let corpusText = Array("The licensee shall keep the software.\nThe licensor may end it.\nNotice is due.\n".utf8)

    static let badInputs: [BadInput] = [
        BadInput(name: "empty corpus", files: ["empty.txt": []], arguments: ["--corpus", "@/empty.txt"],
                 says: ["the corpus holds no documents", "@/empty.txt"]),
        BadInput(name: "blank corpus", files: ["blank.txt": Array("\n \n\n".utf8)], arguments: ["--corpus", "@/blank.txt"],
                 says: ["the corpus holds no documents", "@/blank.txt"]),
        BadInput(name: "one document", files: ["one.txt": Array("a single line\n".utf8)], arguments: ["--corpus", "@/one.txt"],
                 says: ["single document", "@/one.txt", "--validation-corpus"]),
        BadInput(name: "empty validation corpus", files: ["c.txt": corpusText, "dev.txt": []],
                 arguments: ["--corpus", "@/c.txt", "--validation-corpus", "@/dev.txt"],
                 says: ["the validation set is empty: --validation-corpus @/dev.txt"]),
        BadInput(name: "invalid UTF-8", files: ["latin1.txt": Array("caf".utf8) + [0x0A, 0x63, 0x61, 0x66, 0xE9, 0x0A]],
                 arguments: ["--corpus", "@/latin1.txt"], says: ["@/latin1.txt is not UTF-8 text: line 2 (byte 7)"]),
        BadInput(name: "binary", files: ["c.txt": corpusText, "program": [0x7F, 0x45, 0x4C, 0x46, 0x02, 0x01, 0x00, 0x00]],
                 arguments: ["--corpus", "@/c.txt", "--corpus", "@/program"], says: ["@/program is not text: line 1 (byte 6)", "NUL"]),
        BadInput(name: "output folder is a file", files: ["c.txt": corpusText, "taken": []],
                 arguments: ["--corpus", "@/c.txt", "--output-dir", "@/taken"], says: ["--output-dir @/taken is an existing file"]),
        BadInput(name: "output folder under a file", files: ["c.txt": corpusText, "taken": []],
                 arguments: ["--corpus", "@/c.txt", "--output-dir", "@/taken/run"], says: ["@/taken is a file, not a folder"]),
        BadInput(name: "standard input into a folder holding another's", files: ["corpus-stdin.txt": corpusText],
                 arguments: ["--corpus", "-", "--output-dir", "@"], says: ["@/corpus-stdin.txt already holds another run's standard input"]),
        BadInput(name: "standard input twice", files: [:], arguments: ["--corpus", "-", "--corpus", "-"],
                 says: ["standard input (-) can be read once"], usage: true),
    ]

    @Test(arguments: badInputs)
    func badInputIsNamed(_ bad: BadInput) throws {
        let tiny = try TinySetup()
        defer { tiny.remove() }
        let folder = tiny.directory.path
        for (name, bytes) in bad.files { try Data(bytes).write(to: tiny.directory.appendingPathComponent(name)) }
        var arguments = bad.arguments.map { $0.replacingOccurrences(of: "@", with: folder) }
        if !arguments.contains("--output-dir") { arguments += ["--output-dir", tiny.directory.appendingPathComponent("run").path] }
        let result = try Self.adapt(tiny, arguments)
        #expect(result.status == (bad.usage ? 64 : 1), "\(bad.name): status \(result.status): \(result.stderr)")
        for fragment in bad.says.map({ $0.replacingOccurrences(of: "@", with: folder) }) {
            #expect(result.stderr.contains(fragment), "\(bad.name): no '\(fragment)' in \(result.stderr)")
        }
        #expect(!result.stderr.contains("NSCocoaErrorDomain") && result.stderr.contains("Usage:") == bad.usage, "\(result.stderr)")
    }

    /// `tokenize -` reads standard input, as `tokenize FILE` reads the file.
    @Test func tokenizeReadsStandardInput() throws {
        let tiny = try TinySetup()
        defer { tiny.remove() }
        let fromFile = try ReferenceCommandTests.mlmAdapt(["tokenize", "--vocab", tiny.vocabularyURL.path, tiny.corpusURL.path])
        let fromInput = try ReferenceCommandTests.mlmAdapt(["tokenize", "--vocab", tiny.vocabularyURL.path, "-"],
                                                           input: try Data(contentsOf: tiny.corpusURL))
        #expect(fromFile.status == 0 && fromInput.status == 0, "\(fromFile.stderr) \(fromInput.stderr)")
        #expect(fromFile.stdout.split(separator: "\n").count == 62)
        #expect(fromInput.stdout == fromFile.stdout)
    }

    /// A malformed vocabulary names its file and line: given with --vocab, and beside a model.
    @Test func malformedVocabularyNamesFileAndLine() throws {
        let tiny = try TinySetup()
        defer { tiny.remove() }
        var tokens = try String(contentsOf: tiny.vocabularyURL, encoding: .utf8).split(separator: "\n").map(String.init)
        tokens[9] = tokens[8]
        let vocab = tiny.directory.appendingPathComponent("bad-vocab.txt")
        try (tokens.joined(separator: "\n") + "\n").write(to: vocab, atomically: true, encoding: .utf8)
        let tokenize = try ReferenceCommandTests.mlmAdapt(["tokenize", "--vocab", vocab.path, tiny.corpusURL.path])
        #expect(tokenize.status == 1)
        #expect(tokenize.stderr.contains("\(vocab.path), line 10: duplicate token"), "\(tokenize.stderr)")

        let model = tiny.directory.appendingPathComponent("model")
        try FileManager.default.copyItem(at: fixturesDirectory.appendingPathComponent("checkpoint/tiny-mlm"), to: model)
        let modelVocab = model.appendingPathComponent("vocab.txt")
        var modelTokens = try String(contentsOf: modelVocab, encoding: .utf8).split(separator: "\n").map(String.init)
        modelTokens[20] = modelTokens[19]
        try (modelTokens.joined(separator: "\n") + "\n").write(to: modelVocab, atomically: true, encoding: .utf8)
        let fill = try ReferenceCommandTests.mlmAdapt(["fill-mask", "--checkpoint", model.path, "--threads", "1", "a [MASK] b"])
        #expect(fill.status == 1)
        #expect(fill.stderr.contains("\(modelVocab.path), line 21: duplicate token"), "\(fill.stderr)")
    }

    /// classify and ner hold the run folder's lock: a second run into a folder in use is refused, naming
    /// the holder (here this test process).
    @Test(arguments: ["classify", "ner"])
    func fineTuningTakesTheRunFolderLock(command: String) throws {
        let tiny = try TinySetup()
        defer { tiny.remove() }
        let data = tiny.directory.appendingPathComponent(command == "classify" ? "task.tsv" : "task.conll")
        let text = command == "classify" ? "text\tlabel\nthe licensee\ta\nthe licensor\tb\n" : "the\tO\nlicensee\tB-X\n\nlicensor\tB-X\n"
        try text.write(to: data, atomically: true, encoding: .utf8)
        let output = tiny.directory.appendingPathComponent("run")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let arguments = [command, "--init", fixturesDirectory.appendingPathComponent("checkpoint/tiny-mlm").path,
                         "--train", data.path, "--validation", data.path, "--epochs", "1", "--batch-size", "2",
                         "--max-seq-length", "16", "--threads", "1", "--no-save", "--output-dir", output.path]
        try withExtendedLifetime(try RunFolderLock(directory: output)) {
            let refused = try ReferenceCommandTests.mlmAdapt(arguments)
            #expect(refused.status == 1)
            #expect(refused.stderr.contains("another run (pid \(getpid())) is writing to this folder"), "\(refused.stderr)")
            #expect(!FileManager.default.fileExists(atPath: output.appendingPathComponent("report.json").path))
        }
        let free = try ReferenceCommandTests.mlmAdapt(arguments)
        #expect(free.status == 0, "\(free.stderr)")
        #expect(FileManager.default.fileExists(atPath: output.appendingPathComponent("report.json").path))
    }
}
