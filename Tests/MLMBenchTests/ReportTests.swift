import Foundation
import Testing
#if canImport(FoundationXML)
import FoundationXML
#endif
@testable import mlm_bench

@Suite struct StatisticsTests {
    @Test(arguments: [
        ([1.0, 2, 3, 4], 2.5, (5.0 / 3).squareRoot(), 4),
        ([7.0], 7.0, 0.0, 1),
        ([2.0, .nan, 4, .infinity], 3.0, 2.0.squareRoot(), 2),
    ])
    func meanAndSampleStd(values: [Double], mean: Double, std: Double, count: Int) throws {
        let summary = try #require(MeanStd(values))
        #expect(abs(summary.mean - mean) < 1e-12)
        #expect(abs(summary.std - std) < 1e-12)
        #expect(summary.count == count)
    }

    @Test func noFiniteValuesGiveNoSummary() {
        #expect(MeanStd([]) == nil)
        #expect(MeanStd([.nan]) == nil)
    }

    @Test(arguments: [
        (12_345.678, 1, "12,345.7"), (-1_234.0, 0, "-1,234"), (0.5, 2, "0.50"), (999.0, 0, "999"),
        (1_000_000.0, 0, "1,000,000"), (Double.nan, 1, "n/a"),
    ])
    func numbersFormat(value: Double, digits: Int, expected: String) {
        #expect(formatNumber(value, digits: digits) == expected)
    }

    @Test func formattedScalesMeanAndStd() throws {
        #expect(try #require(MeanStd([0.5, 0.7])).formatted(digits: 1, scale: 100) == "60.0 ± 14.1")
    }

    @Test func pairedDifferencesUseSharedSeedsOnly() {
        #expect(pairedDifferences([1: 1.0, 2: 2.0, 3: 5.0], [1: 1.5, 3: 4.0, 4: 9.0]) == [0.5, -1.0])
    }
}

@Suite struct TableTests {
    let table = ReportTable(
        rowTitle: "variant",
        columns: [ReportColumn(key: "loss", title: "loss", digits: 2),
                  ReportColumn(key: "acc", title: "acc %", digits: 1, scale: 100)],
        rows: [ReportRow(label: "token", values: ["loss": MeanStd([2.0, 2.2])!, "acc": MeanStd([0.5, 0.6])!]),
               ReportRow(label: "a, \"b\" | c", values: ["loss": MeanStd([3.0])!])])

    @Test func markdownShowsMeanPlusMinusStdAndDashesForGaps() {
        #expect(table.markdown() == """
            | variant | loss | acc % |
            |:---|---:|---:|
            | token | 2.10 ± 0.14 | 55.0 ± 7.1 |
            | a, "b" \\| c | 3.00 ± 0.00 | – |

            """)
    }

    @Test func csvKeepsFullPrecisionAndQuotes() {
        let lines = table.csv().split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[0] == "variant,seeds,loss_mean,loss_std,acc_mean,acc_std")
        #expect(lines[1] == "token,2,\(MeanStd([2.0, 2.2])!.mean),\(MeanStd([2.0, 2.2])!.std),0.55,\(MeanStd([0.5, 0.6])!.std)")
        #expect(lines[2] == "\"a, \"\"b\"\" | c\",1,3.0,0.0,,")
        #expect(lines.last == "")
    }
}

@Suite struct ChartTests {
    @Test(arguments: [
        (0.0, 1.0, 5, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
        (2.3, 9.7, 5, [2.0, 4.0, 6.0, 8.0, 10.0]),
        (0.0, 40.0, 5, [0.0, 10.0, 20.0, 30.0, 40.0]),
        (3.0, 3.0, 5, [2.6, 2.8, 3.0, 3.2, 3.4]),
    ])
    func niceTicksCoverTheRangeWithRoundSteps(lower: Double, upper: Double, count: Int, expected: [Double]) {
        let ticks = niceTicks(lower: lower, upper: upper, approximateCount: count).values
        #expect(ticks.count == expected.count)
        for (tick, value) in zip(ticks, expected) { #expect(abs(tick - value) < 1e-9) }
    }

    @Test func documentIsWellFormedXMLWithOneShapePerSeriesAndBar() throws {
        let curves = [
            CurveSeries(name: "token", color: "#111", points: [CurvePoint(x: 0, mean: 9, std: 0.1), CurvePoint(x: 10, mean: 3, std: 0.2)]),
            CurveSeries(name: "whole<word>", color: "#222", points: [CurvePoint(x: 0, mean: 9, std: 0), CurvePoint(x: 10, mean: 3.5, std: 0)]),
        ]
        let bars = [BarSeries(name: "base", color: "#333", values: [MeanStd([0.5, 0.6]), nil]),
                    BarSeries(name: "token & co", color: "#444", values: [MeanStd([0.7]), MeanStd([0.2, 0.3])])]
        let svg = SVGDocument(
            panels: [LineChart(title: "loss", xLabel: "step", yLabel: "loss", series: curves),
                     BarChart(title: "scores", yLabel: "score", groups: ["acc", "F1"], series: bars),
                     LineChart(title: "empty", xLabel: "step", yLabel: "loss", series: [])],
            caption: "a < b").render()
        let counter = ElementCounter()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = counter
        #expect(parser.parse(), "SVG is not well-formed XML")
        #expect(counter.counts["svg"] == 1)
        #expect(counter.counts["polyline"] == 2)
        // One band: only the first curve has a spread.
        #expect(counter.counts["polygon"] == 1)
        // Three bars (one gap), each with a hover title; background, plot frames and legend swatches are rects too.
        #expect(counter.barTitles == 3)
        #expect(svg.contains("whole&lt;word&gt;") && svg.contains("token &amp; co") && svg.contains("no data"))
    }

    final class ElementCounter: NSObject, XMLParserDelegate {
        var counts: [String: Int] = [:]
        var barTitles = 0
        private var stack: [String] = []
        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            counts[name, default: 0] += 1
            if name == "title" && stack.last == "rect" { barTitles += 1 }
            stack.append(name)
        }
        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            stack.removeLast()
        }
    }
}

@Suite struct RunDataTests {
    @Test func metricsLinesGiveEvalCurvesAndThroughput() throws {
        let text = """
            {"type":"eval","step":0,"token_loss":9.5,"token_ppl":1.0,"token_acc":0.01,"whole_word_loss":9.9,"whole_word_acc":0.005,"seconds":1.0}
            {"type":"train","step":1,"epoch":0,"loss":9.4,"tokens":2048,"tokens_per_s":1000.0}
            {"type":"train","step":2,"epoch":0,"loss":9.0,"tokens":2048,"tokens_per_s":1100.0}

            {"type":"eval","step":2,"token_loss":3.25,"token_acc":0.4,"whole_word_loss":null,"whole_word_acc":0.3}
            {"type":"summary","step":2}
            """
        let metrics = try AdaptationMetrics.parse(text, source: "m.jsonl")
        #expect(metrics.evals.map(\.step) == [0, 2])
        #expect(metrics.first?.loss == ["token": 9.5, "whole_word": 9.9])
        #expect(metrics.last?.loss == ["token": 3.25])
        #expect(metrics.last?.accuracy == ["token": 0.4, "whole_word": 0.3])
        #expect(metrics.trainTokensPerSecond == 1100)
        #expect(metrics.trainSteps == 2 && metrics.trainTokens == 4096)
    }

    @Test(arguments: [
        ("{\"type\":\"eval\",\"step\":0,\"token_loss\":1}\nnot json", "m.jsonl:2: not a JSON object"),
        ("{\"step\":3}", "m.jsonl:1: a metrics line needs \"type\" and \"step\""),
        ("{\"type\":\"eval\",\"step\":0,\"seconds\":1}", "m.jsonl:1: eval line without token_loss or whole_word_loss"),
    ])
    func badMetricsNameTheLine(text: String, message: String) {
        #expect(throws: ReportInputError.self) { try AdaptationMetrics.parse(text, source: "m.jsonl") }
        do { _ = try AdaptationMetrics.parse(text, source: "m.jsonl") } catch { #expect("\(error)" == message) }
    }

    @Test func reportJSONGivesTestAndDevScores() throws {
        let url = try temporaryFolder().appendingPathComponent("report.json")
        try """
            {"task":"classification","seconds":12.5,
             "validation":{"loss":0.9,"classification":{"accuracy":0.61,"macroF1":0.42,"count":10}},
             "test":{"loss":1.0,"classification":{"accuracy":0.58,"macroF1":0.4,"count":10}}}
            """.write(to: url, atomically: true, encoding: .utf8)
        let scores = try FineTuneScores.read(url)
        #expect(scores == FineTuneScores(testAccuracy: 0.58, testMacroF1: 0.4, testEntityF1: nil, validationAccuracy: 0.61,
                                         validationMacroF1: 0.42, validationEntityF1: nil, seconds: 12.5))
        try "{\"test\":{\"loss\":1,\"entities\":{\"f1\":0.25}}}".write(to: url, atomically: true, encoding: .utf8)
        #expect(try FineTuneScores.read(url).testEntityF1 == 0.25)
        try "{\"test\":{\"loss\":1}}".write(to: url, atomically: true, encoding: .utf8)
        #expect(throws: ReportInputError.self) { try FineTuneScores.read(url) }
    }
}

@Suite struct SubsampleTests {
    static let tsv: String = {
        var lines = ["text\tlabel"]
        for index in 0..<100 { lines.append("text \(index)\t" + (index % 10 == 0 ? "rare" : (index % 2 == 0 ? "even" : "odd"))) }
        return lines.joined(separator: "\n") + "\n"
    }()

    @Test func tsvSubsampleIsStratifiedDeterministicAndInFileOrder() throws {
        let sample = try subsampleTSV(Self.tsv, count: 20, seed: 7, source: "t.tsv")
        let rows = sample.split(separator: "\n").dropFirst().map { $0.split(separator: "\t") }
        #expect(sample.hasPrefix("text\tlabel\n"))
        let labels = rows.map { String($0[1]) }
        // 10 rare, 40 even, 50 odd rows: shares 2, 8, 10.
        #expect(labels.filter { $0 == "rare" }.count == 2)
        #expect(labels.filter { $0 == "even" }.count == 8)
        #expect(labels.filter { $0 == "odd" }.count == 10)
        let numbers = rows.map { Int($0[0].split(separator: " ")[1])! }
        #expect(numbers == numbers.sorted())
        #expect(try subsampleTSV(Self.tsv, count: 20, seed: 7, source: "t.tsv") == sample)
        #expect(try subsampleTSV(Self.tsv, count: 20, seed: 8, source: "t.tsv") != sample)
        #expect(try subsampleTSV(Self.tsv, count: 500, seed: 7, source: "t.tsv") == Self.tsv)
    }

    @Test func tsvWithoutLabelColumnIsRejectedByName() {
        do {
            _ = try subsampleTSV("text\tcategory\na\tb\n", count: 1, seed: 1, source: "x.tsv")
            Issue.record("expected an error")
        } catch { #expect("\(error)" == "x.tsv:1: no 'label' column in the header") }
    }

    @Test func conllSubsampleKeepsWholeSentences() {
        let text = (0..<10).map { "w\($0)a\tO\nw\($0)b\tB-person" }.joined(separator: "\n\n") + "\n"
        let sample = subsampleCoNLL(text, count: 4, seed: 3)
        let sentences = sample.components(separatedBy: "\n\n")
        #expect(sentences.count == 4)
        for sentence in sentences {
            let lines = sentence.trimmingCharacters(in: .newlines).split(separator: "\n")
            #expect(lines.count == 2 && lines[0].hasSuffix("a\tO") && lines[1].hasSuffix("b\tB-person"))
        }
        #expect(subsampleCoNLL(text, count: 40, seed: 3) == text)
    }
}

@Suite struct AllReportTests {
    @Test func sectionExtractionStopsAtTheNextHeadingOfTheSameLevel() {
        let markdown = "# T\n## Setup\nx\n## Results (mean)\n\n| a |\n### detail\ny\n## Paired\nz\n"
        #expect(extractSection(markdown, heading: "## Results") == ["", "| a |", "### detail", "y"])
    }

    @Test func progressRedrawsKeepTheirLastState() {
        #expect(cleanedOutput("step 1\rstep 2\rstep 3\ndone\n```x```\n") == "step 3\ndone\n'''x'''")
    }

    @Test func shellQuotingSurvivesSpacesAndQuotes() {
        #expect(shellQuoted(["mlm-adapt", "--corpus", "a b.txt", "it's", "--lr=5e-5"]) == "mlm-adapt --corpus 'a b.txt' 'it'\\''s' --lr=5e-5")
    }

    @Test func reportListsEveryBenchmarkAndTheMaskingSummary() {
        let machine = MachineFacts(cpuModel: "Test CPU", logicalCores: 2, memoryGiB: 24, openBLASKernel: "SAPPHIRERAPIDS",
                                   commit: "abc", dirtyFiles: 0, date: "2026-01-01T00:00:00Z", loadAverage: "1.0 2.0 3.0")
        let report = BenchmarksReport(
            machine: machine, loadAtEnd: "4.0 4.0 4.0", references: "tokenizers 0.23.3",
            sections: [BenchmarkSection(name: "tokenizer", arguments: ["tokenizer"], status: 0, seconds: 3, output: "ratio 2.0×\n"),
                       BenchmarkSection(name: "masking", arguments: ["masking"], status: 64, seconds: 0.1, output: "Error: x")],
            maskingStrategiesPath: "r.md", maskingStrategiesMarkdown: "# M\n## Results (mean ± std)\n| t |\n## Paired\nq\n")
        let text = report.markdown()
        #expect(text.contains("- Machine: Test CPU, 2 logical cores, 24 GiB RAM"))
        #expect(text.contains("- Commit: `abc`") && text.contains("- OpenBLAS kernel: SAPPHIRERAPIDS"))
        #expect(text.contains("| [tokenizer](#tokenizer) | ok | 3.0 |"))
        #expect(text.contains("| [masking](#masking) | failed (64) | 0.1 |"))
        #expect(text.contains("```\nratio 2.0×\n```"))
        #expect(text.contains("| t |") && !text.contains("q\n"))
    }
}

func temporaryFolder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("mlm-bench-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Makes `text` an executable script at `url`. A child process copies it into place: a file this
/// (multi-threaded) test process had open for writing could leak into a concurrently spawned child and
/// make exec fail with "text file busy".
func installScript(_ text: String, at url: URL) throws {
    let source = url.appendingPathExtension("source")
    try text.write(to: source, atomically: true, encoding: .utf8)
    try Subprocess.run("/usr/bin/install", ["-m", "755", source.path, url.path])
}

/// A fake `mlm-adapt` for the harness tests: a bash script that answers `--help` and `help adapt` as a
/// current build does, logs every other call to calls.txt beside itself, sets `$sub` (adapt, classify,
/// ner or evaluate) and turns every `--name value` into `$name` (dashes as underscores), then runs `body`.
func fakeMLMAdapt(_ body: String) -> String {
    #"""
    #!/bin/bash
    here=$(dirname "$0")
    if [ "$1" = "--help" ]; then echo "SUBCOMMANDS: adapt (default), classify, ner, evaluate"; exit 0; fi
    if [ "$1" = "help" ]; then echo "--head-warmup-steps <n> --text-column <c>"; exit 0; fi
    echo "$*" >> "$here/calls.txt"
    sub=adapt
    case "$1" in classify|ner|evaluate) sub=$1; shift;; esac
    while [ $# -gt 0 ]; do
      if [ "${1#--}" != "$1" ] && [ $# -gt 1 ] && [ "${2#--}" = "$2" ]; then
        declare "$(echo "${1#--}" | tr - _)=$2"; shift
      fi
      shift
    done

    """# + body + "\n"
}

/// A temporary folder with a fake `mlm-adapt` script in it; `calls` are the argument lines it logged.
struct FakeCLIFolder {
    let root: URL
    let cli: URL
    var calls: [String] {
        ((try? String(contentsOf: root.appendingPathComponent("calls.txt"), encoding: .utf8)) ?? "")
            .split(separator: "\n").map(String.init)
    }

    init(script: String) throws {
        root = try temporaryFolder()
        cli = root.appendingPathComponent("mlm-adapt")
        try installScript(script, at: cli)
    }
}
