import ArgumentParser
import Classification
import Foundation

/// `mlm-adapt embed` beside sentence-transformers' `encode` on the same texts: sentences/s and agreement.
struct EmbedBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Sentence-embedding throughput (sentences/s) beside sentence-transformers, with their agreement.",
        discussion: """
            Takes the first --count texts of --texts-from (a task TSV's text column), one per line, and embeds \
            them with `mlm-adapt embed --format npy` once per --precisions value, then with \
            Benchmarks/reference/embed_reference.py (SentenceTransformer.encode, normalize_embeddings=True) in \
            fp32 and under bf16 autocast, at the same batch size, max length and threads. Ours is the wall time \
            of the whole run (loading the model, tokenizing, writing the file); theirs is the encode call alone. \
            Ratio = their seconds ÷ ours (> 1: we are faster). "min cosine" compares each of our runs with \
            sentence-transformers fp32, text by text.
            """)

    @Option(help: "Model both sides load (a sentence-transformers folder).") var model = "cache/models/all-MiniLM-L6-v2"
    @Option(help: "TSV whose text column gives the texts.") var textsFrom = "Corpora/tasks/legal-category/test.tsv"
    @Option(help: "Texts to embed.") var count = 1000
    @Option var batchSize = 32
    @Option var maxSeqLength = 256
    @Option var threads = 2
    @Option(help: "Comma-separated --precision values for our runs (fp32, bf16, auto).") var precisions = "fp32,auto"
    @Option(help: "Folder for the texts, vectors and logs (default: a temporary folder).") var work: String?
    @Option(help: "The mlm-adapt executable (default: next to this one).") var mlmAdapt: String?
    @Option(help: "Also write the table here (Markdown).") var markdown: String?

    static let referenceScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("reference/embed_reference.py")

    func validate() throws {
        guard count > 0, batchSize > 0, maxSeqLength > 1, threads > 0 else {
            throw ValidationError("--count, --batch-size, --max-seq-length and --threads must be positive")
        }
    }

    func run() throws {
        guard FileManager.default.fileExists(atPath: model) else {
            throw ValidationError("--model \(model) does not exist (run Corpora/fetch.sh)")
        }
        let folder = URL(fileURLWithPath: work ?? NSTemporaryDirectory() + "mlm-bench-embed-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let texts = try DataReader.readExamples(from: URL(fileURLWithPath: textsFrom), requireLabels: false)
            .prefix(count).map { $0.text.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "\r", with: " ") }
        let textFile = folder.appendingPathComponent("texts.txt")
        try (texts.joined(separator: "\n") + "\n").write(to: textFile, atomically: true, encoding: .utf8)
        let executable = mlmAdapt ?? Subprocess.sibling("mlm-adapt")

        var ours: [(precision: String, seconds: Double, vectors: URL)] = []
        for precision in precisions.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            let vectors = folder.appendingPathComponent("ours-\(precision).npy")
            let result = try Subprocess.run(executable, [
                "embed", "--checkpoint", model, textFile.path, "--format", "npy", "--output", vectors.path,
                "--batch-size", "\(batchSize)", "--max-seq-length", "\(maxSeqLength)", "--threads", "\(threads)",
                "--precision", precision,
            ], log: folder.appendingPathComponent("ours-\(precision).log"))
            ours.append((precision, result.seconds, vectors))
        }
        let common = [Self.referenceScript.path, "--model", model, "--texts", textFile.path, "--batch-size", "\(batchSize)",
                      "--max-seq-length", "\(maxSeqLength)", "--threads", "\(threads)"]
        let fp32 = TrainStepBenchmark.referenceJSON(common + ours.flatMap { ["--compare", $0.vectors.path] })
        let bf16 = TrainStepBenchmark.referenceJSON(common + ["--autocast"])
        if fp32 == nil || bf16 == nil { print("sentence-transformers reference failed or is not installed: its columns are empty") }

        var lines = [
            "\(texts.count) texts from \(textsFrom), batch \(batchSize), max length \(maxSeqLength), \(threads) threads",
            "| ours precision | ours s | ours sentences/s | sentence-transformers fp32 s | ratio | bf16 autocast s | ratio | min cosine vs fp32 |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        let cosines = fp32?["min_cosine"] as? [Double] ?? []
        for (index, run) in ours.enumerated() {
            func seconds(_ figures: [String: Any]?) -> Double? { figures?["seconds"] as? Double }
            func cell(_ value: Double?, _ format: String) -> String { value.map { String(format: format, $0) } ?? "-" }
            lines.append("| \(run.precision) | " + [
                cell(run.seconds, "%.1f"), cell(Double(texts.count) / run.seconds, "%.1f"),
                cell(seconds(fp32), "%.1f"), cell(seconds(fp32).map { $0 / run.seconds }, "%.2f×"),
                cell(seconds(bf16), "%.1f"), cell(seconds(bf16).map { $0 / run.seconds }, "%.2f×"),
                cell(index < cosines.count ? cosines[index] : nil, "%.6f"),
            ].joined(separator: " | ") + " |")
        }
        print(lines.joined(separator: "\n"))
        if let markdown { try (lines.joined(separator: "\n") + "\n").write(toFile: markdown, atomically: true, encoding: .utf8) }
    }
}
