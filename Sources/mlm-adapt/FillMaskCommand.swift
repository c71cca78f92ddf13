import ArgumentParser
import Checkpoint
import Foundation
import Model
import TensorKernels
import Tokenizer
import Training

/// `mlm-adapt fill-mask`: the model's top guesses for each `[MASK]`, as HF's fill-mask pipeline.
struct FillMask: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fill-mask",
        abstract: "Predict the tokens behind [MASK] with a checkpoint or HF model folder.",
        discussion: "Example: mlm-adapt fill-mask --checkpoint runs/X/step-300.safetensors.gz \"The licensee shall [MASK] the software.\"")

    @Option(help: "Model: a run folder or its `latest`, a .safetensors(.gz) file, an HF or sentence-transformers folder.")
    var checkpoint: String

    @Option(help: "Predictions per [MASK] (default: 5).")
    var topK: Int = 5

    @Flag(help: "Casing (default: the model's tokenizer setting).")
    var casing: Casing?

    @OptionGroup(title: "Runtime")
    var runtime: RuntimeOptions

    @Flag(help: "Print one JSON object per sentence (fields as transformers' fill-mask pipeline) instead of text.")
    var json = false

    @Argument(help: "Sentences with one or more [MASK].")
    var texts: [String]

    func validate() throws {
        if topK < 1 { throw ValidationError("--top-k \(topK) must be at least 1") }
        if texts.isEmpty { throw ValidationError("give a sentence containing [MASK]") }
        for text in texts where !text.contains("[MASK]") {
            throw ValidationError("no [MASK] in \"\(text)\"")
        }
    }

    func run() throws {
        let precision = try runtime.start()
        let prepared = try ModelLoading.prepare(
            CheckpointReference.resolve(checkpoint), heads: .maskedLM, lowercase: casing?.lowercase)
        if prepared.createdMaskedLMHead {
            FileHandle.standardError.write(Data(
                "warning: \(checkpoint) has no MLM head; a random one was created, so predictions are meaningless\n".utf8))
        }
        prepared.model.setPrecision(precision)
        let predictor = MaskPredictor(prepared: prepared)
        for text in texts {
            let predictions = try predictor.predict(text, topK: topK)
            if json {
                print(try MaskPredictor.jsonLine(text: text, predictions: predictions))
                continue
            }
            print(text)
            for (index, row) in predictions.enumerated() {
                let line = row.map { "\($0.token) " + String(format: "%.4f", $0.probability) }.joined(separator: "  ")
                print("  [MASK] \(index + 1): \(line)")
            }
        }
    }
}
