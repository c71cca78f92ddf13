import Foundation

/// `summary.json`: what a finished run achieved and where its files are, the same shape for every command.
public struct RunSummary: Codable, Equatable, Sendable {
    /// `adapt`, `classify` or `ner`.
    public var command: String
    public var runFolder: String
    /// Final figures: for `adapt` the last held-out eval (`token_loss`, `whole_word_acc`, …) and throughput;
    /// for `classify`/`ner` the best epoch's dev metrics and the test metrics (`test_accuracy`, …).
    public var final: [String: Double]
    public var best: Best?
    /// Optimizer steps (adapt) or epochs (classify/ner) run, and how many were planned.
    public var completed: Int
    public var planned: Int
    /// True when the run ended before `planned` (a signal, early stopping).
    public var stoppedEarly: Bool
    public var seconds: Double
    public var paths: Paths

    public struct Best: Codable, Equatable, Sendable {
        /// The metric that picked the best point, e.g. `whole_word_loss` or `dev_accuracy`.
        public var metric: String
        public var value: Double
        public var step: Int?
        public var epoch: Int?

        public init(metric: String, value: Double, step: Int? = nil, epoch: Int? = nil) {
            self.metric = metric; self.value = value; self.step = step; self.epoch = epoch
        }
    }

    public struct Paths: Codable, Equatable, Sendable {
        public var checkpoints: [String]
        /// `metrics.jsonl` (adapt) or `report.json` (classify/ner): the per-step or per-epoch record.
        public var metrics: String?
        public var report: String
        public var summary: String

        public init(checkpoints: [String], metrics: String?, report: String, summary: String) {
            self.checkpoints = checkpoints; self.metrics = metrics; self.report = report; self.summary = summary
        }
    }

    public init(command: String, runFolder: URL, final: [String: Double], best: Best?, completed: Int, planned: Int,
                stoppedEarly: Bool, seconds: Double, checkpoints: [URL], metrics: URL?) {
        self.command = command
        self.runFolder = runFolder.path
        self.final = final.filter { $0.value.isFinite }
        self.best = best.flatMap { $0.value.isFinite ? $0 : nil }
        self.completed = completed
        self.planned = planned
        self.stoppedEarly = stoppedEarly
        self.seconds = seconds
        paths = Paths(
            checkpoints: checkpoints.map(\.path), metrics: metrics?.path,
            report: runFolder.appendingPathComponent(RunReportFiles.reportFileName).path,
            summary: runFolder.appendingPathComponent(RunReportFiles.summaryFileName).path)
    }

    public static func read(_ url: URL) throws -> RunSummary {
        do {
            return try decoder.decode(RunSummary.self, from: Data(contentsOf: url))
        } catch {
            throw ReportError("\(url.path): not a run summary (\(error))")
        }
    }

    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return try encoder.encode(self)
    }

    static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }
}

public struct ReportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Writes a finished run's `summary.json` and `report.html` into its folder.
public enum RunReportFiles {
    public static let summaryFileName = "summary.json"
    public static let reportFileName = "report.html"

    /// - Returns: the report's URL.
    @discardableResult
    public static func write(_ summary: RunSummary) throws -> URL {
        let folder = URL(fileURLWithPath: summary.runFolder)
        let summaryURL = folder.appendingPathComponent(summaryFileName)
        let reportURL = folder.appendingPathComponent(reportFileName)
        do {
            try summary.jsonData().write(to: summaryURL, options: .atomic)
            let history = try RunHistory.load(folder)
            try Data(HTMLReport.page(runs: [history]).utf8).write(to: reportURL, options: .atomic)
        } catch let error as ReportError {
            throw error
        } catch {
            throw ReportError("cannot write the run report in \(folder.path): \(error.localizedDescription)")
        }
        return reportURL
    }
}
