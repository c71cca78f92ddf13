import Foundation

/// Runs the study as `mlm-adapt` subprocesses: the base, the adaptations, the held-out MLM scores,
/// then the fine-tunings, reusing every finished run.
struct AdaptationStudyRunner {
    let plan: AdaptationStudyPlan
    let work: URL
    let mlmAdapt: String
    let reuse: Bool
    /// Called after every run that ran (not after reused ones), so the report follows the study.
    var afterRun: () throws -> Void = {}

    var runs: MLMAdaptRuns { MLMAdaptRuns(mlmAdapt: mlmAdapt, reuse: reuse) }

    /// The file `evaluate --json`'s object is kept in.
    static let evalFile = "eval.json"

    func checkPrerequisites() throws {
        var files = [plan.generalCorpus, plan.legalCorpus, plan.taptCorpus, plan.givenBase ?? plan.initModel]
        for task in plan.tasks {
            files += ["train", "dev", "test"].map { "\(task.source)/\($0).\(task.kind.fileExtension)" }
        }
        let subcommands = ["adapt", "evaluate"] + Array(Set(plan.tasks.map(\.kind.rawValue))).sorted()
        try runs.checkPrerequisites(subcommands: subcommands, adaptOptions: ["--head-warmup-steps", "--text-column"],
                                    files: files)
    }

    func runAll() throws {
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        var checkpoints: [StudyVariant: String] = [:]
        for variant in plan.variants {
            let checkpoint = try adapt(variant, checkpoints: checkpoints)
            checkpoints[variant] = checkpoint
            for corpus in plan.mlmCorpora {
                try evaluate(variant, checkpoint: checkpoint, corpus: corpus)
            }
        }
        var files: [StudyTask.ID: MLMAdaptRuns.TaskFiles] = [:]
        for task in plan.tasks {
            files[task.id] = MLMAdaptRuns.TaskFiles(folder: URL(fileURLWithPath: task.source), fileExtension: task.kind.fileExtension)
        }
        for (task, seed, variant) in plan.fineTuneOrder {
            guard let initModel = checkpoints[variant], let taskFiles = files[task.id] else { continue }
            let folder = plan.fineTuneFolder(work, variant, task.id, seed: seed)
            let arguments = plan.fineTuneArguments(task, files: taskFiles, initModel: initModel, seed: seed, folder: folder)
            if try runs.fineTune(arguments, folder: folder, label: "\(task.id.rawValue) seed \(seed) \(variant.rawValue)") {
                try afterRun()
            }
        }
    }

    /// The variant's checkpoint: its own adaptation run from its parent's checkpoint (the base: from
    /// --init, unless --base names one).
    func adapt(_ variant: StudyVariant, checkpoints: [StudyVariant: String]) throws -> String {
        if variant == .base, let given = plan.givenBase { return given }
        let initModel: String
        if let parent = plan.parent(of: variant) {
            guard let checkpoint = checkpoints[parent] else {
                throw SubprocessError(description: "\(variant.rawValue) continues \(parent.rawValue), which has no checkpoint yet")
            }
            initModel = checkpoint
        } else {
            initModel = plan.initModel
        }
        let folder = plan.adaptFolder(work, variant)
        let (checkpoint, ran) = try runs.adapt(
            plan.adaptArguments(variant, initModel: initModel, folder: folder), steps: plan.steps(of: variant),
            folder: folder, label: "\(variant.rawValue) adapt")
        if ran { try afterRun() }
        return checkpoint.path
    }

    /// `mlm-adapt evaluate --json` of the checkpoint on the corpus's held-out split, kept in eval.json.
    func evaluate(_ variant: StudyVariant, checkpoint: String, corpus: (name: String, path: String)) throws {
        let folder = plan.mlmFolder(work, variant, corpus: corpus.name)
        let output = folder.appendingPathComponent(Self.evalFile)
        let ran = try runs.runOnce(
            plan.evaluateArguments(checkpoint: checkpoint, corpus: corpus.path), folder: folder,
            label: "\(variant.rawValue) mlm \(corpus.name)",
            record: { result in
                // Warnings go to the same pipe; the JSON object is the last line that starts with "{".
                guard let line = result.output.split(separator: "\n").last(where: { $0.hasPrefix("{") }) else { return }
                try Data(line.utf8).write(to: output)
            },
            finished: { (try? EvalPoint.readEvaluation(output)) != nil })
        if ran { try afterRun() }
    }
}
