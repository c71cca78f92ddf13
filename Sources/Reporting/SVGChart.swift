import Foundation

/// A line chart as inline SVG: numeric x and y axes with round ticks, one polyline per series. Colours
/// tell runs apart, dash patterns tell the curves of one run apart (e.g. token vs whole-word eval).
struct SVGChart {
    struct Line {
        var label: String
        var colour: Int
        var dash: Int
        var points: [RunHistory.Point]
    }

    var title: String
    var xLabel: String
    var lines: [Line]
    /// Dash-pattern legend: (dash index, what it means); shown when a chart mixes patterns.
    var styles: [(dash: Int, label: String)] = []
    var width = 560.0
    var height = 300.0

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
    static let dashes = ["", "6 4", "2 3", "10 3 2 3"]

    static func colour(_ index: Int) -> String { palette[index % palette.count] }

    var svg: String {
        let left = 64.0, right = 16.0, top = 30.0, bottom = 42.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let all = lines.flatMap(\.points)
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(n(width)) \(n(height))\" "
            + "width=\"\(n(width))\" height=\"\(n(height))\" role=\"img\" aria-label=\"\(escape(title))\">"
        out += "<rect x=\"0\" y=\"0\" width=\"\(n(width))\" height=\"\(n(height))\" fill=\"#ffffff\"/>"
        out += "<text x=\"\(n(left))\" y=\"18\" class=\"title\">\(escape(title))</text>"
        guard let xMin = all.map(\.x).min(), let xMax = all.map(\.x).max(),
              let yMin = all.map(\.y).min(), let yMax = all.map(\.y).max() else {
            return out + "<text x=\"\(n(width / 2))\" y=\"\(n(height / 2))\" text-anchor=\"middle\">no data</text></svg>"
        }
        let xTicks = Self.ticks(xMin, xMax), yTicks = Self.ticks(yMin, yMax)
        let x0 = min(xMin, xTicks.first!), x1 = max(xMax, xTicks.last!)
        let y0 = min(yMin, yTicks.first!), y1 = max(yMax, yTicks.last!)
        func px(_ x: Double) -> Double { left + (x1 > x0 ? (x - x0) / (x1 - x0) : 0.5) * plotWidth }
        func py(_ y: Double) -> Double { top + plotHeight - (y1 > y0 ? (y - y0) / (y1 - y0) : 0.5) * plotHeight }

        out += "<g class=\"grid\">"
        for t in yTicks {
            out += "<line x1=\"\(n(left))\" x2=\"\(n(left + plotWidth))\" y1=\"\(n(py(t)))\" y2=\"\(n(py(t)))\"/>"
        }
        out += "</g><g class=\"axis\">"
        out += "<line x1=\"\(n(left))\" x2=\"\(n(left))\" y1=\"\(n(top))\" y2=\"\(n(top + plotHeight))\"/>"
        out += "<line x1=\"\(n(left))\" x2=\"\(n(left + plotWidth))\" y1=\"\(n(top + plotHeight))\" y2=\"\(n(top + plotHeight))\"/>"
        for t in yTicks {
            out += "<text x=\"\(n(left - 6))\" y=\"\(n(py(t) + 4))\" text-anchor=\"end\">\(Self.label(t))</text>"
        }
        for t in xTicks {
            out += "<line x1=\"\(n(px(t)))\" x2=\"\(n(px(t)))\" y1=\"\(n(top + plotHeight))\" y2=\"\(n(top + plotHeight + 4))\"/>"
            out += "<text x=\"\(n(px(t)))\" y=\"\(n(top + plotHeight + 17))\" text-anchor=\"middle\">\(Self.label(t))</text>"
        }
        out += "<text x=\"\(n(left + plotWidth / 2))\" y=\"\(n(height - 6))\" text-anchor=\"middle\">\(escape(xLabel))</text>"
        out += "</g>"
        for line in lines where !line.points.isEmpty {
            let colour = Self.colour(line.colour)
            let dash = Self.dashes[line.dash % Self.dashes.count]
            out += "<g><title>\(escape(line.label))</title>"
            if line.points.count == 1 {
                let p = line.points[0]
                out += "<circle cx=\"\(n(px(p.x)))\" cy=\"\(n(py(p.y)))\" r=\"3\" fill=\"\(colour)\"/>"
            } else {
                let points = line.points.map { "\(n(px($0.x))),\(n(py($0.y)))" }.joined(separator: " ")
                out += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.6\""
                    + (dash.isEmpty ? "" : " stroke-dasharray=\"\(dash)\"") + " points=\"\(points)\"/>"
                if line.points.count <= 40 {
                    for p in line.points { out += "<circle cx=\"\(n(px(p.x)))\" cy=\"\(n(py(p.y)))\" r=\"2.2\" fill=\"\(colour)\"/>" }
                }
            }
            out += "</g>"
        }
        // Style legend at the top right: which dash pattern is which curve.
        var legendX = width - right
        for style in styles.reversed() {
            let textWidth = Double(style.label.count) * 6.5
            legendX -= textWidth + 30
            let dash = Self.dashes[style.dash % Self.dashes.count]
            out += "<line x1=\"\(n(legendX))\" x2=\"\(n(legendX + 22))\" y1=\"14\" y2=\"14\" stroke=\"#333\" stroke-width=\"1.6\""
                + (dash.isEmpty ? "" : " stroke-dasharray=\"\(dash)\"") + "/>"
            out += "<text x=\"\(n(legendX + 26))\" y=\"18\" class=\"legend\">\(escape(style.label))</text>"
        }
        return out + "</svg>"
    }

    /// About five round tick values covering [low, high].
    static func ticks(_ low: Double, _ high: Double) -> [Double] {
        guard high > low else { return [low] }
        let raw = (high - low) / 5
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        let first = (low / step).rounded(.down) * step
        var values: [Double] = []
        var t = first
        while t <= high + step * 1e-9 {
            values.append(abs(t) < step * 1e-9 ? 0 : t)
            t += step
        }
        if let last = values.last, last < high { values.append(last + step) }
        return values
    }

    static func label(_ value: Double) -> String {
        let magnitude = abs(value)
        if magnitude == 0 { return "0" }
        if magnitude >= 1e5 || magnitude < 1e-3 { return String(format: "%.1e", value) }
        if magnitude >= 100 { return String(format: "%.0f", value) }
        var text = String(format: "%.4f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }

    func n(_ value: Double) -> String { String(format: "%.1f", value) }
}

/// Text for HTML and SVG: `& < > "` escaped.
public func escape(_ text: String) -> String {
    var out = ""
    for character in text {
        switch character {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        default: out.append(character)
        }
    }
    return out
}
