import ArgumentParser
import Foundation

/// `mlm-bench all`: every component benchmark (each beside its reference when installed) as a
/// subprocess of this executable, then BENCHMARKS.md with the machine, commit, date and all output.
struct AllBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "all",
        abstract: "Run the tokenizer, corpus-stream, masking, train-step and checkpoint benchmarks and write BENCHMARKS.md.",
        discussion: """
            Each benchmark runs as `mlm-bench NAME` in a child process (so one failing does not stop the others) \
            and prints its own reference ratios; the output goes verbatim into the report. The masking-strategies \
            results committed in Benchmarks/results are summarised too (run them with `mlm-bench masking-strategies`).
            Example: mlm-bench all --out BENCHMARKS.md
            """)

    static let defaultBenchmarks = ["tokenizer", "corpus-stream", "masking", "train-step", "checkpoint"]

    @Option(help: "Comma-separated benchmarks to run.") var benchmarks = defaultBenchmarks.joined(separator: ",")
    @Option(name: .customLong("args"), help: "Arguments for one benchmark, as NAME='--opt value' (repeatable); they replace its defaults.")
    var extraArguments: [String] = []
    @Option(help: "The report to write.") var out = "BENCHMARKS.md"
    @Option(help: "Masking-strategies results to summarise.") var maskingStrategies = "Benchmarks/results/masking-strategies.md"
    @Option(help: "Python interpreter for the reference-version check.") var python = "python3"

    func validate() throws {
        _ = try parsedExtraArguments()
        if names.isEmpty { throw ValidationError("--benchmarks: give at least one name") }
    }

    var names: [String] {
        benchmarks.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func parsedExtraArguments() throws -> [String: [String]] {
        var result: [String: [String]] = [:]
        for item in extraArguments {
            guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
                throw ValidationError("--args '\(item)': expected NAME='--option value'")
            }
            let name = String(item[..<equals])
            result[name, default: []] += item[item.index(after: equals)...].split(separator: " ").map(String.init)
        }
        return result
    }

    func run() throws {
        let machine = MachineFacts.collect()
        let me = Bundle.main.executablePath ?? CommandLine.arguments[0]
        let extra = try parsedExtraArguments()
        let references = referenceVersions()
        say("references: \(references ?? "not importable (\(python) with tokenizers, transformers, torch): ratios are skipped")")
        var sections: [BenchmarkSection] = []
        for name in names {
            let arguments = [name] + (extra[name] ?? Self.defaultArguments(name, referencesInstalled: references != nil))
            say("== mlm-bench \(shellQuoted(arguments))")
            let section: BenchmarkSection
            do {
                let result = try Subprocess.run(me, arguments, echoPrefix: "", allowFailure: true)
                section = BenchmarkSection(name: name, arguments: arguments, status: result.status,
                                           seconds: result.seconds, output: result.output)
            } catch {
                section = BenchmarkSection(name: name, arguments: arguments, status: -1, seconds: 0, output: "\(error)")
            }
            if section.status != 0 { say("   exit status \(section.status)") }
            sections.append(section)
        }
        let summary = try? String(contentsOfFile: maskingStrategies, encoding: .utf8)
        let report = BenchmarksReport(
            machine: machine, loadAtEnd: currentLoadAverage(), references: references, sections: sections,
            maskingStrategiesPath: maskingStrategies, maskingStrategiesMarkdown: summary)
        try report.markdown().write(toFile: out, atomically: true, encoding: .utf8)
        print("wrote \(out)")
        if sections.contains(where: { $0.status != 0 }) {
            throw ExitCode(1)
        }
    }

    /// Arguments a benchmark needs to run on the project's corpus (the others have usable defaults).
    static func defaultArguments(_ name: String, referencesInstalled: Bool) -> [String] {
        switch name {
        case "corpus-stream":
            return ["--corpus", "Corpora/legal.txt", "--mode", "documents"] + (referencesInstalled ? ["--reference"] : [])
        default:
            return []
        }
    }

    /// "tokenizers 0.23.3, transformers 5.24.0, torch 2.15.0" or nil when not importable.
    func referenceVersions() -> String? {
        guard let interpreter = python.contains("/") ? python : Subprocess.which(python) else { return nil }
        let script = "import tokenizers, transformers, torch; "
            + "print(f'tokenizers {tokenizers.__version__}, transformers {transformers.__version__}, torch {torch.__version__}')"
        return Subprocess.firstLine(interpreter, ["-c", script])
    }
}

/// Prints to stderr, unbuffered, so it interleaves in order with the children's echoed output.
func say(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// One benchmark's run: its command, exit status and everything it printed.
struct BenchmarkSection {
    let name: String
    let arguments: [String]
    let status: Int32
    let seconds: Double
    let output: String
}

/// The BENCHMARKS.md document.
struct BenchmarksReport {
    let machine: MachineFacts
    let loadAtEnd: String?
    let references: String?
    let sections: [BenchmarkSection]
    let maskingStrategiesPath: String
    let maskingStrategiesMarkdown: String?

    func markdown() -> String {
        var lines = ["# Benchmarks", "",
                     "Generated by `mlm-bench all` (release build); rerun it to refresh this file. "
                     + "See Benchmarks/README.md for how to install the references and run everything.", ""]
        lines += machine.markdownLines
        if let loadAtEnd { lines.append("- Load average at the end (1/5/15 min): \(loadAtEnd)") }
        lines.append("- References: " + (references ?? "not installed (no ratios)"))
        lines.append("")
        lines.append("Ratios are ours ÷ the reference measured in the same process run on the same machine (> 1: we are faster), "
            + "as each benchmark prints them. The machine was shared with other jobs while these ran; see the load averages.")
        lines.append("")
        lines += ["| benchmark | status | seconds |", "|:---|:---|---:|"]
        for section in sections {
            lines.append("| [\(section.name)](#\(section.name)) | " + (section.status == 0 ? "ok" : "failed (\(section.status))")
                + " | \(formatNumber(section.seconds, digits: 1)) |")
        }
        lines.append("")
        for section in sections {
            lines += ["## \(section.name)", "", "`mlm-bench \(shellQuoted(section.arguments))`"
                      + (section.status == 0 ? "" : " — exited with status \(section.status)"), ""]
            lines += ["```", cleanedOutput(section.output), "```", ""]
        }
        lines += ["## masking-strategies", ""]
        if let maskingStrategiesMarkdown {
            lines.append("From [\(maskingStrategiesPath)](\(maskingStrategiesPath)) (run separately: it takes from 30 minutes to hours):")
            lines.append("")
            lines += extractSection(maskingStrategiesMarkdown, heading: "## Results")
        } else {
            lines.append("Not run yet: `mlm-bench masking-strategies --quick` writes \(maskingStrategiesPath).")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Output without progress redraws: keeps the last state of each carriage-return-rewritten line.
func cleanedOutput(_ text: String) -> String {
    text.split(separator: "\n", omittingEmptySubsequences: false)
        .map { line in line.split(separator: "\r", omittingEmptySubsequences: true).last.map(String.init) ?? "" }
        .joined(separator: "\n")
        .trimmingCharacters(in: .whitespacesAndNewlines)
        .replacingOccurrences(of: "```", with: "'''")
}

/// The lines of a Markdown section, from `heading` up to the next heading of the same or higher level.
func extractSection(_ markdown: String, heading: String) -> [String] {
    let level = heading.prefix { $0 == "#" }.count
    var lines: [String] = []
    var inside = false
    for line in markdown.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
        if line.hasPrefix(heading) {
            inside = true
            continue
        }
        if inside {
            let hashes = line.prefix { $0 == "#" }.count
            if hashes > 0 && hashes <= level && line.dropFirst(hashes).hasPrefix(" ") { break }
            lines.append(line)
        }
    }
    return lines
}
