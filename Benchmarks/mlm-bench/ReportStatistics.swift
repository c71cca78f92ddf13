import Foundation

/// Mean and sample standard deviation of one figure over seeds.
struct MeanStd: Equatable, Sendable {
    let mean: Double
    /// Sample standard deviation (n − 1 in the denominator); 0 for a single value.
    let std: Double
    let count: Int

    /// Summarises the finite values; nil when there are none.
    init?(_ values: [Double]) {
        let finite = values.filter(\.isFinite)
        guard !finite.isEmpty else { return nil }
        let n = Double(finite.count)
        let mean = finite.reduce(0, +) / n
        let squares = finite.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
        self.mean = mean
        self.std = finite.count > 1 ? (squares / (n - 1)).squareRoot() : 0
        self.count = finite.count
    }

    /// "mean ± std" with `digits` decimals after multiplying by `scale`.
    func formatted(digits: Int, scale: Double = 1) -> String {
        formatNumber(mean * scale, digits: digits) + " ± " + formatNumber(std * scale, digits: digits)
    }
}

/// Fixed decimals with thousands separators for large values ("12,345.6").
func formatNumber(_ value: Double, digits: Int) -> String {
    guard value.isFinite else { return "n/a" }
    let plain = String(format: "%.\(digits)f", value)
    let negative = plain.hasPrefix("-")
    let unsigned = negative ? String(plain.dropFirst()) : plain
    let parts = unsigned.split(separator: ".", maxSplits: 1)
    var integer = String(parts[0])
    var grouped = ""
    while integer.count > 3 {
        grouped = "," + integer.suffix(3) + grouped
        integer = String(integer.dropLast(3))
    }
    grouped = integer + grouped
    if parts.count > 1 { grouped += "." + parts[1] }
    return (negative ? "-" : "") + grouped
}

/// Per-seed differences `b − a` for seeds present in both, as "paired" comparisons: strategies
/// of one seed share the initial weights and the data order, so their difference removes that noise.
func pairedDifferences(_ a: [Int: Double], _ b: [Int: Double]) -> [Double] {
    a.keys.sorted().compactMap { seed in
        guard let x = a[seed], let y = b[seed], x.isFinite, y.isFinite else { return nil }
        return y - x
    }
}

/// Paired differences summarised: mean ± std over the shared seeds and how many of them are positive.
struct PairedSummary: Equatable, Sendable {
    let differences: MeanStd
    let positive: Int

    /// nil when the two share no seed with finite values.
    init?(_ a: [Int: Double], _ b: [Int: Double]) {
        let values = pairedDifferences(a, b)
        guard let summary = MeanStd(values) else { return nil }
        differences = summary
        positive = values.filter { $0 > 0 }.count
    }

    /// "+1.23 ± 0.45 (2/3 > 0)" after multiplying by `scale`.
    func formatted(digits: Int, scale: Double = 1) -> String {
        let sign = differences.mean * scale >= 0 ? "+" : ""
        return sign + differences.formatted(digits: digits, scale: scale) + " (\(positive)/\(differences.count) > 0)"
    }
}
