import Foundation
import Reporting

// Hand-written SVG charts (no dependencies): line charts of mean ± std curves and grouped bar
// charts with ± std whiskers, laid out side by side in one file.

/// Colours that stay distinct in print and for common colour-vision deficiencies (Okabe–Ito).
let chartPalette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]

/// One point of a curve: x, and the mean and std over seeds of y.
struct CurvePoint: Equatable, Sendable {
    let x: Double
    let mean: Double
    let std: Double
}

struct CurveSeries: Sendable {
    let name: String
    let color: String
    let points: [CurvePoint]
    var dashed = false
}

struct BarSeries: Sendable {
    let name: String
    let color: String
    /// One value per group; nil leaves a gap.
    let values: [MeanStd?]
}

/// A chart that can draw itself into a `width` × `height` box whose top-left corner is the origin.
protocol SVGPanel {
    func render(width: Double, height: Double) -> String
}

/// Plot-area margins shared by the charts: room for the title, tick labels and axis titles.
private let marginLeft = 62.0, marginRight = 14.0, marginTop = 34.0, marginBottom = 74.0

struct LineChart: SVGPanel {
    let title: String
    let xLabel: String
    let yLabel: String
    let series: [CurveSeries]

    func render(width: Double, height: Double) -> String {
        let points = series.flatMap(\.points).filter { $0.mean.isFinite }
        guard !points.isEmpty else { return emptyPanel(title: title, width: width, height: height) }
        let xs = points.map(\.x)
        let lows = points.map { $0.mean - ($0.std.isFinite ? $0.std : 0) }
        let highs = points.map { $0.mean + ($0.std.isFinite ? $0.std : 0) }
        let xTicks = niceTicks(lower: xs.min() ?? 0, upper: xs.max() ?? 1, approximateCount: 5)
        let yTicks = niceTicks(lower: lows.min() ?? 0, upper: highs.max() ?? 1, approximateCount: 5)
        let frame = PlotFrame(width: width, height: height, xRange: xTicks.range, yRange: yTicks.range)
        var out = frame.axes(title: title, xLabel: xLabel, yLabel: yLabel, xTicks: xTicks, yTicks: yTicks)
        for curve in series {
            let valid = curve.points.filter { $0.mean.isFinite }.sorted { $0.x < $1.x }
            guard !valid.isEmpty else { continue }
            // The ± std band: upper edge left to right, lower edge back.
            let upper = valid.map { frame.point($0.x, $0.mean + $0.std) }
            let lower = valid.reversed().map { frame.point($0.x, $0.mean - $0.std) }
            if valid.contains(where: { $0.std > 0 }) {
                out += "<polygon points=\"\((upper + lower).joined(separator: " "))\" fill=\"\(curve.color)\" fill-opacity=\"0.15\" stroke=\"none\"/>\n"
            }
            let line = valid.map { frame.point($0.x, $0.mean) }.joined(separator: " ")
            out += "<polyline points=\"\(line)\" fill=\"none\" stroke=\"\(curve.color)\" stroke-width=\"2\""
                + (curve.dashed ? " stroke-dasharray=\"6 4\"" : "") + "/>\n"
            for point in valid {
                let (x, y) = (frame.x(point.x), frame.y(point.mean))
                out += "<circle cx=\"\(svgNumber(x))\" cy=\"\(svgNumber(y))\" r=\"2.5\" fill=\"\(curve.color)\">"
                    + "<title>\(escape(curve.name)) step \(svgNumber(point.x)): \(String(format: "%.4f", point.mean)) ± \(String(format: "%.4f", point.std))</title></circle>\n"
            }
        }
        out += legend(series.map { ($0.name, $0.color, $0.dashed) }, width: width, height: height)
        return out
    }
}

struct BarChart: SVGPanel {
    let title: String
    let yLabel: String
    let groups: [String]
    let series: [BarSeries]

    func render(width: Double, height: Double) -> String {
        let highs = series.flatMap { $0.values.compactMap { $0.map { $0.mean + $0.std } } }
        guard !highs.isEmpty, !groups.isEmpty else { return emptyPanel(title: title, width: width, height: height) }
        // Bars start at zero so their lengths compare honestly.
        let yTicks = niceTicks(lower: 0, upper: max(highs.max() ?? 1, 1e-9), approximateCount: 5)
        let frame = PlotFrame(width: width, height: height, xRange: 0...Double(groups.count), yRange: yTicks.range)
        var out = frame.axes(title: title, xLabel: nil, yLabel: yLabel, xTicks: nil, yTicks: yTicks)
        let groupWidth = frame.plotWidth / Double(groups.count)
        let barWidth = groupWidth * 0.8 / Double(max(series.count, 1))
        for (groupIndex, group) in groups.enumerated() {
            let groupLeft = marginLeft + Double(groupIndex) * groupWidth
            out += "<text x=\"\(svgNumber(groupLeft + groupWidth / 2))\" y=\"\(svgNumber(frame.plotBottom + 16))\" text-anchor=\"middle\" font-size=\"11\">\(escape(group))</text>\n"
            for (seriesIndex, bars) in series.enumerated() {
                guard groupIndex < bars.values.count, let value = bars.values[groupIndex] else { continue }
                let left = groupLeft + groupWidth * 0.1 + Double(seriesIndex) * barWidth
                let top = frame.y(value.mean)
                out += "<rect x=\"\(svgNumber(left))\" y=\"\(svgNumber(top))\" width=\"\(svgNumber(barWidth * 0.9))\" height=\"\(svgNumber(max(0, frame.plotBottom - top)))\" fill=\"\(bars.color)\">"
                    + "<title>\(escape(bars.name)), \(escape(group)): \(String(format: "%.4f", value.mean)) ± \(String(format: "%.4f", value.std)) (n=\(value.count))</title></rect>\n"
                if value.std > 0 {
                    let center = left + barWidth * 0.45
                    let (y1, y2) = (frame.y(value.mean - value.std), frame.y(value.mean + value.std))
                    out += "<path d=\"M\(svgNumber(center)) \(svgNumber(y1))V\(svgNumber(y2))M\(svgNumber(center - 3)) \(svgNumber(y1))h6M\(svgNumber(center - 3)) \(svgNumber(y2))h6\" stroke=\"#222\" stroke-width=\"1\" fill=\"none\"/>\n"
                }
            }
        }
        out += legend(series.map { ($0.name, $0.color, false) }, width: width, height: height)
        return out
    }
}

/// Panels side by side in one SVG document.
struct SVGDocument {
    let panels: [any SVGPanel]
    var panelWidth = 420.0
    var panelHeight = 340.0
    var caption: String?

    func render() -> String {
        let captionHeight = caption == nil ? 0.0 : 22.0
        let width = panelWidth * Double(panels.count)
        let height = panelHeight + captionHeight
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(svgNumber(width))\" height=\"\(svgNumber(height))\" "
            + "viewBox=\"0 0 \(svgNumber(width)) \(svgNumber(height))\" font-family=\"Helvetica, Arial, sans-serif\">\n"
        out += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        for (index, panel) in panels.enumerated() {
            out += "<g transform=\"translate(\(svgNumber(Double(index) * panelWidth)),0)\">\n"
            out += panel.render(width: panelWidth, height: panelHeight)
            out += "</g>\n"
        }
        if let caption {
            out += "<text x=\"8\" y=\"\(svgNumber(panelHeight + 15))\" font-size=\"11\" fill=\"#444\">\(escape(caption))</text>\n"
        }
        return out + "</svg>\n"
    }
}

/// Evenly spaced "nice" tick values (1, 2 or 5 × 10^k apart) covering lower...upper.
struct Ticks: Equatable {
    let values: [Double]
    var range: ClosedRange<Double> { (values.first ?? 0)...(values.last ?? 1) }
}

func niceTicks(lower: Double, upper: Double, approximateCount: Int) -> Ticks {
    var low = lower, high = upper
    if !(low.isFinite && high.isFinite) { return Ticks(values: [0, 1]) }
    if high < low { swap(&low, &high) }
    if high == low {
        let pad = low == 0 ? 1 : abs(low) * 0.1
        low -= pad
        high += pad
    }
    let rough = (high - low) / Double(max(approximateCount, 1))
    let magnitude = pow(10, floor(log10(rough)))
    let step = [1.0, 2.0, 5.0, 10.0].map { $0 * magnitude }.first { $0 >= rough } ?? 10 * magnitude
    let first = floor(low / step + 1e-9) * step
    let last = ceil(high / step - 1e-9) * step
    let count = Int(((last - first) / step).rounded())
    return Ticks(values: (0...count).map { first + Double($0) * step })
}

/// Maps data to pixels inside the margins and draws axes, grid and titles.
private struct PlotFrame {
    let width: Double, height: Double
    let xRange: ClosedRange<Double>, yRange: ClosedRange<Double>

    var plotWidth: Double { width - marginLeft - marginRight }
    var plotHeight: Double { height - marginTop - marginBottom }
    var plotBottom: Double { marginTop + plotHeight }

    func x(_ value: Double) -> Double {
        let span = xRange.upperBound - xRange.lowerBound
        return marginLeft + (span > 0 ? (value - xRange.lowerBound) / span : 0.5) * plotWidth
    }

    func y(_ value: Double) -> Double {
        let span = yRange.upperBound - yRange.lowerBound
        return plotBottom - (span > 0 ? (value - yRange.lowerBound) / span : 0.5) * plotHeight
    }

    func point(_ px: Double, _ py: Double) -> String { svgNumber(x(px)) + "," + svgNumber(y(py)) }

    func axes(title: String, xLabel: String?, yLabel: String, xTicks: Ticks?, yTicks: Ticks) -> String {
        var out = "<text x=\"\(svgNumber(width / 2))\" y=\"20\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">\(escape(title))</text>\n"
        for tick in yTicks.values {
            let py = svgNumber(y(tick))
            out += "<line x1=\"\(svgNumber(marginLeft))\" y1=\"\(py)\" x2=\"\(svgNumber(marginLeft + plotWidth))\" y2=\"\(py)\" stroke=\"#e4e4e4\"/>\n"
            out += "<text x=\"\(svgNumber(marginLeft - 5))\" y=\"\(py)\" dy=\"0.32em\" text-anchor=\"end\" font-size=\"10\">\(tickLabel(tick, ticks: yTicks))</text>\n"
        }
        if let xTicks {
            for tick in xTicks.values {
                let px = svgNumber(x(tick))
                out += "<line x1=\"\(px)\" y1=\"\(svgNumber(plotBottom))\" x2=\"\(px)\" y2=\"\(svgNumber(plotBottom + 4))\" stroke=\"#444\"/>\n"
                out += "<text x=\"\(px)\" y=\"\(svgNumber(plotBottom + 15))\" text-anchor=\"middle\" font-size=\"10\">\(tickLabel(tick, ticks: xTicks))</text>\n"
            }
        }
        out += "<rect x=\"\(svgNumber(marginLeft))\" y=\"\(svgNumber(marginTop))\" width=\"\(svgNumber(plotWidth))\" height=\"\(svgNumber(plotHeight))\" fill=\"none\" stroke=\"#444\"/>\n"
        if let xLabel {
            out += "<text x=\"\(svgNumber(marginLeft + plotWidth / 2))\" y=\"\(svgNumber(plotBottom + 30))\" text-anchor=\"middle\" font-size=\"11\">\(escape(xLabel))</text>\n"
        }
        let yCenter = svgNumber(marginTop + plotHeight / 2)
        out += "<text x=\"14\" y=\"\(yCenter)\" text-anchor=\"middle\" font-size=\"11\" transform=\"rotate(-90 14 \(yCenter))\">\(escape(yLabel))</text>\n"
        return out
    }
}

/// Legend swatches under the plot, wrapping to a second row when they do not fit.
private func legend(_ entries: [(name: String, color: String, dashed: Bool)], width: Double, height: Double) -> String {
    var out = ""
    var x = marginLeft
    var y = height - 30
    for entry in entries {
        let entryWidth = 28 + Double(entry.name.count) * 6.5
        if x > marginLeft && x + entryWidth > width - marginRight {
            x = marginLeft
            y += 16
        }
        if entry.dashed {
            out += "<line x1=\"\(svgNumber(x))\" y1=\"\(svgNumber(y - 4))\" x2=\"\(svgNumber(x + 12))\" y2=\"\(svgNumber(y - 4))\" "
                + "stroke=\"\(entry.color)\" stroke-width=\"2\" stroke-dasharray=\"3 2\"/>\n"
        } else {
            out += "<rect x=\"\(svgNumber(x))\" y=\"\(svgNumber(y - 9))\" width=\"12\" height=\"10\" fill=\"\(entry.color)\"/>\n"
        }
        out += "<text x=\"\(svgNumber(x + 16))\" y=\"\(svgNumber(y))\" font-size=\"11\">\(escape(entry.name))</text>\n"
        x += entryWidth
    }
    return out
}

private func emptyPanel(title: String, width: Double, height: Double) -> String {
    "<text x=\"\(svgNumber(width / 2))\" y=\"20\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">\(escape(title))</text>\n"
        + "<text x=\"\(svgNumber(width / 2))\" y=\"\(svgNumber(height / 2))\" text-anchor=\"middle\" font-size=\"12\" fill=\"#888\">no data</text>\n"
}

/// Enough decimals to tell neighbouring ticks apart.
private func tickLabel(_ value: Double, ticks: Ticks) -> String {
    let step = ticks.values.count > 1 ? abs(ticks.values[1] - ticks.values[0]) : 1
    let digits = step >= 1 ? 0 : min(6, Int(ceil(-log10(step) - 1e-9)))
    return String(format: "%.\(digits)f", abs(value) < step * 1e-6 ? 0 : value)
}

/// Two decimals at most, no trailing zeros: compact, stable coordinates.
func svgNumber(_ value: Double) -> String {
    guard value.isFinite else { return "0" }
    var text = String(format: "%.2f", value)
    while text.hasSuffix("0") { text.removeLast() }
    if text.hasSuffix(".") { text.removeLast() }
    return text == "-0" ? "0" : text
}
