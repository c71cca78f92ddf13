import Foundation
import Testing
@testable import Training

/// Every command that runs the model resolves `--precision`, logs it with the GEMM backend, and runs its
/// model in it: under `MLM_ADAPT_BF16_EMULATE=1`, `--precision bf16` gives slightly different numbers
/// from `--precision fp32`, and `--precision fp32` (and `auto` where it resolves to fp32) gives fp32's.
@Suite(.serialized) struct PrecisionCommandTests {
    /// A tiny adapted MLM and small task files built from the tiny corpus, in one temporary folder.
    final class Fixture {
        let tiny: TinySetup
        let model: URL
        let tsv: URL, conll: URL, texts: URL
        private var classifierFolder: URL?

        init() throws {
            tiny = try TinySetup(dropout: 0)
            model = try ReferenceCommandTests.finishedRun(tiny, steps: 4)
            let lines = try String(contentsOf: tiny.corpusURL, encoding: .utf8).split(separator: "\n")
                .map { $0.replacingOccurrences(of: "\t", with: " ").lowercased() }.filter { $0.count > 20 }.prefix(16)
            tsv = tiny.directory.appendingPathComponent("task.tsv")
            try ("text\tlabel\n" + lines.enumerated().map { "\($0.element)\t\($0.offset % 2 == 0 ? "a" : "b")" }
                .joined(separator: "\n") + "\n").write(to: tsv, atomically: true, encoding: .utf8)
            conll = tiny.directory.appendingPathComponent("task.conll")
            try lines.map { line in
                line.split(separator: " ").prefix(12).map { "\($0)\t\($0.count > 7 ? "B-LONG" : "O")" }.joined(separator: "\n")
            }.joined(separator: "\n\n").appending("\n").write(to: conll, atomically: true, encoding: .utf8)
            texts = tiny.directory.appendingPathComponent("texts.txt")
            try (lines.prefix(6).joined(separator: "\n") + "\n").write(to: texts, atomically: true, encoding: .utf8)
        }

        /// A classify checkpoint trained in fp32 (once), for `predict`.
        func classifier() throws -> URL {
            if let classifierFolder { return classifierFolder }
            let folder = tiny.directory.appendingPathComponent("classifier")
            let run = try PrecisionCommandTests.run(
                PrecisionCommandTests.fineTune("classify", from: model, data: tsv, output: folder) + ["--precision", "fp32"], emulate: false)
            #expect(run.status == 0, "\(run.stderr)")
            classifierFolder = folder
            return folder
        }

        func output(_ name: String) -> URL { tiny.directory.appendingPathComponent(name) }
    }

    struct Command: CustomTestStringConvertible, Sendable {
        let name: String
        /// The command line, given the fixture and a tag naming the run (for output folders).
        let arguments: @Sendable (Fixture, String) throws -> [String]
        /// The numbers the command computed, from its output and its run folder.
        let numbers: @Sendable (ReferenceCommandTests.Output, Fixture, String) throws -> [Double]
        var testDescription: String { name }
    }

    static func fineTune(_ command: String, from model: URL, data: URL, output: URL) -> [String] {
        [command, "--init", model.path, "--train", data.path, "--validation", data.path,
         "--epochs", "2", "--batch-size", "4", "--max-seq-length", "32", "--threads", "1", "--patience", "0",
         "--output-dir", output.path]
    }

    /// Every number in a JSON value, in a fixed order (sorted keys).
    static func numbers(inJSON value: Any) -> [Double] {
        switch value {
        case let number as NSNumber: return [number.doubleValue]
        case let array as [Any]: return array.flatMap(numbers(inJSON:))
        case let object as [String: Any]: return object.keys.sorted().flatMap { numbers(inJSON: object[$0]!) }
        default: return []
        }
    }

    /// The numbers under `key` anywhere in a JSON value, in a fixed order.
    static func numbers(inJSON value: Any, under key: String) -> [Double] {
        switch value {
        case let array as [Any]: return array.flatMap { numbers(inJSON: $0, under: key) }
        case let object as [String: Any]:
            return object.keys.sorted().flatMap { $0 == key ? numbers(inJSON: object[$0]!) : numbers(inJSON: object[$0]!, under: key) }
        default: return []
        }
    }

    /// The numbers of JSON lines (under `key` only, when given).
    static func jsonLines(_ text: String, key: String? = nil) throws -> [Double] {
        try text.split(separator: "\n").flatMap { line in
            let value = try JSONSerialization.jsonObject(with: Data(line.utf8))
            return key.map { numbers(inJSON: value, under: $0) } ?? numbers(inJSON: value)
        }
    }

    /// The train loss of each epoch, from a fine-tuning run's report.json (its dev scores are counts of
    /// right answers, which a small change moves by whole steps or not at all).
    static func fineTuneNumbers(_ folder: URL) throws -> [Double] {
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("report.json")))
        return numbers(inJSON: report, under: "trainLoss")
    }

    static let commands: [Command] = [
        Command(name: "evaluate", arguments: { fixture, _ in
            ["evaluate", "--checkpoint", fixture.model.path, "--corpus", fixture.tiny.corpusURL.path, "--all",
             "--batch-size", "4", "--max-seq-length", "32", "--eval-batches", "4", "--threads", "1", "--json"]
        }, numbers: { output, _, _ in try jsonLines(output.stdout) }),
        Command(name: "fill-mask", arguments: { fixture, _ in
            ["fill-mask", "--checkpoint", fixture.model.path, "--top-k", "5", "--threads", "1", "--json",
             "the licensee shall [MASK] the software", "permission is [MASK] granted"]
        }, numbers: { output, _, _ in try jsonLines(output.stdout, key: "score") }),
        Command(name: "classify", arguments: { fixture, tag in
            fineTune("classify", from: fixture.model, data: fixture.tsv, output: fixture.output("classify-\(tag)")) + ["--no-save"]
        }, numbers: { _, fixture, tag in try fineTuneNumbers(fixture.output("classify-\(tag)")) }),
        Command(name: "ner", arguments: { fixture, tag in
            fineTune("ner", from: fixture.model, data: fixture.conll, output: fixture.output("ner-\(tag)")) + ["--no-save"]
        }, numbers: { _, fixture, tag in try fineTuneNumbers(fixture.output("ner-\(tag)")) }),
        Command(name: "predict", arguments: { fixture, _ in
            ["predict", "--checkpoint", try fixture.classifier().path, fixture.texts.path, "--threads", "1"]
        }, numbers: { output, _, _ in try jsonLines(output.stdout) }),
    ]

    /// The built `mlm-adapt` with emulated bf16 allowed (or not), its output captured.
    static func run(_ arguments: [String], emulate: Bool) throws -> ReferenceCommandTests.Output {
        try ReferenceCommandTests.mlmAdapt(arguments, environment: emulate ? ["MLM_ADAPT_BF16_EMULATE": "1"] : [:])
    }

    @Test(arguments: commands)
    func theCommandRunsItsModelInTheRequestedPrecision(_ command: Command) throws {
        let fixture = try Fixture()
        defer { fixture.tiny.remove() }
        var results: [String: (log: String, numbers: [Double])] = [:]
        for precision in ["fp32", "bf16", "auto"] {
            let output = try Self.run(try command.arguments(fixture, precision) + ["--precision", precision], emulate: true)
            try #require(output.status == 0, "\(command.name) --precision \(precision): \(output.stderr)")
            let numbers = try command.numbers(output, fixture, precision)
            #expect(numbers.count >= 2, "\(command.name) --precision \(precision): \(output.stdout)")
            let line = output.stderr.split(separator: "\n").first { $0.hasPrefix("precision: ") }.map(String.init)
            results[precision] = (try #require(line, "\(command.name) logs no precision line: \(output.stderr)"), numbers)
        }
        let fp32 = try #require(results["fp32"]), bf16 = try #require(results["bf16"]), auto = try #require(results["auto"])
        #expect(fp32.log.hasPrefix("precision: fp32 (requested); GEMM backend: OpenBLAS sgemm"), "\(fp32.log)")
        #expect(bf16.log.hasPrefix("precision: bf16 (emulated") && bf16.log.contains("GEMM backend: emulated bf16"), "\(bf16.log)")

        // bf16 reached the model: the numbers moved, but only as far as bf16 rounding moves them.
        #expect(bf16.numbers.count == fp32.numbers.count)
        #expect(bf16.numbers != fp32.numbers, "\(command.name): --precision bf16 gave fp32's numbers")
        let largest = zip(bf16.numbers, fp32.numbers).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
        #expect(largest < Self.tolerance, "\(command.name): bf16 is \(largest) away from fp32")

        // auto never takes the emulation; where it resolves to fp32 it is fp32, bit for bit.
        if auto.log.hasPrefix("precision: fp32") { #expect(auto.numbers == fp32.numbers, "\(command.name)") }
    }

    /// Largest change bf16 rounding may make, relative to max(1, |value|): bf16 keeps 8 bits of mantissa
    /// (relative error 2^-9 per operand); measured here on the tiny model 1.4e-4 at most (evaluate).
    static let tolerance = 1e-2
}
