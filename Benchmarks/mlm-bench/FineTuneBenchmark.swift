import ArgumentParser
import Foundation
import SeededRandom

/// `mlm-adapt classify` and `ner` timed beside the PyTorch recipe on the same files, on short and long texts.
struct FineTuneBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fine-tune",
        abstract: "classify and ner wall time beside PyTorch (fp32 and bf16 autocast), on short and long texts.",
        discussion: """
            Writes synthetic tasks from the words of --corpus into --work: sequence classification (TSV, \
            two classes marked by a word) and BIO tagging (CoNLL, capitalised runs are entities), with texts \
            of about 30 tokens ("short") and of at least --max-seq-length tokens ("long"). Ours is the wall \
            time of the whole `mlm-adapt classify|ner` run (loading, training, dev evaluation after each \
            epoch, no checkpoint written); PyTorch's is the training + dev-evaluation loop of \
            Benchmarks/reference/fine_tune_reference.py (loading excluded), fp32 and bf16 autocast. \
            The recipe: batch 16, lr 5e-5, max length 128, the same thread count.
            """)

    @Option(help: "Model (HF folder) both sides start from.") var initModel = "cache/models/all-MiniLM-L6-v2"
    @Option(help: "Text whose words make the synthetic tasks.") var corpus = "Corpora/legal.txt"
    @Option(help: "Comma-separated tasks: classify, ner.") var tasks = "classify,ner"
    @Option(help: "Comma-separated text lengths: short (about 30 tokens), long (max-seq-length tokens).")
    var lengths = "short,long"
    @Option(help: "Training examples per task.") var examples = 2000
    @Option(help: "Dev examples per task.") var devExamples = 200
    @Option var epochs = 2
    @Option var batchSize = 16
    @Option var lr = 5e-5
    @Option var maxSeqLength = 128
    @Option var threads = 2
    @Option(help: "Comma-separated --precision values for our runs (fp32, bf16, auto).") var precisions = "fp32,auto"
    @Option(help: "Folder for the task files and run folders (default: a temporary folder).") var work: String?
    @Option(help: "The mlm-adapt executable (default: next to this one).") var mlmAdapt: String?
    @Flag(help: "Skip the PyTorch reference.") var noReference = false

    static let referenceScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("reference/fine_tune_reference.py")

    func validate() throws {
        guard examples > 0, devExamples > 0, epochs > 0, batchSize > 0, threads > 0 else {
            throw ValidationError("--examples, --dev-examples, --epochs, --batch-size and --threads must be positive")
        }
        for task in list(tasks) where !["classify", "ner"].contains(task) {
            throw ValidationError("--tasks: unknown task '\(task)' (classify, ner)")
        }
        for length in list(lengths) where !["short", "long"].contains(length) {
            throw ValidationError("--lengths: unknown length '\(length)' (short, long)")
        }
        for precision in list(precisions) where !["fp32", "bf16", "auto"].contains(precision) {
            throw ValidationError("--precisions: unknown precision '\(precision)' (fp32, bf16, auto)")
        }
    }

    func list(_ value: String) -> [String] { value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }

    func run() throws {
        let fm = FileManager.default
        guard fm.fileExists(atPath: initModel) else {
            throw ValidationError("--init-model \(initModel) does not exist (run Corpora/fetch.sh, or pass an HF model folder)")
        }
        let folder = URL(fileURLWithPath: work ?? NSTemporaryDirectory() + "mlm-bench-fine-tune-\(getpid())")
        try fm.createDirectory(at: folder, withIntermediateDirectories: true)
        let words = try Self.words(from: corpus)
        let executable = mlmAdapt ?? Subprocess.sibling("mlm-adapt")
        let help = (try? Subprocess.run(executable, ["classify", "--help"], allowFailure: true))?.output ?? ""
        let cliHasPrecision = help.contains("--precision")
        let hasTorch = !noReference && TrainStepBenchmark.torchAvailable()
        if !noReference && !hasTorch { print("PyTorch/transformers not importable: reference skipped") }
        if !cliHasPrecision { print("\(executable) has no --precision option yet: only its default (fp32) runs") }
        print("\(examples) train / \(devExamples) dev examples, \(epochs) epochs, batch \(batchSize), lr \(lr), max length \(maxSeqLength), \(threads) threads")
        print("task     | texts | words/text | ours precision | ours s | torch fp32 s | ratio | torch bf16 s | ratio")
        for task in list(tasks) {
            for length in list(lengths) {
                let data = folder.appendingPathComponent("\(task)-\(length)")
                let (train, dev, meanWords) = try writeTask(task, length: length, words: words, into: data)
                var torch: [Bool: Double] = [:]
                if hasTorch {
                    for autocast in [false, true] {
                        torch[autocast] = reference(task: task, train: train, dev: dev, autocast: autocast)
                    }
                }
                let ourPrecisions = cliHasPrecision ? list(precisions) : ["fp32"]
                for precision in ourPrecisions {
                    var arguments = [
                        task, "--init", initModel, "--train", train.path, "--validation", dev.path,
                        "--epochs", "\(epochs)", "--batch-size", "\(batchSize)", "--lr", "\(lr)",
                        "--max-seq-length", "\(maxSeqLength)", "--threads", "\(threads)", "--patience", "0",
                        "--output-dir", data.appendingPathComponent("run-\(precision)").path, "--no-save",
                    ]
                    if cliHasPrecision { arguments += ["--precision", precision] }
                    let result = try Subprocess.run(
                        executable, arguments, log: data.appendingPathComponent("run-\(precision).log"))
                    let logged = result.output.split(separator: "\n").first { $0.hasPrefix("precision:") }
                    let ours = result.seconds
                    func column(_ value: Double?) -> String {
                        value.map { String(format: "%8.1f | %.2f×", $0, $0 / ours) } ?? "       - | -"
                    }
                    let ran = logged.map { String($0.dropFirst("precision: ".count).prefix(4)) } ?? precision
                    func pad(_ text: String, _ width: Int) -> String { text.padding(toLength: width, withPad: " ", startingAt: 0) }
                    print(pad(task, 8) + " | " + pad(length, 5) + " | " + String(format: "%10.0f", meanWords) + " | "
                        + pad(ran == precision ? ran : "\(precision)→\(ran)", 14) + " | " + String(format: "%6.1f", ours) + " | "
                        + column(torch[false]) + " | " + column(torch[true]))
                }
            }
        }
    }

    /// Lower-case alphabetic words of the corpus (its first 4 MB), or a fixed list when it is absent.
    static func words(from path: String) throws -> [String] {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            return "the licensee shall not distribute modify or sublicense any part of this software without prior written permission of the copyright holder"
                .split(separator: " ").map(String.init)
        }
        defer { try? handle.close() }
        let text = String(decoding: handle.readData(ofLength: 4 << 20), as: UTF8.self)
        let words = text.split { !$0.isLetter }.map { $0.lowercased() }.filter { $0.count > 1 }
        guard words.count >= 100 else { throw ValidationError("--corpus \(path) holds fewer than 100 words") }
        return words
    }

    /// Writes train and dev files; returns their paths and the mean words per text.
    func writeTask(_ task: String, length: String, words: [String], into folder: URL) throws -> (URL, URL, Double) {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        // About 1.3 WordPiece tokens per word: 22 words ≈ 30 tokens; long texts overflow the maximum length.
        let count = length == "short" ? 22 : maxSeqLength
        var generator = SplitMix64(state: task == "ner" ? 2 : 1)  // the same tasks on every run
        var totalWords = 0
        func text(_ index: Int) -> [String] {
            let start = Int(generator.next() % UInt64(max(1, words.count - count)))
            var piece = Array(words[start..<min(words.count, start + count)])
            if task == "ner" {
                // Capitalised runs are the entities to tag.
                for i in piece.indices where generator.next() % 6 == 0 { piece[i] = piece[i].capitalized }
            } else if index % 2 == 1 {
                piece[Int(generator.next() % UInt64(piece.count))] = "warranty"
            }
            totalWords += piece.count
            return piece
        }
        let ext = task == "ner" ? "conll" : "tsv"
        let urls = ["train", "dev"].map { folder.appendingPathComponent("\($0).\(ext)") }
        for (url, n) in zip(urls, [examples, devExamples]) {
            var out = task == "ner" ? "" : "text\tlabel\n"
            for i in 0..<n {
                let piece = text(i)
                if task == "ner" {
                    var previousEntity = false
                    for word in piece {
                        let entity = word.first?.isUppercase == true
                        out += "\(word) \(entity ? (previousEntity ? "I-ENT" : "B-ENT") : "O")\n"
                        previousEntity = entity
                    }
                    out += "\n"
                } else {
                    out += piece.joined(separator: " ") + "\t" + (piece.contains("warranty") ? "claim" : "other") + "\n"
                }
            }
            try out.write(to: url, atomically: true, encoding: .utf8)
        }
        return (urls[0], urls[1], Double(totalWords) / Double(examples + devExamples))
    }

    func reference(task: String, train: URL, dev: URL, autocast: Bool) -> Double? {
        var arguments = [
            Self.referenceScript.path, "--task", task, "--model", initModel, "--train", train.path,
            "--validation", dev.path, "--epochs", "\(epochs)", "--batch", "\(batchSize)", "--lr", "\(lr)",
            "--max-length", "\(maxSeqLength)", "--threads", "\(threads)",
        ]
        if autocast { arguments.append("--autocast") }
        guard let seconds = TrainStepBenchmark.referenceFigure(arguments, key: "seconds") else {
            print("PyTorch reference (\(task), autocast \(autocast)) failed")
            return nil
        }
        return seconds
    }
}

