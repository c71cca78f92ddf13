import Foundation
import SeededRandom

/// `count` rows of a `text<TAB>label` TSV (header kept), drawn per label in proportion to its share
/// (at least one per label), in file order. All rows when `count` is not below the row count.
func subsampleTSV(_ text: String, count: Int, seed: UInt64, source: String) throws -> String {
    var lines = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
    guard !lines.isEmpty else { throw ReportInputError(description: "\(source): empty file") }
    let header = lines.removeFirst()
    guard let labelColumn = header.split(separator: "\t", omittingEmptySubsequences: false).firstIndex(of: "label") else {
        throw ReportInputError(description: "\(source):1: no 'label' column in the header")
    }
    guard count < lines.count else { return text }
    var byLabel: [String: [Int]] = [:]
    for (index, line) in lines.enumerated() {
        let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
        guard labelColumn < fields.count else {
            throw ReportInputError(description: "\(source):\(index + 2): fewer than \(labelColumn + 1) tab-separated fields")
        }
        byLabel[String(fields[labelColumn]), default: []].append(index)
    }
    var generator = SplitMix64(state: seed)
    var chosen: [Int] = []
    for label in byLabel.keys.sorted() {
        let indices = byLabel[label] ?? []
        let share = max(1, Int((Double(count) * Double(indices.count) / Double(lines.count)).rounded()))
        chosen += indices.shuffled(using: &generator).prefix(share)
    }
    return ([header] + chosen.sorted().map { lines[$0] }).joined(separator: "\n") + "\n"
}

/// `count` sentences (blank-line separated blocks) of a CoNLL file, seeded, in file order.
func subsampleCoNLL(_ text: String, count: Int, seed: UInt64) -> String {
    let sentences = text.components(separatedBy: "\n\n").map { $0.trimmingCharacters(in: .newlines) }.filter { !$0.isEmpty }
    guard count < sentences.count else { return text }
    var generator = SplitMix64(state: seed)
    let chosen = Array(sentences.indices).shuffled(using: &generator).prefix(count).sorted()
    return chosen.map { sentences[$0] }.joined(separator: "\n\n") + "\n"
}

/// Writes `files` of the task folder `source` into `folder`, each cut to a seeded subsample where its
/// limit is set: stratified for `.tsv` (`subsampleTSV`), whole sentences for `.conll`, else copied.
func writeSubsampledTask(from source: URL, to folder: URL, files: [(name: String, limit: Int?)], seed: UInt64) throws {
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    for (name, limit) in files {
        let url = source.appendingPathComponent(name)
        let text = try readTaskText(url)
        var sampled = text
        if let limit {
            if name.hasSuffix(".tsv") {
                sampled = try subsampleTSV(text, count: limit, seed: seed, source: url.path)
            } else if name.hasSuffix(".conll") {
                sampled = subsampleCoNLL(text, count: limit, seed: seed)
            } else {
                throw ReportInputError(description: "\(url.path): only .tsv and .conll files can be subsampled")
            }
        }
        try sampled.write(to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }
}

func readTaskText(_ url: URL) throws -> String {
    do { return try String(contentsOf: url, encoding: .utf8) } catch {
        throw ReportInputError(description: "\(url.path): cannot read: \(error.localizedDescription)")
    }
}
