import ArgumentParser
import Foundation

/// `mlm-bench adaptation`: does adaptation pay off downstream? Fine-tunes the general base, DAPT, a
/// general-text control with the DAPT token budget, TAPT and DAPT+TAPT on legal-category (all and 500
/// examples), BBC and WNUT-16 with paired seeds. Drives the real `mlm-adapt` CLI; finished runs are reused.
struct AdaptationStudyBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "adaptation",
        abstract: "General base vs DAPT, control, TAPT and DAPT+TAPT: downstream scores over paired seeds, held-out MLM, tokens seen.",
        discussion: """
            Step 0 (unless --base): `mlm-adapt --corpus <general> --init <init> --head-warmup-steps N --max-steps N` fits \
            the MLM head on general text with the encoder frozen. Every variant starts from that base (dapt+tapt from the \
            DAPT checkpoint) and is adapted once with seed 1; each is scored with `mlm-adapt evaluate` on the legal and \
            general held-out splits, then fine-tuned per task, per seed, per variant (so paired comparisons fill in first). \
            Runs go to --work-dir; a run whose folder holds the same command and its results is reused, so a study can be \
            finished over several sittings. The report (<out>/<name>.md, .csv, .svg) is rewritten after every finished \
            run, missing cells shown as –. Recipes: --adapt-lr and --adapt-extra pass options to every adaptation run; \
            their runs go to a folder named by --recipe-name (default: from the options), so recipes never reuse each \
            other's runs (the base is shared).
            Example: mlm-bench adaptation --quick
            Example: mlm-bench adaptation --adapt-extra "--layer-lr-decay 0.8 --encoder-lr 5e-5" --tasks legal-500
            """)

    @Option(name: .customLong("init"), help: "The model the base starts from (HF folder with vocab.txt).")
    var initFrom = "cache/models/all-MiniLM-L6-v2"
    @Option(help: "A ready general base (checkpoint or run folder) instead of step 0.") var base: String?
    @Option(help: "General-English corpus: the base's head fit and the control's text.") var generalCorpus = "Corpora/general.txt"
    @Option(help: "Domain corpus for DAPT.") var legalCorpus = "Corpora/legal.txt"
    @Option(help: "Table whose --text-column is the TAPT text (the task's unlabeled training texts).")
    var taptCorpus = "Corpora/tasks/legal-category/train.tsv"
    @Option(help: "Column of --tapt-corpus with the text.") var textColumn = "text"
    @Option(help: "Head-only steps of the base (default: 400; --quick: 150).") var baseSteps: Int?
    @Option(help: "DAPT steps; the control runs as many (default: 400; --quick: 60).") var daptSteps: Int?
    @Option(help: "TAPT steps, alone and after DAPT (default: the DAPT steps).") var taptSteps: Int?
    @Option(help: "Adaptation sequences per step.") var batchSize = 16
    @Option(help: "Adaptation tokens per sequence (also the held-out MLM's).") var maxSeqLength = 128
    @Option(help: "Adaptation masking: token, whole-word or span.") var mask = "whole-word"
    @Flag(help: "Start the adaptation runs from mlm-adapt's recipes: --recipe dapt (dapt, control), --recipe tapt (tapt, dapt+tapt); the study's steps still win.")
    var recipes = false
    @Option(help: "Peak learning rate of the adaptation runs (default: mlm-adapt's, or the recipe's).") var adaptLr: Double?
    @Option(parsing: .unconditional, help: "More mlm-adapt options for the adaptation runs, space-separated, e.g. \"--layer-lr-decay 0.8\".")
    var adaptExtra = ""
    @Option(help: "Folder name of this recipe's runs (default: from --recipes, --adapt-lr and --adapt-extra, 'default' without them).")
    var recipeName: String?
    @Option(help: "Fine-tuning seeds, the same for every variant (default: 3; --quick: 2).") var seeds: Int?
    @Option(help: "The first seed; the others follow it.") var firstSeed: UInt64 = 1
    @Option(help: "Comma-separated tasks, in the order they run (default: \(defaultTasks); --quick: \(quickTasks)).")
    var tasks: String?
    @Option(help: "legal-category task folder (train/dev/test.tsv).") var legalTask = "Corpora/tasks/legal-category"
    @Option(help: "BBC task folder (train/dev/test.tsv).") var bbcTask = "Corpora/tasks/bbc"
    @Option(help: "WNUT-16 task folder (train/dev/test.conll).") var nerTask = "Corpora/tasks/wnut16"
    @Option(name: .customLong("legal-500-train-examples"), help: "Train examples of legal-500 (default: 500; --quick: 300).") var legal500TrainExamples: Int?
    @Option(help: "Train examples of bbc, a random subset per seed (default: all; --quick: 300).") var bbcTrainExamples: Int?
    @Option(help: "Train sentences of wnut16 (default: all).") var nerTrainExamples: Int?
    @Option(name: .customLong("legal-500-epochs"), help: "legal-500 epochs (default: 4; --quick: 2).") var legal500Epochs: Int?
    @Option(help: "legal-full epochs.") var legalFullEpochs = 2
    @Option(help: "bbc epochs.") var bbcEpochs = 2
    @Option(help: "wnut16 epochs.") var nerEpochs = 3
    @Option(name: .customLong("legal-500-lr"), help: "legal-500 peak learning rate.") var legal500Lr = 1e-4
    @Option(help: "legal-full peak learning rate.") var legalFullLr = 1e-4
    @Option(help: "bbc peak learning rate.") var bbcLr = 1e-4
    @Option(help: "wnut16 peak learning rate.") var nerLr = 2e-4
    @Option(name: .customLong("legal-500-max-seq-length"), help: "legal-500 tokens per example (default: 128; --quick: 64).") var legal500MaxSeqLength: Int?
    @Option(help: "legal-full tokens per example (default: 128; --quick: 64).") var legalFullMaxSeqLength: Int?
    @Option(help: "bbc tokens per example (default: 128; --quick: 64).") var bbcMaxSeqLength: Int?
    @Option(help: "wnut16 tokens per sentence (default: 128; --quick: 64).") var nerMaxSeqLength: Int?
    @Option(help: "Dev examples that pick the best epoch, a seeded subset; 0: all (the test set is always scored whole).")
    var maxValidationExamples = 300
    @Option(help: "Held-out MLM batches per corpus and variant.") var mlmEvalBatches = 20
    @Flag(help: "Short adaptations, 2 seeds, legal-500 and bbc on 300 examples: about 30 minutes on 2 cores.") var quick = false
    @Option(help: "Worker threads for mlm-adapt (default: its own).") var threads: Int?
    @Option(help: "Folder for the results.") var out = "Benchmarks/results"
    @Option(help: "Base name of the result files (default: adaptation-study[-quick]).") var name: String?
    @Option(help: "Folder for the runs (default: <out>/tmp/<name>).") var workDir: String?
    @Option(help: "The mlm-adapt executable (default: next to this one).") var mlmAdapt: String?
    @Flag(help: "Rerun everything instead of reusing finished runs.") var fresh = false
    @Flag(help: "Only rebuild the report from the runs already in --work-dir.") var reportOnly = false
    @Option(help: "A line for the report's header, e.g. which build of mlm-adapt ran (repeatable).") var note: [String] = []

    static let defaultTasks = StudyTask.ID.allCases.map(\.rawValue).joined(separator: ",")
    static let quickTasks = "legal-500,bbc"

    var resultName: String { name ?? "adaptation-study\(quick ? "-quick" : "")" }

    func validate() throws {
        _ = try plan()
    }

    /// The settings after applying the --quick and plain defaults.
    func plan() throws -> AdaptationStudyPlan {
        let seedCount = seeds ?? (quick ? 2 : 3)
        if seedCount < 1 { throw ValidationError("--seeds \(seedCount) must be at least 1") }
        let resolvedBaseSteps = baseSteps ?? (quick ? 150 : 400)
        let resolvedDaptSteps = daptSteps ?? (quick ? 60 : 400)
        let resolvedTaptSteps = taptSteps ?? resolvedDaptSteps
        for (option, value) in [("--base-steps", resolvedBaseSteps), ("--dapt-steps", resolvedDaptSteps),
                                ("--tapt-steps", resolvedTaptSteps), ("--batch-size", batchSize), ("--mlm-eval-batches", mlmEvalBatches)]
        where value < 1 {
            throw ValidationError("\(option) \(value) must be at least 1")
        }
        if maxSeqLength < 8 { throw ValidationError("--max-seq-length \(maxSeqLength) must be at least 8") }
        if maxValidationExamples < 0 { throw ValidationError("--max-validation-examples \(maxValidationExamples) must be 0 (all) or more") }
        let names = (tasks ?? (quick ? Self.quickTasks : Self.defaultTasks)).split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }
        var chosen: [StudyTask] = []
        for name in names {
            guard let id = StudyTask.ID(rawValue: name) else {
                throw ValidationError("--tasks: unknown task '\(name)' (\(Self.defaultTasks))")
            }
            if chosen.contains(where: { $0.id == id }) { throw ValidationError("--tasks: '\(name)' is listed twice") }
            chosen.append(try task(id))
        }
        if chosen.isEmpty { throw ValidationError("--tasks: give at least one task") }
        let extra = adaptExtra.split(whereSeparator: \.isWhitespace).map(String.init)
        let recipe = recipeName ?? AdaptationStudyPlan.recipeLabel(useRecipes: recipes, learningRate: adaptLr, extra: extra)
        if recipe.isEmpty || recipe == "base" || recipe == "data" || recipe.contains("/") || recipe.hasPrefix(".") {
            throw ValidationError("--recipe-name '\(recipe)' must be a plain folder name other than 'base' and 'data'")
        }
        return AdaptationStudyPlan(
            initModel: initFrom, generalCorpus: generalCorpus, legalCorpus: legalCorpus, taptCorpus: taptCorpus,
            taptTextColumn: textColumn, givenBase: base, baseSteps: resolvedBaseSteps, daptSteps: resolvedDaptSteps,
            taptSteps: resolvedTaptSteps, batchSize: batchSize, maxSeqLength: maxSeqLength, mask: mask,
            useRecipes: recipes, adaptLearningRate: adaptLr, adaptExtra: extra, recipeName: recipe,
            seeds: (0..<UInt64(seedCount)).map { firstSeed + $0 }, tasks: chosen,
            maxValidationExamples: maxValidationExamples == 0 ? nil : maxValidationExamples, mlmEvalBatches: mlmEvalBatches,
            threads: threads, quick: quick)
    }

    private func task(_ id: StudyTask.ID) throws -> StudyTask {
        let quickLength = quick ? 64 : 128
        let task: StudyTask
        switch id {
        case .legal500:
            task = StudyTask(id: id, source: legalTask, trainExamples: legal500TrainExamples ?? (quick ? 300 : 500),
                             epochs: legal500Epochs ?? (quick ? 2 : 4), learningRate: legal500Lr,
                             maxSeqLength: legal500MaxSeqLength ?? quickLength)
        case .legalFull:
            task = StudyTask(id: id, source: legalTask, trainExamples: nil, epochs: legalFullEpochs, learningRate: legalFullLr,
                             maxSeqLength: legalFullMaxSeqLength ?? quickLength)
        case .bbc:
            task = StudyTask(id: id, source: bbcTask, trainExamples: bbcTrainExamples ?? (quick ? 300 : nil), epochs: bbcEpochs,
                             learningRate: bbcLr, maxSeqLength: bbcMaxSeqLength ?? quickLength)
        case .wnut16:
            task = StudyTask(id: id, source: nerTask, trainExamples: nerTrainExamples, epochs: nerEpochs, learningRate: nerLr,
                             maxSeqLength: nerMaxSeqLength ?? quickLength)
        }
        if task.epochs < 1 { throw ValidationError("\(id.rawValue): epochs \(task.epochs) must be at least 1") }
        if task.maxSeqLength < 8 { throw ValidationError("\(id.rawValue): max-seq-length \(task.maxSeqLength) must be at least 8") }
        if let count = task.trainExamples, count < 1 {
            throw ValidationError("\(id.rawValue): train examples \(count) must be at least 1")
        }
        return task
    }

    func run() throws {
        let plan = try plan()
        let work = URL(fileURLWithPath: workDir ?? "\(out)/tmp/\(resultName)")
        let executable = mlmAdapt ?? Subprocess.sibling("mlm-adapt")
        let runInfo = work.appendingPathComponent("run-info.json")
        if reportOnly {
            var context = (try? ReportContext.load(runInfo)) ?? ReportContext(
                command: "(unknown: no run-info.json in \(work.path))", machine: MachineFacts.collect(), loadAtEnd: nil,
                wallSeconds: nil, mlmAdapt: executable)
            context.notes = note
            try writeReport(plan: plan, work: work, context: context, final: true)
            return
        }
        let started = Date()
        var context = ReportContext(
            command: shellQuoted(["mlm-bench"] + Array(CommandLine.arguments.dropFirst())), machine: MachineFacts.collect(),
            loadAtEnd: nil, wallSeconds: nil, mlmAdapt: executable)
        context.notes = note
        func report(final: Bool) throws {
            context.loadAtEnd = currentLoadAverage()
            context.wallSeconds = Date().timeIntervalSince(started)
            try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
            try context.save(runInfo)
            try writeReport(plan: plan, work: work, context: context, final: final)
        }
        var runner = AdaptationStudyRunner(plan: plan, work: work, mlmAdapt: executable, reuse: !fresh)
        runner.afterRun = { try report(final: false) }
        try runner.checkPrerequisites()
        do {
            try runner.runAll()
        } catch {
            // What finished so far still makes a (partial) report.
            try? report(final: true)
            throw error
        }
        try report(final: true)
    }

    /// Rewrites <out>/<name>.md, .csv and .svg from the runs in `work`; `final` also prints the table.
    func writeReport(plan: AdaptationStudyPlan, work: URL, context: ReportContext, final: Bool) throws {
        let results = try AdaptationStudyResults.load(plan: plan, work: work)
        try writeReportFiles(out: out, name: resultName, markdown: results.markdown(context: context, svgName: "\(resultName).svg"),
                             csv: results.csv(), svg: results.svg())
        guard final else { return }
        print(results.scoreTable().markdown())
        print(results.pairedMarkdown())
        print("wrote \(out)/\(resultName).md, .csv, .svg")
    }
}
