import Foundation

extension MaskingStrategiesResults {
    // MARK: chart

    func lossCurves(scheme: String) -> [CurveSeries] {
        plan.strategies.enumerated().map { index, strategy in
            let runs = plan.seeds.compactMap { adaptation[strategy]?[$0] }
            let steps = Set(runs.flatMap { $0.evals.map(\.step) }).sorted()
            let points = steps.compactMap { step -> CurvePoint? in
                let values = runs.compactMap { run in run.evals.first { $0.step == step }?.loss[scheme] }
                return MeanStd(values).map { CurvePoint(x: Double(step), mean: $0.mean, std: $0.std) }
            }
            return CurveSeries(name: strategy, color: chartPalette[(index + 1) % chartPalette.count], points: points)
        }
    }

    /// Per step, the held-out loss of each strategy minus the token-masking run of the same seed (mean ± std
    /// over seeds), under both eval maskings: the curves' gaps, which the shared loss scale hides.
    func lossDifferenceCurves() -> [CurveSeries] {
        guard plan.strategies.contains("token") else { return [] }
        var series: [CurveSeries] = []
        for strategy in plan.strategies where strategy != "token" {
            for (scheme, label, dashed) in [("token", "token eval", false), ("whole_word", "whole-word eval", true)] {
                var byStep: [Int: [Double]] = [:]
                for seed in plan.seeds {
                    guard let run = adaptation[strategy]?[seed], let reference = adaptation["token"]?[seed] else { continue }
                    for point in run.evals {
                        if let value = point.loss[scheme],
                           let base = reference.evals.first(where: { $0.step == point.step })?.loss[scheme] {
                            byStep[point.step, default: []].append(value - base)
                        }
                    }
                }
                let points = byStep.keys.sorted().compactMap { step in
                    MeanStd(byStep[step] ?? []).map { CurvePoint(x: Double(step), mean: $0.mean, std: $0.std) }
                }
                let index = (plan.strategies.firstIndex(of: strategy) ?? 0) + 1
                series.append(CurveSeries(name: "\(strategy), \(label)", color: chartPalette[index % chartPalette.count],
                                          points: points, dashed: dashed))
            }
        }
        return series
    }

    func svg() -> String {
        let downstream = [("classify_accuracy", "legal acc"), ("classify_macro_f1", "legal macro-F1"),
                          ("ner_entity_f1", "WNUT-16 F1")].filter { key, _ in plan.variants.contains { !perSeed(key, $0).isEmpty } }
        let bars = plan.variants.enumerated().map { index, variant in
            BarSeries(name: variant == MaskingStrategiesPlan.baseVariant ? "base" : variant,
                      color: chartPalette[index % chartPalette.count],
                      values: downstream.map { key, _ in MeanStd(Array(perSeed(key, variant).values)) })
        }
        let document = SVGDocument(
            panels: [
                LineChart(title: "Held-out MLM loss, token eval masks", xLabel: "step", yLabel: "loss",
                          series: lossCurves(scheme: "token")),
                LineChart(title: "Held-out MLM loss, whole-word eval masks", xLabel: "step", yLabel: "loss",
                          series: lossCurves(scheme: "whole_word")),
                LineChart(title: "Loss minus the token run (same seed)", xLabel: "step", yLabel: "loss difference",
                          series: lossDifferenceCurves()),
                BarChart(title: "Downstream test scores", yLabel: "score", groups: downstream.map(\.1), series: bars),
            ],
            caption: "mean ± std over \(plan.seeds.count) seed(s); \(plan.steps) steps × \(plan.batchSize) × \(plan.maxSeqLength) tokens per run"
                + (plan.quick ? " (quick run)" : ""))
        return document.render()
    }

    // MARK: Markdown

    func markdown(context: ReportContext, svgName: String) -> String {
        let p = plan
        var lines = ["# Masking strategies for domain adaptation on legal text" + (p.quick ? " (quick run)" : ""), ""]
        lines += context.markdownHeader
        if let wall = context.wallSeconds {
            let parts = runSeconds.keys.sorted().map { "\($0) \(formatNumber(runSeconds[$0] ?? 0, digits: 0)) s" }
            lines.append("- Wall time: \(formatNumber(wall, digits: 0)) s (" + parts.joined(separator: ", ") + ")")
        }
        lines += ["", "## Setup", ""]
        lines.append("- Base model `\(p.initModel)`, corpus `\(p.corpus)`; strategies \(p.strategies.joined(separator: ", ")); "
            + "seeds \(p.seeds.map(String.init).joined(separator: ", ")).")
        lines.append("- Adaptation: \(p.steps) steps × \(p.batchSize) sequences × \(p.maxSeqLength) tokens = "
            + "\(formatNumber(Double(p.tokensPerRun), digits: 0)) tokens per run, "
            + (p.adaptExtra.isEmpty ? "the trainer's default optimiser settings. " : "the trainer's defaults and `\(p.adaptExtra.joined(separator: " "))`. ")
            + "One seed fixes the data order, the new MLM-head weights and dropout, so the strategies of a seed start from "
            + "the same weights and see the same batches; only the masks differ.")
        lines.append("- Held-out MLM: \(p.evalBatches) batches of the trainer's held-out split, masked once with token masking and "
            + "once with whole-word masking (15%) under a fixed seed, so every run is scored on the same masks; "
            + "evaluated every \(p.evalEvery) steps. The table shows the last evaluation. "
            + "The base row is the base model's evaluation at step 0 (a base without an MLM head, such as all-MiniLM-L6-v2, "
            + "starts from a freshly initialised transform, so its loss is high and the first steps mostly fit the head).")
        lines.append("- legal-category: `mlm-adapt classify`, \(p.classifyEpochs) epoch(s) at lr \(p.classifyLearningRate), "
            + (p.classifyTrainExamples.map { "\($0) train" } ?? "all train") + " / "
            + (p.classifyDevExamples.map { "\($0) dev" } ?? "all dev") + " / "
            + (p.classifyTestExamples.map { "\($0) test" } ?? "all test")
            + " examples (stratified seeded subsamples, the same for every run); test accuracy and macro-F1 at the dev "
            + "epoch with the best macro-F1.")
        if let ner = p.nerTask {
            lines.append("- `\(ner)`: `mlm-adapt ner`, \(p.nerEpochs) epoch(s) at lr \(p.nerLearningRate), "
                + (p.nerTrainExamples.map { "\($0) train sentences" } ?? "all train sentences")
                + ", full dev and test; test entity F1 (seqeval, micro).")
        }
        if p.nerTask == nil { lines.append("- WNUT-16 NER: not run (`--quick` skips it: short runs predict only O; `--include-ner` adds it).") }
        lines.append("- Masking throughput: each strategy masks the same pre-tokenized batches of the corpus "
            + "(best of three passes, one thread, per seed); training tokens/s is the trainer's own figure over its "
            + "training steps (evaluation and checkpoint time excluded).")
        lines += ["", "## Results (mean ± std over seeds)", "", mainTable().markdown()]
        lines += ["## Paired differences (per seed, then mean ± std)", "",
                  "Runs of one seed share initial weights and data order, so per-seed differences remove that noise. "
                  + "Loss: negative is better; accuracy and F1: positive is better.", "", pairedTable().markdown()]
        lines += ["![held-out loss curves and downstream scores](\(svgName))", ""]
        let missing = missingRuns()
        if !missing.isEmpty { lines += ["Missing runs (not in the work folder): " + missing.joined(separator: ", ") + ".", ""] }
        return lines.joined(separator: "\n")
    }

    func missingRuns() -> [String] {
        var missing: [String] = []
        for seed in plan.seeds {
            for strategy in plan.strategies where adaptation[strategy]?[seed] == nil { missing.append("seed \(seed) \(strategy) adapt") }
            for variant in plan.variants {
                if classification[variant]?[seed] == nil { missing.append("seed \(seed) \(variant) classify") }
                if plan.nerTask != nil && ner[variant]?[seed] == nil { missing.append("seed \(seed) \(variant) ner") }
            }
        }
        return missing
    }
}
