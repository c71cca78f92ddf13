import Foundation

/// Runs the adaptations and fine-tunings as `mlm-adapt` subprocesses.
struct MaskingStrategiesRunner {
    let plan: MaskingStrategiesPlan
    let work: URL
    let mlmAdapt: String
    let reuse: Bool

    var runs: MLMAdaptRuns { MLMAdaptRuns(mlmAdapt: mlmAdapt, reuse: reuse) }

    func checkPrerequisites() throws {
        var files = [plan.corpus, plan.initModel] + ["train.tsv", "dev.tsv", "test.tsv"].map { "\(plan.classifyTask)/\($0)" }
        if let ner = plan.nerTask { files += ["train.conll", "dev.conll", "test.conll"].map { "\(ner)/\($0)" } }
        try runs.checkPrerequisites(subcommands: ["adapt", "classify"] + (plan.nerTask == nil ? [] : ["ner"]), files: files)
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
        arguments += plan.adaptExtra
        return try runs.adapt(arguments, steps: plan.steps, folder: folder, label: "seed \(seed) \(strategy) adapt").checkpoint
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

    private func fineTune(
        _ command: String, seed: UInt64, variant: String, initModel: String, data: URL, fileExtension: String,
        training: [String]
    ) throws {
        let folder = plan.fineTuneFolder(work, seed, variant, command)
        let arguments = MLMAdaptRuns.fineTuneArguments(
            command, initModel: initModel, files: .init(folder: data, fileExtension: fileExtension), training: training,
            seed: seed, maxSeqLength: plan.maxSeqLength, threads: plan.threads, folder: folder)
        try runs.fineTune(arguments, folder: folder, label: "seed \(seed) \(variant) \(command)")
    }

    // MARK: fine-tuning data

    /// The task files, or stratified seeded subsamples of them when the plan caps the sizes.
    func prepareClassificationData() throws -> URL {
        guard plan.classifyTrainExamples != nil || plan.classifyDevExamples != nil || plan.classifyTestExamples != nil else {
            return URL(fileURLWithPath: plan.classifyTask)
        }
        let folder = plan.dataFolder(work, "classify")
        try writeSubsampledTask(
            from: URL(fileURLWithPath: plan.classifyTask), to: folder,
            files: [("train.tsv", plan.classifyTrainExamples), ("dev.tsv", plan.classifyDevExamples),
                    ("test.tsv", plan.classifyTestExamples)],
            seed: MaskingStrategiesPlan.subsampleSeed)
        return folder
    }

    func prepareNERData() throws -> URL? {
        guard let task = plan.nerTask else { return nil }
        guard let limit = plan.nerTrainExamples else { return URL(fileURLWithPath: task) }
        let folder = plan.dataFolder(work, "ner")
        try writeSubsampledTask(
            from: URL(fileURLWithPath: task), to: folder,
            files: [("train.conll", limit), ("dev.conll", nil), ("test.conll", nil)], seed: MaskingStrategiesPlan.subsampleSeed)
        return folder
    }
}
