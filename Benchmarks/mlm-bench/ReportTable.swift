import Foundation

/// One column of a results table: a figure summarised over seeds.
struct ReportColumn: Sendable {
    /// Machine-readable name, the CSV header stem (`<key>_mean`, `<key>_std`).
    let key: String
    /// Markdown header.
    let title: String
    /// Decimals shown in Markdown (the CSV keeps full precision).
    let digits: Int
    /// Factor applied for display only (e.g. 100 for percentages).
    var scale: Double = 1
}

/// A row label and its figures, keyed by `ReportColumn.key`.
struct ReportRow: Sendable {
    let label: String
    var values: [String: MeanStd]
}

/// Renders the same rows as a Markdown table ("mean ± std") and a CSV file (mean and std columns).
struct ReportTable: Sendable {
    let rowTitle: String
    let columns: [ReportColumn]
    let rows: [ReportRow]

    func markdown() -> String {
        markdownTable(header: [rowTitle] + columns.map(\.title), rows: rows.map { row in
            [row.label] + columns.map { column in
                row.values[column.key].map { $0.formatted(digits: column.digits, scale: column.scale) } ?? "–"
            }
        })
    }

    /// Header `label,seeds,<key>_mean,<key>_std,…`; empty cells where a figure is missing.
    /// `seeds` is the largest number of seeds behind any figure of the row.
    func csv() -> String {
        var header = [rowTitle, "seeds"]
        for column in columns { header += [column.key + "_mean", column.key + "_std"] }
        var lines = [header.map(csvField).joined(separator: ",")]
        for row in rows {
            var cells = [csvField(row.label), String(row.values.values.map(\.count).max() ?? 0)]
            for column in columns {
                if let value = row.values[column.key] {
                    cells += [csvNumber(value.mean), csvNumber(value.std)]
                } else {
                    cells += ["", ""]
                }
            }
            lines.append(cells.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// A Markdown table of ready-made cells: the first column left-aligned (labels), the others right-aligned.
func markdownTable(header: [String], rows: [[String]]) -> String {
    var lines = ["| " + header.map(escapeMarkdownCell).joined(separator: " | ") + " |"]
    lines.append("|" + ([":---"] + header.dropFirst().map { _ in "---:" }).joined(separator: "|") + "|")
    for row in rows { lines.append("| " + row.map(escapeMarkdownCell).joined(separator: " | ") + " |") }
    return lines.joined(separator: "\n") + "\n"
}

func escapeMarkdownCell(_ text: String) -> String {
    text.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
}

/// RFC 4180 quoting: fields with a comma, quote or line break are quoted, quotes doubled.
func csvField(_ text: String) -> String {
    guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
    return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}

/// Shortest round-trip decimal, so the CSV loses nothing.
func csvNumber(_ value: Double) -> String {
    value.isFinite ? "\(value)" : ""
}
