import Foundation
import Reporting

/// The runs of a study's work folder, read back; missing runs leave gaps.
struct AdaptationStudyResults {
    let plan: AdaptationStudyPlan
    /// Each variant's own adaptation run (the base's only when step 0 made it).
    let adaptation: [StudyVariant: AdaptationMetrics]
    /// `evaluate` of each variant: [variant: [corpus name: scores]]
    let mlm: [StudyVariant: [String: EvalPoint]]
    /// [task: [variant: [seed: scores]]]
    let scores: [StudyTask.ID: [StudyVariant: [UInt64: FineTuneScores]]]
    /// Wall seconds per run, keyed like `scores`, and per variant for the adaptation and MLM runs.
    let fineTuneSeconds: [StudyTask.ID: [StudyVariant: [UInt64: Double]]]
    let adaptSeconds: [StudyVariant: Double]
    let mlmSeconds: [StudyVariant: [String: Double]]
    /// The command each run recorded, in run order, with its folder relative to the work folder.
    let commands: [(folder: String, command: String)]

    static func load(plan: AdaptationStudyPlan, work: URL) throws -> AdaptationStudyResults {
        let fm = FileManager.default
        var adaptation: [StudyVariant: AdaptationMetrics] = [:]
        var mlm: [StudyVariant: [String: EvalPoint]] = [:]
        var scores: [StudyTask.ID: [StudyVariant: [UInt64: FineTuneScores]]] = [:]
        var fineTuneSeconds: [StudyTask.ID: [StudyVariant: [UInt64: Double]]] = [:]
        var adaptSeconds: [StudyVariant: Double] = [:]
        var mlmSeconds: [StudyVariant: [String: Double]] = [:]
        var commands: [(folder: String, command: String)] = []
        func recordCommand(_ folder: URL) {
            guard let text = try? String(contentsOf: folder.appendingPathComponent("command.txt"), encoding: .utf8) else { return }
            commands.append((String(folder.path.dropFirst(work.path.count + 1)), text.trimmingCharacters(in: .whitespacesAndNewlines)))
        }
        for variant in plan.variants {
            let folder = plan.adaptFolder(work, variant)
            // --base given: a step-0 run left in the folder belongs to another plan.
            if !(variant == .base && plan.givenBase != nil), MLMAdaptRuns.adaptFinished(folder, steps: plan.steps(of: variant)) {
                adaptation[variant] = try AdaptationMetrics.read(folder.appendingPathComponent("metrics.jsonl"))
                adaptSeconds[variant] = MLMAdaptRuns.wallSeconds(folder)
                recordCommand(folder)
            }
            for corpus in plan.mlmCorpora {
                let folder = plan.mlmFolder(work, variant, corpus: corpus.name)
                let file = folder.appendingPathComponent(AdaptationStudyRunner.evalFile)
                guard fm.fileExists(atPath: file.path) else { continue }
                mlm[variant, default: [:]][corpus.name] = try EvalPoint.readEvaluation(file)
                mlmSeconds[variant, default: [:]][corpus.name] = MLMAdaptRuns.wallSeconds(folder)
                recordCommand(folder)
            }
        }
        for (task, seed, variant) in plan.fineTuneOrder {
            let folder = plan.fineTuneFolder(work, variant, task.id, seed: seed)
            guard MLMAdaptRuns.hasReport(folder) else { continue }
            scores[task.id, default: [:]][variant, default: [:]][seed] = try FineTuneScores.read(folder.appendingPathComponent("report.json"))
            if let seconds = MLMAdaptRuns.wallSeconds(folder) { fineTuneSeconds[task.id, default: [:]][variant, default: [:]][seed] = seconds }
            recordCommand(folder)
        }
        return AdaptationStudyResults(
            plan: plan, adaptation: adaptation, mlm: mlm, scores: scores, fineTuneSeconds: fineTuneSeconds,
            adaptSeconds: adaptSeconds, mlmSeconds: mlmSeconds, commands: commands)
    }

    // MARK: figures

    /// A downstream figure: test accuracy or macro-F1 of a classify task, entity F1 of an ner task.
    enum Metric: String, CaseIterable, Sendable {
        case accuracy
        case macroF1 = "macro_f1"
        case entityF1 = "entity_f1"

        var title: String {
            switch self {
            case .accuracy: "acc"
            case .macroF1: "macro-F1"
            case .entityF1: "entity F1"
            }
        }

        func value(_ scores: FineTuneScores) -> Double? {
            switch self {
            case .accuracy: scores.testAccuracy
            case .macroF1: scores.testMacroF1
            case .entityF1: scores.testEntityF1
            }
        }
    }

    static func metrics(of task: StudyTask) -> [Metric] { task.kind == .classify ? [.accuracy, .macroF1] : [.entityF1] }

    /// The figure the goals are stated in: macro-F1 for classification, entity F1 for NER.
    static func headline(of task: StudyTask) -> Metric { task.kind == .classify ? .macroF1 : .entityF1 }

    /// Per seed, the test figure of the variant on the task.
    func perSeed(_ task: StudyTask.ID, _ metric: Metric, _ variant: StudyVariant) -> [Int: Double] {
        var values: [Int: Double] = [:]
        for (seed, run) in scores[task]?[variant] ?? [:] {
            if let value = metric.value(run) { values[Int(seed)] = value }
        }
        return values
    }

    func summary(_ task: StudyTask.ID, _ metric: Metric, _ variant: StudyVariant) -> MeanStd? {
        MeanStd(Array(perSeed(task, metric, variant).values))
    }

    /// The comparisons the goals ask about, each `b − a` per seed.
    var comparisons: [(a: StudyVariant, b: StudyVariant)] {
        [StudyVariant.dapt, .control, .tapt, .daptTapt].map { (StudyVariant.base, $0) } + [(.control, .dapt)]
    }

    func paired(_ task: StudyTask.ID, _ metric: Metric, _ a: StudyVariant, _ b: StudyVariant) -> PairedSummary? {
        PairedSummary(perSeed(task, metric, a), perSeed(task, metric, b))
    }

    /// Tokens the variant's adaptation saw beyond the base: its own run plus its parents' (not the base's).
    /// nil while one of those runs is missing.
    func tokensBeyondBase(_ variant: StudyVariant) -> Int? {
        guard variant != .base else { return 0 }
        guard let own = adaptation[variant]?.trainTokens else { return nil }
        guard let parent = plan.parent(of: variant), parent != .base else { return own }
        return tokensBeyondBase(parent).map { $0 + own }
    }

    // MARK: tables

    func columnKey(_ task: StudyTask.ID, _ metric: Metric) -> String { "\(task.rawValue)_\(metric.rawValue)" }

    func scoreTable() -> ReportTable {
        let columns = plan.tasks.flatMap { task in
            Self.metrics(of: task).map { ReportColumn(key: columnKey(task.id, $0), title: "\(task.id.rawValue) \($0.title) %", digits: 2, scale: 100) }
        }
        let rows = plan.variants.map { variant in
            var values: [String: MeanStd] = [:]
            for task in plan.tasks {
                for metric in Self.metrics(of: task) { values[columnKey(task.id, metric)] = summary(task.id, metric, variant) }
            }
            return ReportRow(label: variant.rawValue, values: values)
        }
        return ReportTable(rowTitle: "variant", columns: columns, rows: rows)
    }

    /// Rows: the comparisons; columns: every task figure; cells "+1.23 ± 0.45 (2/3 > 0)" in points.
    func pairedMarkdown() -> String {
        let columns = plan.tasks.flatMap { task in Self.metrics(of: task).map { (task.id, $0) } }
        return markdownTable(
            header: ["difference (points)"] + columns.map { "\($0.0.rawValue) \($0.1.title)" },
            rows: comparisons.map { a, b in
                ["\(b.rawValue) − \(a.rawValue)"] + columns.map { task, metric in
                    paired(task, metric, a, b)?.formatted(digits: 2, scale: 100) ?? "–"
                }
            })
    }

    func mlmMarkdown() -> String {
        let columns = plan.mlmCorpora.flatMap { corpus in AdaptationMetrics.evalSchemes.map { (corpus.name, $0) } }
        let header = ["variant"] + columns.flatMap { corpus, scheme in
            ["\(corpus) loss (\(scheme.replacingOccurrences(of: "_", with: "-")))", "\(corpus) acc % (\(scheme.replacingOccurrences(of: "_", with: "-")))"]
        }
        return markdownTable(header: header, rows: plan.variants.map { variant in
            [variant.rawValue] + columns.flatMap { corpus, scheme in
                let scores = mlm[variant]?[corpus]
                return [scores?.loss[scheme].map { formatNumber($0, digits: 3) } ?? "–",
                        scores?.accuracy[scheme].map { formatNumber(100 * $0, digits: 2) } ?? "–"]
            }
        })
    }

    func adaptationMarkdown() -> String {
        markdownTable(
            header: ["variant", "corpus", "steps", "tokens (own run)", "tokens beyond the base", "wall s"],
            rows: plan.variants.map { variant in
                let own = adaptation[variant]
                let given = variant == .base && plan.givenBase != nil
                return [variant.rawValue, given ? "(given: \(plan.givenBase ?? ""))" : plan.corpus(of: variant),
                        own.map { String($0.trainSteps) } ?? "–", own.map { formatNumber(Double($0.trainTokens), digits: 0) } ?? "–",
                        tokensBeyondBase(variant).map { formatNumber(Double($0), digits: 0) } ?? "–",
                        adaptSeconds[variant].map { formatNumber($0, digits: 0) } ?? "–"]
            })
    }

    /// Mean ± std wall seconds of the fine-tuning runs per task and variant, and the MLM evaluations.
    func wallMarkdown() -> String {
        markdownTable(
            header: ["variant"] + plan.mlmCorpora.map { "mlm \($0.name) s" } + plan.tasks.map { "\($0.id.rawValue) s per run" },
            rows: plan.variants.map { variant in
                [variant.rawValue] + plan.mlmCorpora.map { corpus in
                    mlmSeconds[variant]?[corpus.name].map { formatNumber($0, digits: 0) } ?? "–"
                } + plan.tasks.map { task in
                    MeanStd(Array((fineTuneSeconds[task.id]?[variant] ?? [:]).values))?.formatted(digits: 0) ?? "–"
                }
            })
    }

    /// What the finished runs cost, summed over sittings from each run's own wall time: the study's price
    /// on this machine, whatever the sittings it was split into.
    func computeTimeLine() -> String {
        let adapt = adaptSeconds.values.reduce(0, +)
        let heldOut = mlmSeconds.values.flatMap(\.values).reduce(0, +)
        let perTask = plan.tasks.map { task in
            (task.id.rawValue, (fineTuneSeconds[task.id] ?? [:]).values.flatMap(\.values).reduce(0, +))
        }
        let total = adapt + heldOut + perTask.map(\.1).reduce(0, +)
        return "Compute time of the finished runs (each run's own wall time, summed over sittings): \(formatDuration(total)); "
            + "adaptation \(formatDuration(adapt)), held-out MLM \(formatDuration(heldOut)), "
            + perTask.map { "\($0.0) \(formatDuration($0.1))" }.joined(separator: ", ")
    }

    /// Runs of the plan not in the work folder, in the order they would run.
    func missingRuns() -> [String] {
        var missing: [String] = []
        for variant in plan.variants {
            if !(variant == .base && plan.givenBase != nil), adaptation[variant] == nil { missing.append("\(variant.rawValue) adapt") }
            for corpus in plan.mlmCorpora where mlm[variant]?[corpus.name] == nil { missing.append("\(variant.rawValue) mlm \(corpus.name)") }
        }
        for (task, seed, variant) in plan.fineTuneOrder where scores[task.id]?[variant]?[seed] == nil {
            missing.append("\(task.id.rawValue) seed \(seed) \(variant.rawValue)")
        }
        return missing
    }

    var totalRuns: Int { plan.variants.count * (1 + plan.mlmCorpora.count) - (plan.givenBase == nil ? 0 : 1) + plan.fineTuneOrder.count }

    // MARK: CSV

    /// Long format, one figure a line: `table,row,task,metric,n,mean,std,positive`.
    func csv() -> String {
        var lines = ["table,row,task,metric,n,mean,std,positive"]
        func add(_ table: String, _ row: String, _ task: String, _ metric: String, _ n: Int, _ mean: Double, _ std: Double?, _ positive: Int? = nil) {
            lines.append([table, row, task, metric, String(n), csvNumber(mean), std.map(csvNumber) ?? "", positive.map(String.init) ?? ""]
                .map(csvField).joined(separator: ","))
        }
        for task in plan.tasks {
            for metric in Self.metrics(of: task) {
                for variant in plan.variants {
                    if let value = summary(task.id, metric, variant) {
                        add("scores", variant.rawValue, task.id.rawValue, metric.rawValue, value.count, value.mean, value.std)
                    }
                }
                for (a, b) in comparisons {
                    if let value = paired(task.id, metric, a, b) {
                        add("paired", "\(b.rawValue) - \(a.rawValue)", task.id.rawValue, metric.rawValue, value.differences.count,
                            value.differences.mean, value.differences.std, value.positive)
                    }
                }
            }
        }
        for variant in plan.variants {
            for corpus in plan.mlmCorpora {
                guard let scores = mlm[variant]?[corpus.name] else { continue }
                for scheme in AdaptationMetrics.evalSchemes {
                    if let loss = scores.loss[scheme] { add("mlm", variant.rawValue, corpus.name, "\(scheme)_loss", 1, loss, nil) }
                    if let accuracy = scores.accuracy[scheme] { add("mlm", variant.rawValue, corpus.name, "\(scheme)_acc", 1, accuracy, nil) }
                }
            }
            if let own = adaptation[variant] { add("tokens", variant.rawValue, "", "own_run", 1, Double(own.trainTokens), nil) }
            if let tokens = tokensBeyondBase(variant) { add("tokens", variant.rawValue, "", "beyond_base", 1, Double(tokens), nil) }
            if let seconds = adaptSeconds[variant] { add("wall_seconds", variant.rawValue, "adapt", "seconds", 1, seconds, nil) }
            for task in plan.tasks {
                if let seconds = MeanStd(Array((fineTuneSeconds[task.id]?[variant] ?? [:]).values)) {
                    add("wall_seconds", variant.rawValue, task.id.rawValue, "seconds", seconds.count, seconds.mean, seconds.std)
                }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
