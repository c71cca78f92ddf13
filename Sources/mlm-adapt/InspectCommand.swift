import ArgumentParser
import Checkpoint
import Foundation

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a checkpoint's format, step, metrics, config, vocabulary and tensors.",
        discussion: "Reads our .safetensors.gz checkpoints, plain .safetensors files and HF model folders.")

    @Argument(help: "Checkpoint file or HF model folder.")
    var path: String
    @Flag(help: "Omit the tensor list.")
    var noTensors = false

    func run() throws {
        let checkpoint = try LoadedCheckpoint.open(URL(fileURLWithPath: path))
        let metadata = checkpoint.metadata
        print("source:      \(checkpoint.source)")
        print("format:      \(metadata.checkpointFormat ?? "not an mlm-adapt checkpoint (plain HF safetensors)")")
        if let step = metadata.step { print("step:        \(step)") }
        if let metrics = metadata.metricsJSON { print("metrics:     \(metrics)") }
        if let arguments = metadata.runArgumentsJSON { print("run args:    \(arguments)") }
        if let cursor = metadata.dataCursorJSON { print("data cursor: \(cursor)") }
        if let rng = metadata.rngState { print("rng state:   \(rng)") }
        if let config = checkpoint.config {
            print("config:      \(config.architectures?.joined(separator: ",") ?? "BERT"), \(config.numHiddenLayers) layers, "
                + "hidden \(config.hiddenSize), \(config.numAttentionHeads) heads, intermediate \(config.intermediateSize), "
                + "vocab_size \(config.vocabSize), max positions \(config.maxPositionEmbeddings)")
        } else {
            print("config:      none")
        }
        if let tokens = checkpoint.vocabularyTokenList {
            let lowercase = checkpoint.doLowerCase.map { ", do_lower_case \($0)" } ?? ""
            print("vocabulary:  \(tokens.count) tokens\(lowercase)")
        } else {
            print("vocabulary:  none")
        }
        for (key, value) in metadata.extra.sorted(by: { $0.key < $1.key }) { print("metadata \(key): \(value)") }
        let entries = checkpoint.tensors.entries
        let floatCount = entries.filter { $0.dtype.isLoadableAsFloat }.reduce(0) { $0 + $1.elementCount }
        let bytes = entries.reduce(0) { $0 + $1.dataRange.count }
        print("tensors:     \(entries.count), \(floatCount) float parameters, \(bytes) bytes of data")
        guard !noTensors else { return }
        let width = entries.map(\.name.count).max() ?? 0
        for entry in entries.sorted(by: { $0.name < $1.name }) {
            let shape = "[" + entry.shape.map(String.init).joined(separator: ", ") + "]"
            print("  \(entry.name.padding(toLength: width, withPad: " ", startingAt: 0))  "
                + "\(entry.dtype.rawValue.padding(toLength: 5, withPad: " ", startingAt: 0))  "
                + "\(shape.padding(toLength: 14, withPad: " ", startingAt: 0))  \(entry.dataRange.count) B")
        }
    }
}
