import ArgumentParser
import Checkpoint
import Classification
import FewShot
import Foundation
import TensorKernels

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Label new text with a fine-tuned classify or ner checkpoint; writes JSON lines.",
        discussion: """
            Example: mlm-adapt predict --checkpoint runs/.../model.safetensors.gz texts.txt > predictions.jsonl
            One text per line. Sequence classifiers give the label, its score and every class probability; \
            token classifiers split the line at whitespace and give a BIO tag and score per word.
            """)

    @Option(help: "A checkpoint written by classify, ner or setfit (or an HF folder of one).")
    var checkpoint: String

    @Argument(help: "Text file, one text per line.")
    var file: String

    @Option(help: "Tokens per text, [CLS] and [SEP] included (a setfit checkpoint keeps the length it was trained with).")
    var maxSeqLength = 128

    @Option(help: "Texts per batch.")
    var batchSize = 32

    @Option(help: "Write here instead of standard output.")
    var output: String?

    @OptionGroup(title: "Runtime")
    var runtime: RuntimeOptions

    func run() throws {
        let precision = try runtime.start()
        let opened = try CheckpointReference.resolve(URL(fileURLWithPath: checkpoint)).open()
        let texts = try DataReader.readLines(from: URL(fileURLWithPath: file))
        let lines: [String]
        if SetFitModel.isSetFit(opened) {
            let setfit = try SetFitModel.load(opened)
            setfit.model.setPrecision(precision)
            lines = try setfit.predictionLines(texts, batchSize: batchSize)
        } else {
            let loaded = try ClassifierCheckpoint.load(opened)
            loaded.model.setPrecision(precision)
            lines = try Predictor.predict(texts, with: loaded, maxSeqLength: maxSeqLength, batchSize: batchSize)
        }
        let text = lines.isEmpty ? "" : lines.joined(separator: "\n") + "\n"
        if let output {
            try Data(text.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
        } else {
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }
}
