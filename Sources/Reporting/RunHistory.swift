import Foundation

/// The recorded curves of one run folder, read back from what the run wrote: `metrics.jsonl` for `adapt`
/// (train and eval lines by step), `report.json` for `classify`/`ner` (one record per epoch).
public struct RunHistory: Sendable {
    /// The run's name in legends: its folder's name unless the caller picks another.
    public var name: String
    public var folder: URL
    public var summary: RunSummary?
    public var axis: Axis
    /// Curves by key (`RunHistory.Key`), each in x order.
    public var series: [String: [Point]]
    /// Held-out eval schemes found in `metrics.jsonl`, as written there (`token`, `whole_word`).
    public var evalSchemes: [String]

    public enum Axis: String, Sendable { case step, epoch }

    public struct Point: Equatable, Sendable {
        public var x: Double
        public var y: Double
    }

    /// Keys of `series`.
    public enum Key {
        public static func train(_ field: String) -> String { "train." + field }
        public static func eval(_ scheme: String, _ metric: String) -> String { "eval.\(scheme)_\(metric)" }
        public static func epoch(_ field: String) -> String { "epoch." + field }
    }

    public static let metricsFileName = "metrics.jsonl"
    public static let epochReportFileName = "report.json"

    /// Reads `folder` (or the folder of a `metrics.jsonl`/`report.json`/`summary.json` file).
    public static func load(_ path: URL, name: String? = nil) throws -> RunHistory {
        var folder = path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path.path, isDirectory: &isDirectory) else {
            throw ReportError("\(path.path): no such run folder")
        }
        if !isDirectory.boolValue { folder = path.deletingLastPathComponent() }
        folder = folder.standardizedFileURL
        let summaryURL = folder.appendingPathComponent(RunReportFiles.summaryFileName)
        let summary = FileManager.default.fileExists(atPath: summaryURL.path) ? try RunSummary.read(summaryURL) : nil
        var history = RunHistory(
            name: name ?? folder.lastPathComponent, folder: folder, summary: summary, axis: .step, series: [:],
            evalSchemes: [])
        let metricsURL = folder.appendingPathComponent(metricsFileName)
        let epochsURL = folder.appendingPathComponent(epochReportFileName)
        if FileManager.default.fileExists(atPath: metricsURL.path) {
            try history.readMetrics(metricsURL)
        } else if FileManager.default.fileExists(atPath: epochsURL.path) {
            history.axis = .epoch
            try history.readEpochs(epochsURL)
        } else {
            throw ReportError("\(folder.path) holds neither \(metricsFileName) (an adapt run) nor \(epochReportFileName) (a classify or ner run)")
        }
        return history
    }

    mutating func append(_ key: String, _ x: Double, _ value: Any?) {
        guard let number = value as? NSNumber else { return }
        let y = number.doubleValue
        guard y.isFinite else { return }
        series[key, default: []].append(Point(x: x, y: y))
    }

    mutating func readMetrics(_ url: URL) throws {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw ReportError("cannot read \(url.path): \(error.localizedDescription)")
        }
        var schemes: [String] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any],
                  let type = object["type"] as? String, let step = (object["step"] as? NSNumber)?.doubleValue else {
                throw ReportError("\(url.path):\(index + 1): not a metrics line (a JSON object with type and step)")
            }
            switch type {
            case "train":
                for (key, value) in object where key != "type" && key != "step" { append(Key.train(key), step, value) }
            case "eval":
                for key in object.keys where key.hasSuffix("_loss") {
                    let scheme = String(key.dropLast("_loss".count))
                    if !schemes.contains(scheme) { schemes.append(scheme) }
                }
                for (key, value) in object where key != "type" && key != "step" { append("eval." + key, step, value) }
            default:
                continue
            }
        }
        evalSchemes = schemes.sorted()
        for key in series.keys { series[key]!.sort { $0.x < $1.x } }
    }

    mutating func readEpochs(_ url: URL) throws {
        guard let data = FileManager.default.contents(atPath: url.path),
              let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
              let epochs = object["epochs"] as? [[String: Any]] else {
            throw ReportError("\(url.path): not a classify/ner report (no epochs list)")
        }
        for record in epochs {
            guard let epoch = (record["epoch"] as? NSNumber)?.doubleValue else { continue }
            append(Key.epoch("train_loss"), epoch, record["trainLoss"])
            let validation = record["validation"] as? [String: Any] ?? [:]
            append(Key.epoch("dev_loss"), epoch, validation["loss"])
            if let classification = validation["classification"] as? [String: Any] {
                append(Key.epoch("dev_accuracy"), epoch, classification["accuracy"])
                append(Key.epoch("dev_macro_f1"), epoch, classification["macroF1"])
            }
            if let entities = validation["entities"] as? [String: Any] {
                append(Key.epoch("dev_entity_f1"), epoch, entities["f1"])
            }
            append(Key.epoch("seconds"), epoch, record["seconds"])
        }
    }
}
