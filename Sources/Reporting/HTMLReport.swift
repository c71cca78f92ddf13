import Foundation

/// One self-contained HTML page (inline CSS and SVG, no script, nothing fetched) charting one or more runs.
/// Several runs overlay in the same charts, one colour each, named in the legend.
public enum HTMLReport {
    struct ChartSpec {
        var title: String
        /// (series key, curve label) pairs; several pairs get distinct dash patterns.
        var curves: [(key: String, label: String)]
    }

    static func adaptationCharts(schemes: [String]) -> [ChartSpec] {
        func schemeLabel(_ scheme: String) -> String { scheme.replacingOccurrences(of: "_", with: "-") + " masking" }
        return [
            ChartSpec(title: "Train loss", curves: [(RunHistory.Key.train("loss"), "train loss")]),
            ChartSpec(title: "Learning rate", curves: [(RunHistory.Key.train("lr"), "lr")]),
            ChartSpec(title: "Gradient norm (before clipping)", curves: [(RunHistory.Key.train("grad_norm"), "grad norm")]),
            ChartSpec(title: "Throughput (tokens/s)", curves: [(RunHistory.Key.train("tokens_per_s"), "tokens/s")]),
            ChartSpec(title: "Held-out MLM loss",
                      curves: schemes.map { (RunHistory.Key.eval($0, "loss"), schemeLabel($0)) }),
            ChartSpec(title: "Held-out MLM accuracy",
                      curves: schemes.map { (RunHistory.Key.eval($0, "acc"), schemeLabel($0)) }),
        ]
    }

    static let epochCharts = [
        ChartSpec(title: "Loss per epoch", curves: [
            (RunHistory.Key.epoch("train_loss"), "train"), (RunHistory.Key.epoch("dev_loss"), "dev"),
        ]),
        ChartSpec(title: "Dev score per epoch", curves: [
            (RunHistory.Key.epoch("dev_accuracy"), "accuracy"), (RunHistory.Key.epoch("dev_macro_f1"), "macro-F1"),
            (RunHistory.Key.epoch("dev_entity_f1"), "entity F1"),
        ]),
    ]

    public static func page(runs: [RunHistory], title: String? = nil) -> String {
        let heading = title ?? (runs.count == 1 ? "Run \(runs[0].name)" : "\(runs.count) runs compared")
        var html = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <title>mlm-adapt: \(escape(heading))</title>
            <style>
            body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; background: #fff; }
            h1 { font-size: 20px; margin: 0 0 12px; } h2 { font-size: 16px; margin: 24px 0 8px; }
            table { border-collapse: collapse; margin: 8px 0 16px; } td, th { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
            th { background: #f4f4f4; } .swatch { display: inline-block; width: 12px; height: 12px; margin-right: 6px; border-radius: 2px; vertical-align: -1px; }
            .legend span.run { margin-right: 18px; white-space: nowrap; } .charts { display: flex; flex-wrap: wrap; gap: 12px; }
            svg { border: 1px solid #e4e4e4; background: #fff; } svg text { font: 11px system-ui, sans-serif; fill: #333; }
            svg text.title { font-size: 13px; font-weight: 600; } svg .grid line { stroke: #eee; } svg .axis line { stroke: #888; }
            .figures { font-family: ui-monospace, monospace; font-size: 12px; } .path { color: #666; font-size: 12px; }
            </style></head><body>
            <h1>\(escape(heading))</h1>

            """
        html += "<div class=\"legend\">"
        for (index, run) in runs.enumerated() {
            html += "<span class=\"run\"><span class=\"swatch\" style=\"background:\(SVGChart.colour(index))\"></span>\(escape(run.name))</span>"
        }
        html += "</div>\n" + runTable(runs)

        let stepRuns = runs.enumerated().filter { $0.element.axis == .step }
        let epochRuns = runs.enumerated().filter { $0.element.axis == .epoch }
        if !stepRuns.isEmpty {
            var schemes: [String] = []
            for (_, run) in stepRuns { for s in run.evalSchemes where !schemes.contains(s) { schemes.append(s) } }
            html += "<h2>Adaptation (by optimizer step)</h2>\n"
                + charts(adaptationCharts(schemes: schemes), runs: stepRuns, xLabel: "step")
        }
        if !epochRuns.isEmpty {
            html += "<h2>Fine-tuning (by epoch)</h2>\n" + charts(epochCharts, runs: epochRuns, xLabel: "epoch")
        }
        return html + "</body></html>\n"
    }

    static func charts(_ specs: [ChartSpec], runs: [(offset: Int, element: RunHistory)], xLabel: String) -> String {
        var out = "<div class=\"charts\">\n"
        for spec in specs {
            var lines: [SVGChart.Line] = []
            var used: [(dash: Int, label: String)] = []
            for (dash, curve) in spec.curves.enumerated() {
                var any = false
                for (index, run) in runs {
                    guard let points = run.series[curve.key], !points.isEmpty else { continue }
                    any = true
                    lines.append(SVGChart.Line(label: "\(run.name): \(curve.label)", colour: index, dash: dash, points: points))
                }
                if any { used.append((dash, curve.label)) }
            }
            guard !lines.isEmpty else { continue }
            let chart = SVGChart(title: spec.title, xLabel: xLabel, lines: lines, styles: used.count > 1 ? used : [])
            out += chart.svg + "\n"
        }
        return out + "</div>\n"
    }

    static func runTable(_ runs: [RunHistory]) -> String {
        var out = "<table><tr><th>run</th><th>command</th><th>done</th><th>best</th><th>final figures</th><th>time</th></tr>\n"
        for (index, run) in runs.enumerated() {
            let s = run.summary
            let unit = run.axis == .step ? "steps" : "epochs"
            let done = s.map { "\($0.completed) of \($0.planned) \(unit)" + ($0.stoppedEarly ? " (stopped early)" : "") } ?? "—"
            let best = s?.best.map { b in
                "\(b.metric) \(SVGChart.label(b.value))" + (b.step.map { " at step \($0)" } ?? "") + (b.epoch.map { " at epoch \($0)" } ?? "")
            } ?? "—"
            let figures = (s?.final ?? [:]).sorted { $0.key < $1.key }
                .map { "\(escape($0.key)) \(SVGChart.label($0.value))" }.joined(separator: "<br>")
            out += "<tr><td><span class=\"swatch\" style=\"background:\(SVGChart.colour(index))\"></span>\(escape(run.name))"
                + "<div class=\"path\">\(escape(run.folder.path))</div></td><td>\(escape(s?.command ?? "—"))</td>"
                + "<td>\(escape(done))</td><td>\(escape(best))</td><td class=\"figures\">\(figures.isEmpty ? "—" : figures)</td>"
                + "<td>\(s.map { String(format: "%.0f s", $0.seconds) } ?? "—")</td></tr>\n"
        }
        return out + "</table>\n"
    }
}
