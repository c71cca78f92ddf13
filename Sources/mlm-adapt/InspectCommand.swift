import ArgumentParser
import Checkpoint
import Corpus
import Foundation
import Training

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a checkpoint's format, step, metrics, config, vocabulary and tensors.",
        discussion: """
            Reads whatever --init accepts: a run folder or its `latest`, a .safetensors(.gz) file, an HF or \
            sentence-transformers folder. Metrics come from the checkpoint's metadata, else from the metrics.jsonl \
            beside it (the lines of its step).
            """)

    @Argument(help: "A run folder or its `latest`, a .safetensors(.gz) file, an HF or sentence-transformers folder.")
    var path: String
    @Flag(help: "Omit the tensor list.")
    var noTensors = false

    func run() throws {
        let reference = try CheckpointReference.resolve(path)
        let checkpoint = try reference.open()
        let metadata = checkpoint.metadata
        print("source:      \(reference)")
        print("format:      \(metadata.checkpointFormat ?? "not an mlm-adapt checkpoint (plain HF safetensors)")")
        if let step = metadata.step { print("step:        \(step)") }
        for line in metricLines(checkpoint) { print("metrics:     \(line)") }
        if let arguments = metadata.runArgumentsJSON { print("run args:    \(arguments)") }
        if let cursor = metadata.dataCursorJSON { print("data cursor: \(describeCursor(cursor))") }
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

    /// The metadata's metrics; else, for a training checkpoint, its step's lines of the run's metrics.jsonl.
    func metricLines(_ checkpoint: LoadedCheckpoint) -> [String] {
        if let metrics = checkpoint.metadata.metricsJSON { return [metrics] }
        guard let step = checkpoint.metadata.step else { return [] }
        let log = checkpoint.reference.weights.deletingLastPathComponent().appendingPathComponent(RunDirectory.metricsFileName)
        guard let records = try? MetricsLog.read(log) else { return [] }
        func line(_ type: String) -> String? {
            guard let record = records.last(where: { $0["type"] as? String == type && ($0["step"] as? Int) == step }) else {
                return nil
            }
            let fields = record.filter { $0.key != "type" && $0.key != "step" }.sorted { $0.key < $1.key }
                .map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            return "\(type) @ step \(step): \(fields) (\(log.path))"
        }
        return ["train", "eval"].compactMap(line)
    }

    /// Where the data stream stands, without the deflated shuffle buffer it carries.
    func describeCursor(_ json: String) -> String {
        guard let cursor = try? JSONDecoder().decode(CorpusCursor.self, from: Data(json.utf8)) else {
            return "unreadable (\(json.utf8.count) bytes of JSON)"
        }
        let pending = cursor.pendingSequences
        let place = cursor.sourceExhausted ? "all files read"
            : "file \(cursor.fileIndex + 1) of the epoch's order at line \(cursor.position.lineNumber) (byte \(cursor.position.offset))"
        return "epoch \(cursor.epoch), \(place), \(cursor.epochSequences) sequences so far this epoch, "
            + "\(pending.count) waiting in the shuffle buffer "
            + "(\(pending.deflated.count) bytes deflated)"
    }
}
