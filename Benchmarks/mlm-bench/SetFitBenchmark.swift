import ArgumentParser
import Classification
import FewShot
import Foundation

/// `mlm-adapt setfit` beside the setfit library on the same seeded few-shot subsets, with the frozen
/// baseline and a full fine-tune on the same examples.
struct SetFitBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "setfit",
        abstract: "SetFit accuracy, macro-F1 and wall time beside the setfit library, on the same few-shot subsets.",
        discussion: """
            For each task (Corpora/tasks/<task>/{train,dev,test}.tsv), K and seed, draws the subset with \
            FewShotData.sample (K per class, as setfit.sample_dataset) into --work, then runs on that one file: \
            `mlm-adapt setfit` (ours), `setfit --no-contrastive` (the frozen baseline), `mlm-adapt classify` \
            (full fine-tune, dev picks the epoch) and Benchmarks/reference/setfit_reference.py (the setfit \
            library, the same recipe: num_iterations, 1 epoch, batch 16, lr 2e-5). Accuracy and macro-F1 are \
            on the test file. Wall time: the whole run each side (loading, training, head, scoring the test \
            file: ours reads it as --validation, so it is scored once). With --adapted C, also SetFit from C \
            beside SetFit from the base model on --adapted-task at --adapted-k.
            """)

    @Option(help: "Base model (a sentence-transformers folder) both sides start from.")
    var initModel = "cache/models/all-MiniLM-L6-v2"
    @Option(help: "Folder holding the tasks.") var tasksFolder = "Corpora/tasks"
    @Option(help: "Comma-separated tasks.") var tasks = "bbc,legal-category"
    @Option(help: "Comma-separated examples per class.") var k = "8,16"
    @Option(help: "Comma-separated seeds (one subset and run per seed).") var seeds = "1,2,3"
    @Option var numIterations = SetFitOptions.defaults.numIterations
    @Option var maxSeqLength = SetFitOptions.defaults.maxSeqLength
    @Option var threads = 2
    @Option(help: "Epochs of the full fine-tune on the K examples (classify; dev picks the best).") var fineTuneEpochs = 10
    @Option(help: "An adapted checkpoint (e.g. a legal adapt run) to compare with the base under SetFit.") var adapted: String?
    @Option var adaptedTask = "legal-category"
    @Option var adaptedK = 16
    @Option(help: "Folder for the subsets, run folders and logs (default: a temporary folder).") var work: String?
    @Option(help: "The mlm-adapt executable (default: next to this one).") var mlmAdapt: String?
    @Option(help: "Also write the table here (Markdown).") var markdown: String?
    @Flag(help: "Skip the setfit library.") var noReference = false
    @Flag(help: "Skip the frozen baseline and the full fine-tune.") var noBaselines = false
    @Flag(help: "Run the setfit library under torch.autocast bf16 (the reference for our bf16 runs) instead of fp32.")
    var referenceAutocast = false

    static let referenceScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("reference/setfit_reference.py")

    func list(_ value: String) -> [String] { value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }

    func validate() throws {
        guard !list(k).compactMap(Int.init).isEmpty, list(k).allSatisfy({ (Int($0) ?? 0) > 0 }) else {
            throw ValidationError("--k: comma-separated positive counts, not '\(k)'")
        }
        guard list(seeds).allSatisfy({ UInt64($0) != nil }) else { throw ValidationError("--seeds: comma-separated integers, not '\(seeds)'") }
        guard numIterations > 0, threads > 0, fineTuneEpochs > 0 else {
            throw ValidationError("--num-iterations, --threads and --fine-tune-epochs must be positive")
        }
    }

    /// Accuracy, macro-F1 and wall time of one run.
    struct Figures {
        var accuracy: Double
        var macroF1: Double
        var seconds: Double
    }

    func run() throws {
        let fm = FileManager.default
        guard fm.fileExists(atPath: initModel) else {
            throw ValidationError("--init-model \(initModel) does not exist (run Corpora/fetch.sh)")
        }
        let folder = URL(fileURLWithPath: work ?? NSTemporaryDirectory() + "mlm-bench-setfit-\(getpid())")
        try fm.createDirectory(at: folder, withIntermediateDirectories: true)
        let executable = mlmAdapt ?? Subprocess.sibling("mlm-adapt")
        let hasSetFit = !noReference && (try? TrainStepBenchmark.runPython(["-c", "import setfit, datasets"]))?.status == 0
        if !noReference && !hasSetFit { print("the setfit library is not importable: reference skipped") }
        print("model \(initModel), num_iterations \(numIterations), max length \(maxSeqLength), \(threads) threads; work: \(folder.path)")
        if hasSetFit { print("setfit library: \(referenceAutocast ? "under torch.autocast bf16" : "fp32")") }
        var lines = ["| task | K | seed | ours acc | ours F1 | ours s | setfit acc | setfit F1 | setfit s | ratio | frozen acc | frozen F1 | fine-tune acc | fine-tune F1 |",
                     "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        func emit(_ line: String) { print(line); lines.append(line) }
        print(lines.joined(separator: "\n"))
        var summary: [String] = []
        for task in list(tasks) {
            let data = URL(fileURLWithPath: tasksFolder).appendingPathComponent(task)
            let train = try DataReader.readExamples(from: data.appendingPathComponent("train.tsv"))
            for perClass in list(k).compactMap(Int.init) {
                var rows: [[String: Figures]] = []
                for seed in list(seeds).compactMap(UInt64.init) {
                    let name = "\(task)-k\(perClass)-seed\(seed)"
                    let subset = folder.appendingPathComponent("\(name).tsv")
                    let sample = try FewShotData.sample(train, perClass: perClass, seed: seed, path: data.path + "/train.tsv")
                    try (["text\tlabel"] + sample.map { "\($0.text)\t\($0.label ?? "")" }).joined(separator: "\n").appending("\n")
                        .write(to: subset, atomically: true, encoding: .utf8)
                    var row: [String: Figures] = [:]
                    row["ours"] = try setfit(executable, model: initModel, subset: subset, data: data, seed: seed, name: name, in: folder)
                    if hasSetFit { row["setfit"] = reference(subset: subset, data: data, seed: seed) }
                    if !noBaselines {
                        row["frozen"] = try setfit(
                            executable, model: initModel, subset: subset, data: data, seed: seed, name: name + "-frozen", in: folder,
                            extra: ["--no-contrastive"])
                        row["fine-tune"] = try fineTune(executable, subset: subset, data: data, seed: seed, name: name, in: folder)
                    }
                    rows.append(row)
                    emit(tableRow(task, perClass, "\(seed)", row))
                }
                let mean = Self.mean(rows)
                emit(tableRow(task, perClass, "mean", mean))
                if let ours = mean["ours"], let theirs = mean["setfit"] {
                    summary.append(String(
                        format: "%@ K=%d: ours %.4f vs setfit %.4f accuracy (%+.1f points), %.1f× faster",
                        task, perClass, ours.accuracy, theirs.accuracy, 100 * (ours.accuracy - theirs.accuracy), theirs.seconds / ours.seconds))
                }
            }
        }
        if let adapted {
            let data = URL(fileURLWithPath: tasksFolder).appendingPathComponent(adaptedTask)
            let train = try DataReader.readExamples(from: data.appendingPathComponent("train.tsv"))
            var base: [Figures] = [], ours: [Figures] = []
            for seed in list(seeds).compactMap(UInt64.init) {
                let name = "\(adaptedTask)-k\(adaptedK)-seed\(seed)"
                let subset = folder.appendingPathComponent("\(name).tsv")
                let sample = try FewShotData.sample(train, perClass: adaptedK, seed: seed, path: data.path + "/train.tsv")
                try (["text\tlabel"] + sample.map { "\($0.text)\t\($0.label ?? "")" }).joined(separator: "\n").appending("\n")
                    .write(to: subset, atomically: true, encoding: .utf8)
                base.append(try setfit(executable, model: initModel, subset: subset, data: data, seed: seed, name: name, in: folder))
                ours.append(try setfit(executable, model: adapted, subset: subset, data: data, seed: seed, name: name + "-adapted", in: folder))
            }
            let b = Self.mean(base.map { ["x": $0] })["x"]!, a = Self.mean(ours.map { ["x": $0] })["x"]!
            summary.append(String(
                format: "%@ K=%d, SetFit from %@: accuracy %.4f, macro-F1 %.4f; from the base: %.4f, %.4f",
                adaptedTask, adaptedK, adapted, a.accuracy, a.macroF1, b.accuracy, b.macroF1))
        }
        for line in summary { print(line) }
        if let markdown {
            try (lines + [""] + summary).joined(separator: "\n").appending("\n").write(toFile: markdown, atomically: true, encoding: .utf8)
        }
    }

    func tableRow(_ task: String, _ k: Int, _ seed: String, _ row: [String: Figures]) -> String {
        func f(_ key: String, _ value: (Figures) -> Double, _ format: String) -> String {
            row[key].map { String(format: format, value($0)) } ?? "-"
        }
        let ratio = row["ours"].flatMap { ours in row["setfit"].map { String(format: "%.2f×", $0.seconds / ours.seconds) } } ?? "-"
        return "| \(task) | \(k) | \(seed) | " + [
            f("ours", \.accuracy, "%.4f"), f("ours", \.macroF1, "%.4f"), f("ours", \.seconds, "%.1f"),
            f("setfit", \.accuracy, "%.4f"), f("setfit", \.macroF1, "%.4f"), f("setfit", \.seconds, "%.1f"), ratio,
            f("frozen", \.accuracy, "%.4f"), f("frozen", \.macroF1, "%.4f"),
            f("fine-tune", \.accuracy, "%.4f"), f("fine-tune", \.macroF1, "%.4f"),
        ].joined(separator: " | ") + " |"
    }

    static func mean(_ rows: [[String: Figures]]) -> [String: Figures] {
        var result: [String: Figures] = [:]
        for key in Set(rows.flatMap(\.keys)) {
            let values = rows.compactMap { $0[key] }
            let n = Double(values.count)
            result[key] = Figures(
                accuracy: values.map(\.accuracy).reduce(0, +) / n, macroF1: values.map(\.macroF1).reduce(0, +) / n,
                seconds: values.map(\.seconds).reduce(0, +) / n)
        }
        return result
    }

    /// `mlm-adapt setfit` on the subset; the test file is read as --validation, so it is scored once.
    func setfit(_ executable: String, model: String, subset: URL, data: URL, seed: UInt64, name: String, in folder: URL,
                extra: [String] = []) throws -> Figures {
        let output = folder.appendingPathComponent(name)
        let result = try Subprocess.run(executable, [
            "setfit", "--init", model, "--train", subset.path, "--validation", data.appendingPathComponent("test.tsv").path,
            "--num-iterations", "\(numIterations)", "--max-seq-length", "\(maxSeqLength)", "--threads", "\(threads)",
            "--seed", "\(seed)", "--output-dir", output.path, "--no-save",
        ] + extra, log: folder.appendingPathComponent("\(name).log"))
        return try figures(report: output.appendingPathComponent("report.json"), split: "validation", seconds: result.seconds)
    }

    /// `mlm-adapt classify` on the same examples: dev picks the epoch, test is scored.
    func fineTune(_ executable: String, subset: URL, data: URL, seed: UInt64, name: String, in folder: URL) throws -> Figures {
        let output = folder.appendingPathComponent(name + "-fine-tune")
        let result = try Subprocess.run(executable, [
            "classify", "--init", initModel, "--train", subset.path, "--validation", data.appendingPathComponent("dev.tsv").path,
            "--test", data.appendingPathComponent("test.tsv").path, "--epochs", "\(fineTuneEpochs)", "--patience", "0",
            "--max-seq-length", "\(min(maxSeqLength, 512))", "--threads", "\(threads)", "--seed", "\(seed)",
            "--output-dir", output.path, "--no-save",
        ], log: folder.appendingPathComponent("\(name)-fine-tune.log"))
        return try figures(report: output.appendingPathComponent("report.json"), split: "test", seconds: result.seconds)
    }

    func figures(report: URL, split: String, seconds: Double) throws -> Figures {
        guard let object = try JSONSerialization.jsonObject(with: Data(contentsOf: report)) as? [String: Any],
            let metrics = (object[split] as? [String: Any])?["classification"] as? [String: Any],
            let accuracy = metrics["accuracy"] as? Double, let macroF1 = metrics["macroF1"] as? Double
        else { throw SubprocessError(description: "\(report.path): no \(split).classification accuracy and macroF1") }
        return Figures(accuracy: accuracy, macroF1: macroF1, seconds: seconds)
    }

    func reference(subset: URL, data: URL, seed: UInt64) -> Figures? {
        let arguments = [
            Self.referenceScript.path, "--model", initModel, "--train", subset.path,
            "--test", data.appendingPathComponent("test.tsv").path, "--num-iterations", "\(numIterations)",
            "--max-length", "\(maxSeqLength)", "--threads", "\(threads)", "--seed", "\(seed)",
        ] + (referenceAutocast ? ["--autocast"] : [])
        guard let json = TrainStepBenchmark.referenceJSON(arguments),
            let accuracy = json["accuracy"] as? Double, let macroF1 = json["macro_f1"] as? Double,
            let seconds = json["seconds"] as? Double
        else {
            print("setfit reference failed on \(subset.lastPathComponent)")
            return nil
        }
        return Figures(accuracy: accuracy, macroF1: macroF1, seconds: seconds + (json["test_seconds"] as? Double ?? 0))
    }
}
