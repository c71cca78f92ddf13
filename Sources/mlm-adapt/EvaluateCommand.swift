import ArgumentParser
import Checkpoint
import Foundation
import TensorKernels
import Training

/// `mlm-adapt evaluate`: held-out MLM loss (per token and per word), perplexity and accuracy of any checkpoint, computed
/// exactly as the trainer's eval lines (same split, batches and fixed eval masks).
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Score a checkpoint's masked-LM on held-out text, as the trainer's eval lines.",
        discussion: """
            Example: mlm-adapt evaluate --checkpoint runs/legal/latest --corpus Corpora/legal.txt
            Options not given take the checkpoint's own run settings when it has them (so the numbers \
            match its metrics.jsonl), else the `adapt` defaults.
            """)

    @Option(help: "Model: a run folder or its `latest`, a .safetensors(.gz) file, an HF or sentence-transformers folder.")
    var checkpoint: String

    @Option(parsing: .upToNextOption, help: "Corpus files (or globs) whose held-out documents are scored.")
    var corpus: [String]

    @Option(help: "Share of documents held out, chosen by document hash as in training (default: the run's, else 0.05).")
    var validationSplit: Double?

    @Flag(help: "Score every document of the corpus, not only the held-out split.")
    var all = false

    @Option(help: "Number of batches scored (default: the run's, else 20).")
    var evalBatches: Int?

    @Option(help: "Sequences per batch (default: the run's, else 16).")
    var batchSize: Int?

    @Option(help: "Tokens per sequence (default: the run's, else 128).")
    var maxSeqLength: Int?

    @Option(help: "Eval masking schemes, comma-separated: \(EvalScheme.allCases.map(\.rawValue).joined(separator: ", ")) (default: \(EvalScheme.trainingDefault.map(\.rawValue).joined(separator: ","))).")
    var mask = EvalScheme.trainingDefault.map(\.rawValue).joined(separator: ",")

    @OptionGroup(title: "Runtime")
    var runtime: RuntimeOptions

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func validate() throws {
        if corpus.isEmpty { throw ValidationError("give at least one --corpus file") }
        if all && validationSplit != nil { throw ValidationError("give --validation-split or --all, not both") }
        if let validationSplit, !(validationSplit > 0 && validationSplit <= 1) {
            throw ValidationError("--validation-split \(validationSplit) must be in (0, 1]")
        }
        if let evalBatches, evalBatches < 1 { throw ValidationError("--eval-batches \(evalBatches) must be at least 1") }
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size \(batchSize) must be at least 1") }
        if let maxSeqLength, maxSeqLength < 3 { throw ValidationError("--max-seq-length \(maxSeqLength) must be at least 3") }
        _ = try schemes()
    }

    func schemes() throws -> [EvalScheme] {
        let names = mask.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let kinds = try names.map { name in
            guard let kind = EvalScheme(rawValue: name) else {
                throw ValidationError("--mask accepts \(EvalScheme.allCases.map(\.rawValue).joined(separator: ", ")), not '\(name)'")
            }
            return kind
        }
        guard !kinds.isEmpty, Set(kinds).count == kinds.count else {
            throw ValidationError("--mask needs one or more distinct schemes, got '\(mask)'")
        }
        return kinds
    }

    func run() throws {
        let precision = try runtime.start()
        let reference = try CheckpointReference.resolve(checkpoint)
        let url = reference.displayURL
        let prepared = try ModelLoading.prepare(reference, heads: .maskedLM)
        prepared.model.setPrecision(precision)
        if prepared.createdMaskedLMHead {
            FileHandle.standardError.write(Data(
                "warning: \(checkpoint) has no MLM head; a random one was created, so the scores mean nothing\n".utf8))
        }

        // The run's own settings where the checkpoint has them, so the split and batches match its eval lines.
        let runJSON = prepared.checkpoint?.metadata.runArgumentsJSON
        var settings = try runJSON.map { try AdaptationSettings.decode(json: $0, source: url.path) }
            ?? AdaptationSettings(corpus: corpus)
        settings.corpus = corpus
        settings.validationCorpus = []
        if all { settings.validationSplit = 1 } else if let validationSplit { settings.validationSplit = validationSplit }
        if let evalBatches { settings.evalBatches = evalBatches }
        if let batchSize { settings.batchSize = batchSize }
        if let maxSeqLength { settings.maxSeqLength = maxSeqLength }
        settings.threads = runtime.resolvedThreads

        let report = try ModelEvaluation.evaluate(prepared, settings: settings, schemes: schemes())
        let step = prepared.checkpoint?.metadata.step
        if json {
            var object: [String: Any] = [
                "checkpoint": url.path, "corpus": corpus, "validation_split": settings.validationSplit,
                "batch_size": settings.batchSize, "max_seq_length": settings.maxSeqLength,
                "eval_batches": report.batches, "sequences": report.sequences,
            ]
            if let step { object["step"] = step }
            for (scheme, metrics) in report.results {
                let key = scheme.metricKey
                object["\(key)_loss"] = metrics.loss
                object["\(key)_ppl"] = metrics.perplexity
                object["\(key)_acc"] = metrics.accuracy
                object["\(key)_masked"] = metrics.maskedTokens
                object["\(key)_loss_per_word"] = metrics.lossPerWord
                object["\(key)_masked_words"] = metrics.maskedWords
            }
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print("checkpoint: \(url.path)" + (step.map { " (step \($0))" } ?? ""))
        print("held out: \(report.sequences) sequence(s) in \(report.batches) batch(es) of \(settings.batchSize)×\(settings.maxSeqLength), "
            + (settings.validationSplit >= 1 ? "whole corpus" : "validation split \(settings.validationSplit)")
            + (runJSON == nil ? "" : " (unset options from the checkpoint's run settings)"))
        for (scheme, metrics) in report.results {
            print("\(scheme.rawValue): loss " + String(format: "%.4f", metrics.loss) + " ppl " + String(format: "%.2f", metrics.perplexity)
                + " acc " + String(format: "%.2f", 100 * metrics.accuracy) + "% (\(metrics.maskedTokens) masked tokens); "
                + "loss per word " + String(format: "%.4f", metrics.lossPerWord) + " (\(metrics.maskedWords) masked words)")
        }
    }
}
