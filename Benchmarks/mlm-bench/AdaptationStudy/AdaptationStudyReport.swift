import Foundation

extension AdaptationStudyResults {
    // MARK: chart

    func svg() -> String {
        let colors = Dictionary(uniqueKeysWithValues: plan.variants.enumerated().map { ($1, chartPalette[$0 % chartPalette.count]) })
        let downstream = BarChart(
            title: "Test macro-F1 (WNUT-16: entity F1)", yLabel: "score",
            groups: plan.tasks.map(\.id.rawValue),
            series: plan.variants.map { variant in
                BarSeries(name: variant.rawValue, color: colors[variant] ?? "#000000",
                          values: plan.tasks.map { summary($0.id, Self.headline(of: $0), variant) })
            })
        let heldOut = BarChart(
            title: "Held-out MLM loss (whole-word eval)", yLabel: "loss",
            groups: plan.mlmCorpora.map(\.name),
            series: plan.variants.map { variant in
                BarSeries(name: variant.rawValue, color: colors[variant] ?? "#000000", values: plan.mlmCorpora.map { corpus in
                    mlm[variant]?[corpus.name]?.loss["whole_word"].flatMap { MeanStd([$0]) }
                })
            })
        let document = SVGDocument(
            panels: [downstream, heldOut], panelWidth: 520,
            caption: "mean ± std over \(plan.seeds.count) paired seed(s), recipe \(plan.recipeName)" + (plan.quick ? " (quick run)" : ""))
        return document.render()
    }

    // MARK: Markdown

    func markdown(context: ReportContext, svgName: String) -> String {
        let p = plan
        var lines = ["# Adaptation study: general base, DAPT, general-text control, TAPT, DAPT+TAPT" + (p.quick ? " (quick run)" : ""), ""]
        lines += context.markdownHeader
        if let wall = context.wallSeconds { lines.append("- Wall time of the last sitting: \(formatNumber(wall, digits: 0)) s") }
        lines.append("- " + computeTimeLine())
        let missing = missingRuns()
        lines.append("- Runs finished: \(totalRuns - missing.count) of \(totalRuns)"
            + (missing.isEmpty ? "" : " (partial results: missing cells show –)"))

        lines += ["", "## Setup", ""]
        for variant in p.variants { lines.append("- `\(variant.rawValue)`: \(variant.summary).") }
        lines.append("- Adaptation (seed \(AdaptationStudyPlan.adaptSeed), recipe `\(p.recipeName)`): \(p.mask) masking, "
            + "\(p.batchSize) × \(p.maxSeqLength) tokens per step; base \(p.givenBase.map { "given: `\($0)`" } ?? "\(p.baseSteps) head-only steps"), "
            + "DAPT and control \(p.daptSteps) steps, TAPT \(p.taptSteps) steps"
            + (p.useRecipes ? ", from `--recipe dapt` (dapt, control) and `--recipe tapt` (tapt, dapt+tapt)" : "")
            + (p.adaptLearningRate.map { ", lr \($0)" } ?? "") + (p.adaptExtra.isEmpty ? "" : ", `\(p.adaptExtra.joined(separator: " "))`") + ".")
        lines.append("- Held-out MLM: `mlm-adapt evaluate` on the \(AdaptationStudyPlan.mlmValidationSplit) held-out split of each corpus, "
            + "\(p.mlmEvalBatches) batches, fixed \(AdaptationStudyPlan.mlmEvalMasks) eval masks: every variant is scored on the same masked tokens.")
        for task in p.tasks {
            lines.append("- `\(task.id.rawValue)` (`\(task.source)`): `mlm-adapt \(task.kind.rawValue)`, "
                + (task.trainExamples.map { "\($0) train examples (a random subset per seed, drawn by `--max-train-examples`: the same for every variant of a seed)" } ?? "all train examples")
                + ", \(task.epochs) epoch(s) at lr \(task.learningRate), max-seq-length \(task.maxSeqLength), "
                + (p.maxValidationExamples.map { "dev capped at \($0)" } ?? "whole dev") + ", whole test set.")
        }
        lines.append("- Seeds \(p.seeds.map(String.init).joined(separator: ", ")), paired: every variant is fine-tuned with the same seeds, "
            + "so per-seed differences cancel the initialisation and data order the runs share.")

        lines += ["", "## Downstream test scores (mean ± std over seeds)", "", scoreTable().markdown()]
        lines += ["## Paired differences (per seed, then mean ± std; how many seeds are positive)", "", pairedMarkdown()]
        lines += ["![downstream scores and held-out MLM loss](\(svgName))", ""]
        lines += ["## Held-out MLM", "", mlmMarkdown()]
        lines += ["## Adaptation runs: tokens seen and wall time", "", adaptationMarkdown()]
        lines += ["## Wall time of the evaluation and fine-tuning runs", "", wallMarkdown()]
        lines += ["## Commands", "", "Each run's exact command, as its folder's command.txt records it (fine-tuning: the first seed "
                  + "of each task and variant; the others differ in `--seed` and `--output-dir`).", "", "```"]
        for (folder, command) in commands where !folder.contains("/seed-") || folder.hasSuffix("/seed-\(p.seeds.first ?? 0)") {
            lines.append(command)
        }
        lines += ["```", ""]
        if !missing.isEmpty { lines += ["Missing runs (not in the work folder): " + missing.joined(separator: ", ") + ".", ""] }
        return lines.joined(separator: "\n")
    }
}
