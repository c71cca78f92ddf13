import ArgumentParser
import Foundation
import Masking

/// `mlm-bench masking-strategies`: adapts the same base model with token, whole-word and span masking
/// (same seeds, data order and token budget), then compares held-out MLM quality, throughput and
/// downstream fine-tuning, with the un-adapted base beside them. Drives the real `mlm-adapt` CLI.
struct MaskingStrategiesBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "masking-strategies",
        abstract: "Token vs whole-word vs span masking: adaptation, held-out MLM and downstream scores, mean ± std over seeds.",
        discussion: """
            For every seed and strategy: `mlm-adapt --mask STRATEGY --seed SEED` from --init on --corpus (the seed \
            fixes data order and initial head weights, so the strategies of one seed differ only in masking), then \
            `mlm-adapt classify` on --task and `mlm-adapt ner` on --ner-task from the adapted checkpoint. The base \
            model is fine-tuned with the same seeds. Held-out MLM figures come from the trainer's eval lines \
            (fixed token and whole-word eval masks); masking throughput is measured here on the same corpus.
            Writes <out>/<name>.md, .csv and .svg; runs go to --work-dir and finished ones are reused.
            Example: mlm-bench masking-strategies --quick
            """)

    @Option(help: "Adaptation corpus.") var corpus = "Corpora/legal.txt"
    @Option(name: .customLong("init"), help: "Base model: any starting point mlm-adapt takes (HF folder, run folder, checkpoint).")
    var initFrom = "cache/models/all-MiniLM-L6-v2"
    @Option(help: "Adaptation steps per run (default: 300; --quick: 40).") var steps: Int?
    @Option(help: "Seeds per strategy.") var seeds = 3
    @Option(help: "The first seed; the others follow it.") var firstSeed: UInt64 = 1
    @Flag(help: "Few steps, small evals, subsampled fine-tuning: about 30 minutes on 2 cores.") var quick = false
    @Option(help: "Comma-separated strategies.") var strategies = "token,whole-word,span"
    @Option(help: "Sequences per step.") var batchSize = 16
    @Option(help: "Tokens per sequence.") var maxSeqLength = 128
    @Option(help: "Evaluate every N steps (default: steps/4).") var evalEvery: Int?
    @Option(help: "Held-out batches per evaluation (default: 20; --quick: 6).") var evalBatches: Int?
    @Option(help: "Classification task folder with train/dev/test.tsv.") var task = "Corpora/tasks/legal-category"
    @Option(help: "Classification epochs (default: 3; --quick: 2).") var classifyEpochs: Int?
    @Option(help: "Classification peak learning rate.") var classifyLr = 1e-4
    @Option(help: "Classification train examples, stratified subsample (default: all; --quick: 600).")
    var classifyTrainExamples: Int?
    @Option(help: "Classification dev examples, for the best epoch (default: all; --quick: 200).")
    var classifyDevExamples: Int?
    @Option(help: "Classification test examples (default: all; --quick: 300).")
    var classifyTestExamples: Int?
    @Option(help: "NER task folder with train/dev/test.conll.") var nerTask = "Corpora/tasks/wnut16"
    @Flag(help: "Skip the NER fine-tuning (--quick skips it unless --include-ner).") var skipNer = false
    @Flag(help: "Run the NER fine-tuning in a --quick run too (about 12 more minutes).") var includeNer = false
    @Option(help: "NER epochs (default: 3; --quick: 4).") var nerEpochs: Int?
    @Option(help: "NER peak learning rate (smaller rates leave short runs predicting only O).") var nerLr = 2e-4
    @Option(help: "NER train sentences (default: all; --quick: 1200).") var nerTrainExamples: Int?
    @Option(help: "Worker threads for mlm-adapt (default: its own).") var threads: Int?
    @Option(parsing: .unconditional, help: "More mlm-adapt options for the adaptation runs, space-separated, e.g. \"--lr 1e-4\".")
    var adaptExtra = ""
    @Option(help: "Folder for the results.") var out = "Benchmarks/results"
    @Option(help: "Base name of the result files.") var name = "masking-strategies"
    @Option(help: "Folder for the runs (default: <out>/tmp/<name>[-quick]).") var workDir: String?
    @Option(help: "The mlm-adapt executable (default: next to this one).") var mlmAdapt: String?
    @Flag(help: "Rerun everything instead of reusing finished runs.") var fresh = false
    @Flag(help: "Only rebuild the report from the runs already in --work-dir (keeping that run's machine facts and times).")
    var reportOnly = false
    @Option(help: "A line for the report's header, e.g. which build of mlm-adapt ran (repeatable).") var note: [String] = []

    func validate() throws {
        if seeds < 1 { throw ValidationError("--seeds \(seeds) must be at least 1") }
        if let steps, steps < 1 { throw ValidationError("--steps \(steps) must be at least 1") }
        if batchSize < 1 || maxSeqLength < 8 { throw ValidationError("--batch-size must be ≥ 1 and --max-seq-length ≥ 8") }
        _ = try plan()
    }

    /// The settings after applying the --quick and plain defaults.
    func plan() throws -> MaskingStrategiesPlan {
        let kinds = strategies.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        for kind in kinds where MaskingStrategyKind(rawValue: kind) == nil {
            throw ValidationError("--strategies: unknown strategy '\(kind)' (token, whole-word, span)")
        }
        if kinds.isEmpty { throw ValidationError("--strategies: give at least one strategy") }
        let resolvedSteps = steps ?? (quick ? 40 : 300)
        return MaskingStrategiesPlan(
            corpus: corpus, initModel: initFrom, strategies: kinds,
            seeds: (0..<UInt64(seeds)).map { firstSeed + $0 }, steps: resolvedSteps, batchSize: batchSize,
            maxSeqLength: maxSeqLength, evalEvery: evalEvery ?? max(1, resolvedSteps / 4),
            evalBatches: evalBatches ?? (quick ? 6 : 20),
            classifyTask: task, classifyEpochs: classifyEpochs ?? (quick ? 2 : 3), classifyLearningRate: classifyLr,
            classifyTrainExamples: classifyTrainExamples ?? (quick ? 600 : nil),
            classifyDevExamples: classifyDevExamples ?? (quick ? 200 : nil),
            classifyTestExamples: classifyTestExamples ?? (quick ? 300 : nil),
            nerTask: skipNer || (quick && !includeNer) ? nil : nerTask, nerEpochs: nerEpochs ?? (quick ? 4 : 3),
            nerLearningRate: nerLr, nerTrainExamples: nerTrainExamples ?? (quick ? 1200 : nil), threads: threads,
            adaptExtra: adaptExtra.split(whereSeparator: \.isWhitespace).map(String.init), quick: quick)
    }

    func run() throws {
        let plan = try plan()
        let work = URL(fileURLWithPath: workDir ?? "\(out)/tmp/\(name)\(quick ? "-quick" : "")")
        let runner = MaskingStrategiesRunner(
            plan: plan, work: work, mlmAdapt: mlmAdapt ?? Subprocess.sibling("mlm-adapt"), reuse: !fresh)
        let runInfo = work.appendingPathComponent("run-info.json")
        let executable = mlmAdapt ?? Subprocess.sibling("mlm-adapt")
        var masking: [String: [UInt64: Double]] = [:]
        var context: ReportContext
        if reportOnly {
            masking = (try? loadMaskingThroughput(from: work)) ?? [:]
            context = (try? ReportContext.load(runInfo)) ?? ReportContext(
                command: "(unknown: no run-info.json in \(work.path))", machine: MachineFacts.collect(), loadAtEnd: nil,
                wallSeconds: nil, mlmAdapt: executable)
        } else {
            let machine = MachineFacts.collect()
            let started = Date()
            try runner.checkPrerequisites()
            masking = try measureMaskingThroughput(plan)
            try saveMaskingThroughput(masking, to: work)
            try runner.runAll()
            context = ReportContext(
                command: shellQuoted(["mlm-bench"] + Array(CommandLine.arguments.dropFirst())), machine: machine,
                loadAtEnd: currentLoadAverage(), wallSeconds: Date().timeIntervalSince(started), mlmAdapt: executable)
            try context.save(runInfo)
        }
        context.notes = note
        let results = try MaskingStrategiesResults.load(plan: plan, work: work, maskingThroughput: masking)
        try writeReportFiles(out: out, name: name, markdown: results.markdown(context: context, svgName: "\(name).svg"),
                             csv: results.csv(), svg: results.svg())
        print(results.mainTable().markdown())
        print("wrote \(out)/\(name).md, .csv, .svg" + (context.wallSeconds.map { String(format: " (%.0f s in all)", $0) } ?? ""))
    }
}
