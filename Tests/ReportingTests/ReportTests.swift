import Foundation
import Testing
@testable import Reporting

/// A temporary folder holding fake run folders.
struct Scratch {
    let root: URL
    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("mlm-adapt-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }
    func remove() { try? FileManager.default.removeItem(at: root) }

    /// An adapt run folder whose `metrics.jsonl` has the keys `Training.MetricsLog` writes: train lines every
    /// step, eval lines (token and whole-word) every 10 steps; `rate` sets how fast its loss falls.
    func adaptRun(_ name: String, steps: Int = 60, rate: Double) throws -> URL {
        let folder = root.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var lines: [String] = []
        func evalLine(_ step: Int) -> String {
            let t = 7.0 * exp(-rate * Double(step)) + 2, w = t + 0.5
            return "{\"type\":\"eval\",\"step\":\(step),\"token_loss\":\(t),\"token_ppl\":\(exp(t)),\"token_acc\":\(0.6 - t / 20),"
                + "\"token_masked\":300,\"whole_word_loss\":\(w),\"whole_word_ppl\":\(exp(w)),\"whole_word_acc\":\(0.55 - w / 20),"
                + "\"whole_word_masked\":310,\"seconds\":0.5}"
        }
        lines.append(evalLine(0))
        for step in 1...steps {
            let loss = 8.0 * exp(-rate * Double(step)) + 2 + 0.2 * sin(Double(step))
            lines.append("{\"type\":\"train\",\"step\":\(step),\"epoch\":0,\"loss\":\(loss),\"acc\":0.3,\"masked\":120,"
                + "\"lr\":\(5e-5 * min(1, Double(step) / 6) * (1 - Double(step) / Double(steps + 1))),\"grad_norm\":\(1 + 3 * exp(-rate * Double(step))),"
                + "\"tokens\":2048,\"tokens_per_s\":\(1500 + 10 * step),\"elapsed\":\(Double(step) * 1.3)}")
            if step % 10 == 0 { lines.append(evalLine(step)) }
        }
        try (lines.joined(separator: "\n") + "\n").write(to: folder.appendingPathComponent("metrics.jsonl"), atomically: true, encoding: .utf8)
        return folder
    }

    /// A classify run folder with a `report.json` as `Classification.RunReport` encodes it (epochs only).
    func classifyRun(_ name: String, epochs: Int = 4) throws -> URL {
        let folder = root.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let records = (1...epochs).map { e in
            "{\"epoch\":\(e),\"trainLoss\":\(1.5 / Double(e)),\"seconds\":12.5,\"validation\":{\"loss\":\(1.2 / Double(e) + 0.1),"
                + "\"classification\":{\"accuracy\":\(0.5 + 0.1 * Double(e)),\"macroF1\":\(0.4 + 0.1 * Double(e))}}}"
        }
        try "{\"bestEpoch\":\(epochs),\"epochs\":[\(records.joined(separator: ","))]}"
            .write(to: folder.appendingPathComponent("report.json"), atomically: true, encoding: .utf8)
        return folder
    }
}

@Suite struct RunHistoryTests {
    @Test func readsTrainAndEvalCurvesOfBothMaskings() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let history = try RunHistory.load(try scratch.adaptRun("a", steps: 30, rate: 0.05))
        #expect(history.axis == .step)
        #expect(history.evalSchemes == ["token", "whole_word"])
        #expect(history.series["train.loss"]?.count == 30)
        #expect(history.series["train.lr"]?.count == 30)
        #expect(history.series["train.grad_norm"]?.count == 30)
        #expect(history.series["train.tokens_per_s"]?.last?.y == 1800)
        #expect(history.series["eval.whole_word_acc"]?.map(\.x) == [0, 10, 20, 30])
        #expect(history.series["eval.token_loss"]?.first?.y == 9)
    }

    @Test func readsEpochRecordsOfAClassifyRun() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let history = try RunHistory.load(try scratch.classifyRun("c", epochs: 3))
        #expect(history.axis == .epoch)
        #expect(history.series["epoch.train_loss"]?.map(\.y) == [1.5, 0.75, 0.5])
        #expect(history.series["epoch.dev_accuracy"]?.map(\.x) == [1, 2, 3])
        #expect(history.series["epoch.dev_entity_f1"] == nil)
    }

    @Test func aBadLineIsNamedByFileAndLine() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let folder = try scratch.adaptRun("bad", steps: 3, rate: 0.1)
        let url = folder.appendingPathComponent("metrics.jsonl")
        try (String(contentsOf: url, encoding: .utf8) + "not json\n").write(to: url, atomically: true, encoding: .utf8)
        #expect { try RunHistory.load(folder) } throws: { error in
            "\(error)".contains("metrics.jsonl:5:")
        }
        #expect { try RunHistory.load(scratch.root.appendingPathComponent("missing")) } throws: { error in
            "\(error)".contains("no such run folder")
        }
        #expect { try RunHistory.load(scratch.root) } throws: { error in
            "\(error)".contains("neither metrics.jsonl")
        }
    }
}

@Suite struct ReportPageTests {
    @Test(arguments: [(0.0, 1.0), (0.013, 0.97), (-3.0, 250.0), (1500.0, 1510.0), (5e-6, 5e-5)])
    func ticksAreRoundAndCoverTheRange(low: Double, high: Double) {
        let ticks = SVGChart.ticks(low, high)
        #expect(ticks.first! <= low && ticks.last! >= high)
        #expect((3...12).contains(ticks.count))
        let step = ticks[1] - ticks[0]
        for (a, b) in zip(ticks, ticks.dropFirst()) { #expect(abs((b - a) - step) < step * 1e-6) }
    }

    @Test func overlayNamesEveryRunAndDrawsEveryChart() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let runs = [
            try RunHistory.load(try scratch.adaptRun("legal-token", rate: 0.05)),
            try RunHistory.load(try scratch.adaptRun("legal-whole-word", rate: 0.08), name: "whole <word>"),
            try RunHistory.load(try scratch.classifyRun("classify-bbc")),
        ]
        let html = HTMLReport.page(runs: runs)
        #expect(!html.contains("<script"))
        #expect(!html.contains("http://") || !html.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "").contains("http://"))
        for name in ["legal-token", "whole &lt;word&gt;", "classify-bbc"] { #expect(html.contains(name)) }
        for title in ["Train loss", "Learning rate", "Gradient norm", "Throughput (tokens/s)", "Held-out MLM loss",
                      "Held-out MLM accuracy", "Loss per epoch", "Dev score per epoch"] {
            #expect(html.contains(">\(title)"), "chart \(title)")
        }
        #expect(html.contains("token masking") && html.contains("whole-word masking"))
        // 2 adapt runs × (4 train charts + 2 schemes × 2 eval charts) + classify: 2 loss + 2 score curves.
        #expect(html.components(separatedBy: "<polyline").count - 1 == 2 * (4 + 4) + 4)
    }

    @Test func summaryRoundTripsWithSnakeCaseKeysAndDropsNonFiniteFigures() throws {
        let summary = RunSummary(
            command: "adapt", runFolder: URL(fileURLWithPath: "/tmp/run"), final: ["token_loss": 2.5, "bad": .nan],
            best: .init(metric: "whole_word_loss", value: 2.4, step: 20), completed: 30, planned: 30, stoppedEarly: false,
            seconds: 12, checkpoints: [URL(fileURLWithPath: "/tmp/run/step-30.safetensors.gz")],
            metrics: URL(fileURLWithPath: "/tmp/run/metrics.jsonl"))
        let text = String(decoding: try summary.jsonData(), as: UTF8.self)
        #expect(text.contains("\"run_folder\" : \"/tmp/run\""))
        #expect(text.contains("\"stopped_early\" : false"))
        #expect(!text.contains("bad"))
        let scratch = try Scratch()
        defer { scratch.remove() }
        let url = scratch.root.appendingPathComponent("summary.json")
        try summary.jsonData().write(to: url)
        #expect(try RunSummary.read(url) == summary)
        #expect(summary.paths.report == "/tmp/run/report.html")
    }

    @Test func writingAReportPutsSummaryAndPageInTheRunFolder() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let folder = try scratch.adaptRun("one", steps: 20, rate: 0.1)
        let summary = RunSummary(
            command: "adapt", runFolder: folder, final: ["whole_word_acc": 0.31], best: nil, completed: 20, planned: 20,
            stoppedEarly: false, seconds: 3, checkpoints: [], metrics: folder.appendingPathComponent("metrics.jsonl"))
        let report = try RunReportFiles.write(summary)
        let html = try String(contentsOf: report, encoding: .utf8)
        #expect(html.contains("whole_word_acc 0.31"))
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("summary.json").path))
    }
}

@Suite struct RunFolderTests {
    @Test(arguments: [
        ("Corpora/legal.txt", "legal"), ("data/*.txt", "data"), ("Corpora/tasks/bbc/train.tsv", "bbc"),
        ("notes.v2.txt.gz", "notes"), ("my corpus.txt", "my_corpus"), ("", "data"),
    ])
    func dataNames(path: String, expected: String) {
        #expect(RunFolder.dataName(path) == expected)
    }

    @Test func oneSchemeForEveryCommand() {
        let date = Date(timeIntervalSince1970: 1_750_000_000)  // 2025-06-15 15:06:40 UTC
        #expect(RunFolder.defaultURL(command: "adapt", data: "legal", variant: "whole-word", date: date).relativePath
            == "runs/2025-06-15-150640-adapt-legal-whole-word")
        #expect(RunFolder.defaultURL(command: "classify", data: "bbc", date: date, root: URL(fileURLWithPath: "/x")).path
            == "/x/2025-06-15-150640-classify-bbc")
    }
}

/// Collects what a progress line writes.
final class Written: @unchecked Sendable {
    private let lock = NSLock()
    private var parts: [String] = []
    func append(_ s: String) { lock.withLock { parts.append(s) } }
    var text: String { lock.withLock { parts.joined() } }
}

@Suite struct EpochProgressTests {
    @Test(arguments: [(42.4, "42s"), (185, "3m05s"), (3720, "1h02m"), (-1, "-"), (.nan, "-")])
    func durations(seconds: Double, text: String) {
        #expect(formatDuration(seconds) == text)
    }

    @Test func plainLinesComeAtTheIntervalWithEtaAndNeverAtTheLastStep() {
        let written = Written()
        var now = 100.0
        let progress = EpochProgress(
            style: ProgressStyle(isTerminal: false, plainInterval: 10) { written.append($0) }, epoch: 2, epochs: 3,
            steps: 50, clock: { now })
        for step in 1...50 {
            now += 1  // one second per step, 16 examples per step
            progress.update(step: step, meanLoss: 0.5, examples: 16 * step)
        }
        progress.finish()
        let lines = written.text.split(separator: "\n")
        #expect(lines.count == 4)  // steps 10, 20, 30, 40
        #expect(lines.first == "epoch 2/3 step 10/50  loss 0.5000  16.0 ex/s  ETA 40s")
        #expect(!written.text.contains("\r"))
    }

    @Test func terminalRedrawsInPlaceAndClearsAtTheEnd() {
        let written = Written()
        var now = 0.0
        let progress = EpochProgress(
            style: ProgressStyle(isTerminal: true) { written.append($0) }, epoch: 1, epochs: 1, steps: 3, clock: { now })
        for step in 1...3 {
            now += 0.5
            progress.update(step: step, meanLoss: 1, examples: step)
        }
        progress.finish()
        #expect(written.text.components(separatedBy: "\r\u{1B}[2K").count - 1 == 4)
        #expect(written.text.contains("step 3/3"))
        #expect(!written.text.contains("\n"))
    }
}

@Suite struct RepositoryFilesTests {
    /// repo/Package.swift, repo/.build/debug/tool, repo/cache/models/m, home/cache/models/m, cwd/.
    func tree() throws -> (Scratch, repo: URL, home: URL, cwd: URL, executable: URL) {
        let scratch = try Scratch()
        let fm = FileManager.default
        let repo = scratch.root.appendingPathComponent("repo"), home = scratch.root.appendingPathComponent("home")
        let cwd = scratch.root.appendingPathComponent("elsewhere")
        for folder in [repo.appendingPathComponent(".build/debug"), repo.appendingPathComponent("cache/models/m"),
                       home.appendingPathComponent("cache/models/m"), cwd] {
            try fm.createDirectory(at: folder, withIntermediateDirectories: true)
        }
        fm.createFile(atPath: repo.appendingPathComponent("Package.swift").path, contents: Data())
        let executable = repo.appendingPathComponent(".build/debug/tool")
        fm.createFile(atPath: executable.path, contents: Data())
        return (scratch, repo, home, cwd, executable)
    }

    @Test func homeComesFirstThenTheExecutablesRepositoryThenTheCurrentDirectory() throws {
        let (scratch, repo, home, cwd, executable) = try tree()
        defer { scratch.remove() }
        let withHome = RepositoryFiles.roots(environment: ["MLM_ADAPT_HOME": home.path], executable: executable, currentDirectory: cwd)
        #expect(withHome.map(\.origin) == ["MLM_ADAPT_HOME", "the executable's repository", "the current directory"])
        #expect(try RepositoryFiles.locate("cache/models/m", roots: withHome).path == home.appendingPathComponent("cache/models/m").path)
        let withoutHome = RepositoryFiles.roots(environment: [:], executable: executable, currentDirectory: cwd)
        #expect(withoutHome.first?.url.path == repo.path)
        #expect(try RepositoryFiles.locate("cache/models/m", roots: withoutHome).path == repo.appendingPathComponent("cache/models/m").path)
    }

    @Test func theErrorNamesEveryPlaceTried() throws {
        let (scratch, _, home, cwd, _) = try tree()
        defer { scratch.remove() }
        let roots = RepositoryFiles.roots(environment: ["MLM_ADAPT_HOME": home.path], executable: URL(fileURLWithPath: "/usr/bin/true"),
                                          currentDirectory: cwd)
        #expect(roots.count == 2)  // /usr/bin has no Package.swift above it
        #expect { try RepositoryFiles.locate("Vocab/none.txt", roots: roots, hint: "run Vocab/fetch.sh") } throws: { error in
            let text = "\(error)"
            return text.contains(home.appendingPathComponent("Vocab/none.txt").path + " (MLM_ADAPT_HOME)")
                && text.contains(cwd.appendingPathComponent("Vocab/none.txt").path + " (the current directory)")
                && text.contains("run Vocab/fetch.sh")
        }
    }
}
