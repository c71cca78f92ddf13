import ArgumentParser
import Foundation
import Reporting

/// `mlm-adapt report RUN… --out FILE.html`: one page overlaying several runs, to compare strategies.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Chart one or more run folders in one self-contained HTML page (inline SVG, no script).",
        discussion: """
            Example: mlm-adapt report runs/*-adapt-legal-token runs/*-adapt-legal-whole-word --out compare.html
            Adapt runs chart train loss, learning rate, gradient norm, tokens/s and the held-out loss and accuracy \
            under both eval maskings, by step; classify and ner runs chart their epoch metrics. Each run has one \
            colour and is named in the legend (its folder name, or --name).
            """)

    @Argument(help: "Run folders (or a metrics.jsonl, report.json or summary.json inside one).")
    var runs: [String]

    @Option(help: "The HTML file to write.")
    var out: String

    @Option(help: "Legend names, one per run in order (default: the folder names).")
    var name: [String] = []

    @Option(help: "Page title.")
    var title: String?

    func validate() throws {
        if runs.isEmpty { throw ValidationError("give at least one run folder") }
        if !name.isEmpty && name.count != runs.count {
            throw ValidationError("--name given \(name.count) times for \(runs.count) runs; give one per run or none")
        }
    }

    func run() throws {
        var histories: [RunHistory] = []
        for (index, path) in runs.enumerated() {
            do {
                histories.append(try RunHistory.load(URL(fileURLWithPath: path), name: name.isEmpty ? nil : name[index]))
            } catch { throw ValidationError("\(error)") }
        }
        // Folders of the same name (runs/a/x and runs/b/x) get their parent prepended, so the legend tells them apart.
        let names = histories.map(\.name)
        for index in histories.indices where names.filter({ $0 == histories[index].name }).count > 1 && name.isEmpty {
            histories[index].name = histories[index].folder.deletingLastPathComponent().lastPathComponent + "/" + histories[index].name
        }
        let url = URL(fileURLWithPath: out)
        do {
            try Data(HTMLReport.page(runs: histories, title: title).utf8).write(to: url, options: .atomic)
        } catch {
            throw ValidationError("cannot write \(out): \(error.localizedDescription)")
        }
        print("wrote \(url.path): \(histories.count) run(s): " + histories.map(\.name).joined(separator: ", "))
    }
}
