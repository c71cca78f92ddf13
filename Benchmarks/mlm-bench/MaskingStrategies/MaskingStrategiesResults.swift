import Foundation

/// The runs of a work folder, read back and summarised over seeds.
struct MaskingStrategiesResults {
    let plan: MaskingStrategiesPlan
    /// [strategy: [seed: metrics]]
    let adaptation: [String: [UInt64: AdaptationMetrics]]
    /// [variant: [seed: scores]]
    let classification: [String: [UInt64: FineTuneScores]]
    let ner: [String: [UInt64: FineTuneScores]]
    /// [strategy: [seed: tokens/s]]
    let maskingThroughput: [String: [UInt64: Double]]
    /// Wall seconds of each kind of run, summed over all runs found.
    let runSeconds: [String: Double]

    /// Reads every run of the plan that is present; missing runs leave gaps.
    static func load(plan: MaskingStrategiesPlan, work: URL, maskingThroughput: [String: [UInt64: Double]]) throws
        -> MaskingStrategiesResults {
        var adaptation: [String: [UInt64: AdaptationMetrics]] = [:]
        var classification: [String: [UInt64: FineTuneScores]] = [:]
        var ner: [String: [UInt64: FineTuneScores]] = [:]
        var seconds: [String: Double] = [:]
        let fm = FileManager.default
        for seed in plan.seeds {
            for strategy in plan.strategies {
                let folder = plan.adaptFolder(work, seed, strategy)
                let metrics = folder.appendingPathComponent("metrics.jsonl")
                if fm.fileExists(atPath: metrics.path) {
                    adaptation[strategy, default: [:]][seed] = try AdaptationMetrics.read(metrics)
                    seconds["adapt", default: 0] += MLMAdaptRuns.wallSeconds(folder) ?? 0
                }
            }
            for variant in plan.variants {
                // Only the kinds this plan runs: a folder may hold runs of an earlier plan.
                for (kind, isNER) in [("classify", false)] + (plan.nerTask == nil ? [] : [("ner", true)]) {
                    let folder = plan.fineTuneFolder(work, seed, variant, kind)
                    let report = folder.appendingPathComponent("report.json")
                    guard fm.fileExists(atPath: report.path) else { continue }
                    let scores = try FineTuneScores.read(report)
                    if isNER { ner[variant, default: [:]][seed] = scores } else { classification[variant, default: [:]][seed] = scores }
                    seconds[kind, default: 0] += MLMAdaptRuns.wallSeconds(folder) ?? 0
                }
            }
        }
        return MaskingStrategiesResults(
            plan: plan, adaptation: adaptation, classification: classification, ner: ner,
            maskingThroughput: maskingThroughput, runSeconds: seconds)
    }

    // MARK: per-seed figures

    /// Per seed, the value of figure `key` for `variant`. The base model's MLM figures are the
    /// step-0 evaluations (before any update) of that seed's adaptation runs.
    func perSeed(_ key: String, _ variant: String) -> [UInt64: Double] {
        var values: [UInt64: Double] = [:]
        for seed in plan.seeds {
            if let value = figure(key, variant, seed) { values[seed] = value }
        }
        return values
    }

    private func evalPoint(_ variant: String, _ seed: UInt64) -> EvalPoint? {
        if variant == MaskingStrategiesPlan.baseVariant {
            return plan.strategies.lazy.compactMap { adaptation[$0]?[seed]?.first }.first { $0.step == 0 }
        }
        return adaptation[variant]?[seed]?.last
    }

    private func figure(_ key: String, _ variant: String, _ seed: UInt64) -> Double? {
        switch key {
        case "masking_tokens_per_s": return maskingThroughput[variant]?[seed]
        case "train_tokens_per_s": return adaptation[variant]?[seed]?.trainTokensPerSecond
        case "eval_token_loss": return evalPoint(variant, seed)?.loss["token"]
        case "eval_token_acc": return evalPoint(variant, seed)?.accuracy["token"]
        case "eval_whole_word_loss": return evalPoint(variant, seed)?.loss["whole_word"]
        case "eval_whole_word_acc": return evalPoint(variant, seed)?.accuracy["whole_word"]
        case "classify_accuracy": return classification[variant]?[seed]?.testAccuracy
        case "classify_macro_f1": return classification[variant]?[seed]?.testMacroF1
        case "ner_entity_f1": return ner[variant]?[seed]?.testEntityF1
        default: return nil
        }
    }

    // MARK: tables

    static let columns: [ReportColumn] = [
        ReportColumn(key: "masking_tokens_per_s", title: "masking M tok/s", digits: 1, scale: 1e-6),
        ReportColumn(key: "train_tokens_per_s", title: "train tok/s", digits: 0),
        ReportColumn(key: "eval_token_loss", title: "MLM loss (token eval)", digits: 3),
        ReportColumn(key: "eval_token_acc", title: "MLM acc % (token eval)", digits: 2, scale: 100),
        ReportColumn(key: "eval_whole_word_loss", title: "MLM loss (whole-word eval)", digits: 3),
        ReportColumn(key: "eval_whole_word_acc", title: "MLM acc % (whole-word eval)", digits: 2, scale: 100),
        ReportColumn(key: "classify_accuracy", title: "legal-category acc %", digits: 2, scale: 100),
        ReportColumn(key: "classify_macro_f1", title: "legal-category macro-F1 %", digits: 2, scale: 100),
        ReportColumn(key: "ner_entity_f1", title: "WNUT-16 entity F1 %", digits: 2, scale: 100),
    ]

    /// Columns that have at least one value (NER may be skipped, masking throughput may be absent).
    private var presentColumns: [ReportColumn] {
        Self.columns.filter { column in plan.variants.contains { !perSeed(column.key, $0).isEmpty } }
    }

    func mainTable() -> ReportTable {
        let rows = plan.variants.map { variant in
            ReportRow(
                label: variant == MaskingStrategiesPlan.baseVariant ? "base (not adapted)" : variant,
                values: Dictionary(uniqueKeysWithValues: Self.columns.compactMap { column in
                    MeanStd(Array(perSeed(column.key, variant).values)).map { (column.key, $0) }
                }))
        }
        return ReportTable(rowTitle: "variant", columns: presentColumns, rows: rows)
    }

    /// Per-seed differences between variants (b − a), which cancels what the two runs of a seed share.
    func pairedTable() -> ReportTable {
        let quality = presentColumns.filter { !$0.key.hasSuffix("tokens_per_s") }
        var pairs: [(String, String)] = []
        if plan.strategies.contains("token") {
            pairs += plan.strategies.filter { $0 != "token" }.map { ("token", $0) }
        }
        pairs += plan.strategies.map { (MaskingStrategiesPlan.baseVariant, $0) }
        let rows = pairs.map { a, b in
            ReportRow(label: "\(b) − \(a)", values: Dictionary(uniqueKeysWithValues: quality.compactMap { column in
                let differences = pairedDifferences(
                    Dictionary(uniqueKeysWithValues: perSeed(column.key, a).map { (Int($0.key), $0.value) }),
                    Dictionary(uniqueKeysWithValues: perSeed(column.key, b).map { (Int($0.key), $0.value) }))
                return MeanStd(differences).map { (column.key, $0) }
            }))
        }
        return ReportTable(rowTitle: "difference", columns: quality, rows: rows)
    }

    func csv() -> String { mainTable().csv() }
}
