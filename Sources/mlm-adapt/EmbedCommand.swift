import ArgumentParser
import Checkpoint
import Classification
import Foundation
import Model
import SentenceEmbedding
import Tables

extension Pooling: ExpressibleByArgument {}
extension EmbeddingFormat: ExpressibleByArgument {}

struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Sentence embeddings (sentence-transformers' mean pooling and L2 normalisation) as JSON lines or .npy.",
        discussion: """
            Example: mlm-adapt embed --checkpoint cache/models/all-MiniLM-L6-v2 texts.txt --output vectors.jsonl
            Input: one text per line (blank lines included: each line gets a vector), or the --text-column of a \
            .tsv/.csv/.jsonl table; standard input when FILE is absent. Output, in input order: \
            {"index": i, "embedding": [...]} per line, or with --format npy a float32 [texts, hidden] matrix.
            """)

    @Option(help: "Model: a sentence-transformers or HF folder, an adapt/classify/setfit run folder or checkpoint.")
    var checkpoint: String

    @Argument(help: "Text file (one text per line) or table (.tsv/.csv/.jsonl); standard input when absent.")
    var file: String?

    @Option(help: "Column (or JSON field) with the text, for a table.")
    var textColumn = "text"

    @Option(help: "Write here instead of standard output.")
    var output: String?

    @Option(help: "Output format: jsonl or npy.")
    var format: EmbeddingFormat = .jsonl

    @Option(help: "Pooling of the last hidden states: mean (attention-masked) or cls.")
    var pooling: Pooling = .mean

    @Flag(help: "Leave the vectors unnormalised (default: L2-normalised, as normalize_embeddings=True).")
    var noNormalize = false

    @Option(help: "Texts per batch (batches are sorted by length).")
    var batchSize = SentenceEncoder.defaultBatchSize

    @Option(help: "Tokens per text, [CLS] and [SEP] included; longer texts are cut (all-MiniLM-L6-v2's max_seq_length).")
    var maxSeqLength = SentenceEncoder.defaultMaxSeqLength

    @OptionGroup(title: "Runtime")
    var runtime: RuntimeOptions

    func run() throws {
        let precision = try runtime.start()
        let url = URL(fileURLWithPath: file ?? "/dev/stdin")
        let texts: [TextExample]
        if let file, TableFormat.named(by: URL(fileURLWithPath: file)) != nil {
            texts = try DataReader.readExamples(from: url, columns: TextColumns(text: textColumn), requireLabels: false)
        } else {
            texts = try DataReader.readLines(from: url)
        }
        let prepared = try ModelLoading.prepare(
            CheckpointReference.resolve(URL(fileURLWithPath: checkpoint)), heads: .exactly(ModelHeads(maskedLM: false, pooler: false)))
        prepared.model.setPrecision(precision)
        let encoder: SentenceEncoder
        do {
            encoder = try SentenceEncoder(
                model: prepared.model, tokenizer: prepared.tokenizer, pooling: pooling, maxRows: batchSize, maxSeqLength: maxSeqLength)
        } catch { throw ValidationError("\(error)") }
        let started = Date()
        let vectors = try encoder.embed(texts.map { encoder.tokenize($0.text) }, normalize: !noNormalize)
        let seconds = Date().timeIntervalSince(started)
        let data = EmbeddingOutput.encode(vectors, count: texts.count, dimension: encoder.hiddenSize, format: format)
        if let output {
            try data.write(to: URL(fileURLWithPath: output), options: .atomic)
        } else {
            FileHandle.standardOutput.write(data)
        }
        logLine(String(format: "embedded %d texts in %.2f s (%.1f sentences/s, %@)", texts.count, seconds,
                       Double(texts.count) / max(seconds, 1e-9), precision.precision.rawValue))
    }
}
