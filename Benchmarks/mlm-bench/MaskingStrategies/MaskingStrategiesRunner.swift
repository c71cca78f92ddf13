import Foundation

/// Runs the adaptations and fine-tunings as `mlm-adapt` subprocesses.
struct MaskingStrategiesRunner {
    let plan: MaskingStrategiesPlan
    let work: URL
    let mlmAdapt: String
    let reuse: Bool

    func checkPrerequisites() throws {
        guard FileManager.default.isExecutableFile(atPath: mlmAdapt) else {
            throw SubprocessError(description: "\(mlmAdapt) not found: build it in the same configuration "
                + "(swift build -c release --product mlm-adapt) or pass --mlm-adapt PATH")
        }
        let help = try Subprocess.run(mlmAdapt, ["--help"], allowFailure: true).output
        var missing: [String] = []
        for command in ["classify"] + (plan.nerTask == nil ? [] : ["ner"]) where !help.contains(command) {
            missing.append(command)
        }
        if !help.contains("--mask") && !help.contains("adapt") { missing.append("adapt") }
        if !missing.isEmpty {
            throw SubprocessError(description: "\(mlmAdapt) lacks the subcommand(s) \(missing.joined(separator: ", ")) this benchmark drives")
        }
        var required = [plan.corpus, plan.initModel] + ["train.tsv", "dev.tsv", "test.tsv"].map { "\(plan.classifyTask)/\($0)" }
        if let ner = plan.nerTask { required += ["train.conll", "dev.conll", "test.conll"].map { "\(ner)/\($0)" } }
        for path in required where !FileManager.default.fileExists(atPath: path) {
            throw SubprocessError(description: "\(path) not found: run Corpora/fetch.sh first")
        }
    }

    func runAll() throws {
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let classifyData = try prepareClassificationData()
        let nerData = try prepareNERData()
        for seed in plan.seeds {
            try fineTune(seed: seed, variant: MaskingStrategiesPlan.baseVariant, initModel: plan.initModel,
                         classifyData: classifyData, nerData: nerData)
            for strategy in plan.strategies {
                let checkpoint = try adapt(seed: seed, strategy: strategy)
                try fineTune(seed: seed, variant: strategy, initModel: checkpoint.path,
                             classifyData: classifyData, nerData: nerData)
            }
        }
    }

    // MARK: runs

    /// Runs `mlm-adapt` once (or reuses a finished run with the same command); returns the final checkpoint.
    func adapt(seed: UInt64, strategy: String) throws -> URL {
        let folder = plan.adaptFolder(work, seed, strategy)
        var arguments = [
            "--corpus", plan.corpus, "--init", plan.initModel, "--mask", strategy, "--seed", String(seed),
            "--max-steps", String(plan.steps), "--batch-size", String(plan.batchSize),
            "--max-seq-length", String(plan.maxSeqLength), "--eval-every", String(plan.evalEvery),
            "--eval-batches", String(plan.evalBatches), "--save-every", "0", "--keep-last", "1",
            "--output-dir", folder.path,
        ]
        if let threads = plan.threads { arguments += ["--threads", String(threads)] }
        let finished = { () -> Bool in
            guard let metrics = try? AdaptationMetrics.read(folder.appendingPathComponent("metrics.jsonl")) else { return false }
            return metrics.trainSteps >= plan.steps && (try? latestCheckpoint(in: folder)) != nil
        }
        try runOnce(arguments, folder: folder, label: "seed \(seed) \(strategy) adapt", finished: finished)
        // The optimizer moments are only for resuming; the benchmark never resumes, so free the disk.
        if let files = try? FileManager.default.contentsOfDirectory(atPath: folder.path) {
            for file in files where file.contains(".optimizer.") {
                try? FileManager.default.removeItem(at: folder.appendingPathComponent(file))
            }
        }
        return try latestCheckpoint(in: folder)
    }

    func fineTune(seed: UInt64, variant: String, initModel: String, classifyData: URL, nerData: URL?) throws {
        try fineTune(
            "classify", seed: seed, variant: variant, initModel: initModel, data: classifyData, fileExtension: "tsv",
            training: ["--epochs", String(plan.classifyEpochs), "--lr", String(plan.classifyLearningRate), "--metric", "macro-f1"])
        guard let nerData else { return }
        try fineTune(
            "ner", seed: seed, variant: variant, initModel: initModel, data: nerData, fileExtension: "conll",
            training: ["--epochs", String(plan.nerEpochs), "--lr", String(plan.nerLearningRate)])
    }

    /// One `mlm-adapt classify|ner` run on `data`'s train/dev/test files, `training` options in the middle
    /// (the argument order is part of `runOnce`'s record, so finished runs are still recognised).
    private func fineTune(
        _ command: String, seed: UInt64, variant: String, initModel: String, data: URL, fileExtension: String,
        training: [String]
    ) throws {
        let folder = plan.fineTuneFolder(work, seed, variant, command)
        var arguments = [
            command, "--init", initModel,
            "--train", data.appendingPathComponent("train.\(fileExtension)").path,
            "--validation", data.appendingPathComponent("dev.\(fileExtension)").path,
            "--test", data.appendingPathComponent("test.\(fileExtension)").path,
        ] + training + [
            "--seed", String(seed),
            "--max-seq-length", String(plan.maxSeqLength), "--output-dir", folder.path, "--no-save",
        ]
        if let threads = plan.threads { arguments += ["--threads", String(threads)] }
        try runOnce(arguments, folder: folder, label: "seed \(seed) \(variant) \(command)") {
            FileManager.default.fileExists(atPath: folder.appendingPathComponent("report.json").path)
        }
    }

    /// Runs `mlm-adapt arguments` into `folder` unless a finished run with the same arguments is there.
    /// `command.txt` records the arguments; a run that did not finish is cleared and rerun.
    func runOnce(_ arguments: [String], folder: URL, label: String, finished: () -> Bool) throws {
        let fm = FileManager.default
        let commandFile = folder.appendingPathComponent("command.txt")
        let command = shellQuoted([mlmAdapt] + arguments) + "\n"
        if reuse, (try? String(contentsOf: commandFile, encoding: .utf8)) == command, finished() {
            FileHandle.standardError.write(Data("[\(label)] reusing the finished run in \(folder.path)\n".utf8))
            return
        }
        if fm.fileExists(atPath: folder.path) { try fm.removeItem(at: folder) }
        try fm.createDirectory(at: folder, withIntermediateDirectories: true)
        try command.write(to: commandFile, atomically: true, encoding: .utf8)
        let log = folder.deletingLastPathComponent().appendingPathComponent(folder.lastPathComponent + ".log")
        let result = try Subprocess.run(mlmAdapt, arguments, log: log, echoPrefix: "[\(label)] ")
        try String(format: "%.3f\n", result.seconds).write(
            to: folder.appendingPathComponent("wall-seconds.txt"), atomically: true, encoding: .utf8)
        guard finished() else {
            throw SubprocessError(description: "[\(label)] mlm-adapt exited 0 but left no results in \(folder.path) (log: \(log.path))")
        }
    }

    /// The checkpoint the run's `latest` pointer names.
    func latestCheckpoint(in folder: URL) throws -> URL {
        let pointer = folder.appendingPathComponent("latest")
        guard let name = try? String(contentsOf: pointer, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
              !name.isEmpty else {
            throw SubprocessError(description: "\(pointer.path): missing or empty (the run saved no checkpoint)")
        }
        let checkpoint = folder.appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: checkpoint.path) else {
            throw SubprocessError(description: "\(pointer.path) names \(name), which is not in \(folder.path)")
        }
        return checkpoint
    }

    // MARK: fine-tuning data

    /// The task files, or stratified seeded subsamples of them when the plan caps the sizes.
    func prepareClassificationData() throws -> URL {
        guard plan.classifyTrainExamples != nil || plan.classifyDevExamples != nil || plan.classifyTestExamples != nil else {
            return URL(fileURLWithPath: plan.classifyTask)
        }
        let folder = plan.dataFolder(work, "classify")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for (file, limit) in [("train.tsv", plan.classifyTrainExamples), ("dev.tsv", plan.classifyDevExamples),
                              ("test.tsv", plan.classifyTestExamples)] {
            let source = URL(fileURLWithPath: plan.classifyTask).appendingPathComponent(file)
            let text = try readText(source)
            let sampled = try limit.map { try subsampleTSV(text, count: $0, seed: MaskingStrategiesPlan.subsampleSeed, source: source.path) } ?? text
            try sampled.write(to: folder.appendingPathComponent(file), atomically: true, encoding: .utf8)
        }
        return folder
    }

    func prepareNERData() throws -> URL? {
        guard let task = plan.nerTask else { return nil }
        guard let limit = plan.nerTrainExamples else { return URL(fileURLWithPath: task) }
        let folder = plan.dataFolder(work, "ner")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for file in ["train.conll", "dev.conll", "test.conll"] {
            let text = try readText(URL(fileURLWithPath: task).appendingPathComponent(file))
            let sampled = file == "train.conll" ? subsampleCoNLL(text, count: limit, seed: MaskingStrategiesPlan.subsampleSeed) : text
            try sampled.write(to: folder.appendingPathComponent(file), atomically: true, encoding: .utf8)
        }
        return folder
    }

    private func readText(_ url: URL) throws -> String {
        do { return try String(contentsOf: url, encoding: .utf8) } catch {
            throw SubprocessError(description: "\(url.path): cannot read: \(error.localizedDescription)")
        }
    }
}
