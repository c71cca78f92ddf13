import ArgumentParser
import Checkpoint
import Foundation

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Convert an HF model folder into an mlm-adapt checkpoint (BertForMaskedLM).",
        discussion: """
            Accepts BertForMaskedLM folders and sentence-transformers/BertModel folders (no `bert.` prefix); \
            F16/BF16 weights become F32. An absent MLM head is created (normal(0, initializer_range) with --seed, \
            decoder tied to the word embeddings); a pooler is dropped.
            """)

    @Option(help: "HF model folder (config.json, model.safetensors, vocab.txt), or a .safetensors(.gz) file.")
    var from: String
    @Option(help: "Checkpoint to write (.safetensors.gz, or .safetensors for uncompressed).")
    var out: String
    @Option(help: "Seed for a created MLM head.")
    var seed: UInt64 = 0

    func run() throws {
        let report = try HFModelFolder.importModel(
            from: URL(fileURLWithPath: from), to: URL(fileURLWithPath: out), seed: seed)
        print(report)
        print("wrote \(out)")
    }
}
