import ArgumentParser
import Checkpoint
import Foundation

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a checkpoint as an HF model folder that transformers' from_pretrained loads.",
        discussion: """
            Writes config.json (with architectures), plain model.safetensors (HF names, no optimizer state), \
            vocab.txt, tokenizer_config.json and special_tokens_map.json.
            """)

    @Option(help: "Checkpoint (.safetensors.gz, .safetensors or HF folder).")
    var checkpoint: String
    @Option(help: "Folder to write.")
    var to: String

    func run() throws {
        let loaded = try LoadedCheckpoint.open(URL(fileURLWithPath: checkpoint))
        let report = try HFModelFolder.export(checkpoint: loaded, to: URL(fileURLWithPath: to))
        print(report)
        print("wrote \(to)")
    }
}
