import ArgumentParser
import Corpus
import Foundation
import Masking
import Tokenizer

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
    @Option(name: .customLong("init"), help: "Base model (HF folder with vocab.txt).")
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
            nerLearningRate: nerLr, nerTrainExamples: nerTrainExamples ?? (quick ? 1200 : nil), threads: threads, quick: quick)
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
        let outURL = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: outURL, withIntermediateDirectories: true)
        try results.markdown(context: context, svgName: "\(name).svg")
            .write(to: outURL.appendingPathComponent("\(name).md"), atomically: true, encoding: .utf8)
        try results.csv().write(to: outURL.appendingPathComponent("\(name).csv"), atomically: true, encoding: .utf8)
        try results.svg().write(to: outURL.appendingPathComponent("\(name).svg"), atomically: true, encoding: .utf8)
        print(results.mainTable().markdown())
        print("wrote \(out)/\(name).md, .csv, .svg" + (context.wallSeconds.map { String(format: " (%.0f s in all)", $0) } ?? ""))
    }

    // MARK: masking throughput

    /// Masks the same tokenized batches of the corpus with every strategy and seed; tokens/s of the
    /// strategies alone (tokenization done before the clock starts), single-threaded as in the trainer.
    func measureMaskingThroughput(_ plan: MaskingStrategiesPlan) throws -> [String: [UInt64: Double]] {
        let vocabURL = URL(fileURLWithPath: plan.initModel).appendingPathComponent("vocab.txt")
        guard FileManager.default.fileExists(atPath: vocabURL.path) else {
            print("note: \(vocabURL.path) not found: masking throughput not measured")
            return [:]
        }
        let vocabulary = try Vocabulary(contentsOf: vocabURL)
        let tokenizer = WordPieceTokenizer(vocabulary: vocabulary)
        let options = CorpusOptions(
            sources: [plan.corpus], mode: .documents, maxSeqLength: plan.maxSeqLength, shuffleBufferSize: 0)
        let streamer = try CorpusStreamer(options: options, tokenizer: tokenizer)
        var batches: [TokenBatch] = []
        let batchCount = plan.quick ? 64 : 256
        while batches.count < batchCount {
            var batch = TokenBatch(batchSize: plan.batchSize, seqLength: plan.maxSeqLength, padId: vocabulary.padId)
            guard try streamer.nextBatch(into: &batch) else { break }
            batches.append(batch)
        }
        let realTokens = batches.reduce(0) { sum, batch in sum + batch.attentionMask.reduce(0) { $0 + Int($1) } }
        let maskingVocabulary = try MaskingVocabulary(
            size: vocabulary.count, maskId: vocabulary.maskId, specialIds: vocabulary.specialIds)
        var results: [String: [UInt64: Double]] = [:]
        for name in plan.strategies {
            guard let kind = MaskingStrategyKind(rawValue: name) else { continue }
            let strategy = try makeMaskingStrategy(MaskingOptions(strategy: kind, probability: 0.15), vocabulary: maskingVocabulary)
            var masked = MaskedBatch(batchSize: plan.batchSize, seqLength: plan.maxSeqLength)
            for seed in plan.seeds {
                // One untimed pass sizes the buffers; the best of three timed passes resists other load.
                for (index, batch) in batches.enumerated() {
                    strategy.mask(batch, seed: seed, epoch: 0, batchIndex: index, into: &masked)
                }
                var best = Double.infinity
                for pass in 1...3 {
                    let start = DispatchTime.now()
                    for (index, batch) in batches.enumerated() {
                        strategy.mask(batch, seed: seed, epoch: pass, batchIndex: index, into: &masked)
                    }
                    best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9)
                }
                results[name, default: [:]][seed] = Double(realTokens) / best
            }
        }
        return results
    }

    static let maskingFileName = "masking-throughput.json"

    func saveMaskingThroughput(_ values: [String: [UInt64: Double]], to work: URL) throws {
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let flat = values.mapValues { bySeed in Dictionary(uniqueKeysWithValues: bySeed.map { (String($0.key), $0.value) }) }
        let data = try JSONSerialization.data(withJSONObject: flat, options: [.sortedKeys, .prettyPrinted])
        try data.write(to: work.appendingPathComponent(Self.maskingFileName))
    }

    func loadMaskingThroughput(from work: URL) throws -> [String: [UInt64: Double]] {
        let data = try Data(contentsOf: work.appendingPathComponent(Self.maskingFileName))
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: [String: Double]] else { return [:] }
        return object.mapValues { bySeed in
            Dictionary(uniqueKeysWithValues: bySeed.compactMap { key, value in UInt64(key).map { ($0, value) } })
        }
    }
}

/// Every setting of one benchmark run, after defaults.
struct MaskingStrategiesPlan: Sendable {
    var corpus: String
    var initModel: String
    var strategies: [String]
    var seeds: [UInt64]
    var steps: Int
    var batchSize: Int
    var maxSeqLength: Int
    var evalEvery: Int
    var evalBatches: Int
    var classifyTask: String
    var classifyEpochs: Int
    var classifyLearningRate: Double
    var classifyTrainExamples: Int?
    var classifyDevExamples: Int?
    var classifyTestExamples: Int?
    /// nil: no NER.
    var nerTask: String?
    var nerEpochs: Int
    var nerLearningRate: Double
    var nerTrainExamples: Int?
    var threads: Int?
    var quick: Bool

    /// The variant label of the un-adapted model.
    static let baseVariant = "base"

    var variants: [String] { [Self.baseVariant] + strategies }
    var tokensPerRun: Int { steps * batchSize * maxSeqLength }

    /// Seed for the fine-tuning subsamples: fixed, so every variant and seed sees the same examples.
    static let subsampleSeed: UInt64 = 20_240_601

    func seedFolder(_ work: URL, _ seed: UInt64) -> URL { work.appendingPathComponent("seed-\(seed)") }
    func adaptFolder(_ work: URL, _ seed: UInt64, _ strategy: String) -> URL {
        seedFolder(work, seed).appendingPathComponent(strategy).appendingPathComponent("adapt")
    }
    func fineTuneFolder(_ work: URL, _ seed: UInt64, _ variant: String, _ kind: String) -> URL {
        seedFolder(work, seed).appendingPathComponent(variant).appendingPathComponent(kind)
    }
    func dataFolder(_ work: URL, _ kind: String) -> URL { work.appendingPathComponent("data").appendingPathComponent(kind) }
}

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

// MARK: subsampling

/// `count` rows of a `text<TAB>label` TSV (header kept), drawn per label in proportion to its share
/// (at least one per label), in file order. All rows when `count` is not below the row count.
func subsampleTSV(_ text: String, count: Int, seed: UInt64, source: String) throws -> String {
    var lines = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
    guard !lines.isEmpty else { throw ReportInputError(description: "\(source): empty file") }
    let header = lines.removeFirst()
    guard let labelColumn = header.split(separator: "\t", omittingEmptySubsequences: false).firstIndex(of: "label") else {
        throw ReportInputError(description: "\(source):1: no 'label' column in the header")
    }
    guard count < lines.count else { return text }
    var byLabel: [String: [Int]] = [:]
    for (index, line) in lines.enumerated() {
        let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
        guard labelColumn < fields.count else {
            throw ReportInputError(description: "\(source):\(index + 2): fewer than \(labelColumn + 1) tab-separated fields")
        }
        byLabel[String(fields[labelColumn]), default: []].append(index)
    }
    var generator = SplitMix64(state: seed)
    var chosen: [Int] = []
    for label in byLabel.keys.sorted() {
        let indices = byLabel[label] ?? []
        let share = max(1, Int((Double(count) * Double(indices.count) / Double(lines.count)).rounded()))
        chosen += indices.shuffled(using: &generator).prefix(share)
    }
    return ([header] + chosen.sorted().map { lines[$0] }).joined(separator: "\n") + "\n"
}

/// `count` sentences (blank-line separated blocks) of a CoNLL file, seeded, in file order.
func subsampleCoNLL(_ text: String, count: Int, seed: UInt64) -> String {
    let sentences = text.components(separatedBy: "\n\n").map { $0.trimmingCharacters(in: .newlines) }.filter { !$0.isEmpty }
    guard count < sentences.count else { return text }
    var generator = SplitMix64(state: seed)
    let chosen = Array(sentences.indices).shuffled(using: &generator).prefix(count).sorted()
    return chosen.map { sentences[$0] }.joined(separator: "\n\n") + "\n"
}

// MARK: results

/// How and where the report was made; saved beside the runs so `--report-only` keeps it.
struct ReportContext: Codable {
    var command: String
    var machine: MachineFacts
    var loadAtEnd: String?
    var wallSeconds: Double?
    var mlmAdapt: String?
    /// Given on the command line of the report being written, not saved.
    var notes: [String] = []

    enum CodingKeys: String, CodingKey { case command, machine, loadAtEnd, wallSeconds, mlmAdapt }

    static func load(_ url: URL) throws -> ReportContext {
        try JSONDecoder().decode(ReportContext.self, from: Data(contentsOf: url))
    }

    func save(_ url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: url, options: .atomic)
    }
}

/// The runs of a work folder, read back and summarised over seeds.
struct MaskingStrategiesResults {
    let plan: MaskingStrategiesPlan
    /// [strategy: [seed: metrics]]
    let adaptation: [String: [UInt64: AdaptationMetrics]]
    /// [variant: [seed: scores]]
    let classification: [String: [UInt64: FineTuneScores]]
    let ner: [String: [UInt64: FineTuneScores]]
    /// [strategy: [seed: tokens/s]]
    let maskingThroughput: [String: [UInt64: Double]]
    /// Wall seconds of each kind of run, summed over all runs found.
    let runSeconds: [String: Double]

    /// Reads every run of the plan that is present; missing runs leave gaps.
    static func load(plan: MaskingStrategiesPlan, work: URL, maskingThroughput: [String: [UInt64: Double]]) throws
        -> MaskingStrategiesResults {
        var adaptation: [String: [UInt64: AdaptationMetrics]] = [:]
        var classification: [String: [UInt64: FineTuneScores]] = [:]
        var ner: [String: [UInt64: FineTuneScores]] = [:]
        var seconds: [String: Double] = [:]
        let fm = FileManager.default
        func wall(_ folder: URL) -> Double? {
            (try? String(contentsOf: folder.appendingPathComponent("wall-seconds.txt"), encoding: .utf8))
                .flatMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        for seed in plan.seeds {
            for strategy in plan.strategies {
                let folder = plan.adaptFolder(work, seed, strategy)
                let metrics = folder.appendingPathComponent("metrics.jsonl")
                if fm.fileExists(atPath: metrics.path) {
                    adaptation[strategy, default: [:]][seed] = try AdaptationMetrics.read(metrics)
                    seconds["adapt", default: 0] += wall(folder) ?? 0
                }
            }
            for variant in plan.variants {
                // Only the kinds this plan runs: a folder may hold runs of an earlier plan.
                for (kind, isNER) in [("classify", false)] + (plan.nerTask == nil ? [] : [("ner", true)]) {
                    let folder = plan.fineTuneFolder(work, seed, variant, kind)
                    let report = folder.appendingPathComponent("report.json")
                    guard fm.fileExists(atPath: report.path) else { continue }
                    let scores = try FineTuneScores.read(report)
                    if isNER { ner[variant, default: [:]][seed] = scores } else { classification[variant, default: [:]][seed] = scores }
                    seconds[kind, default: 0] += wall(folder) ?? 0
                }
            }
        }
        return MaskingStrategiesResults(
            plan: plan, adaptation: adaptation, classification: classification, ner: ner,
            maskingThroughput: maskingThroughput, runSeconds: seconds)
    }

    // MARK: per-seed figures

    /// Per seed, the value of figure `key` for `variant`. The base model's MLM figures are the
    /// step-0 evaluations (before any update) of that seed's adaptation runs.
    func perSeed(_ key: String, _ variant: String) -> [UInt64: Double] {
        var values: [UInt64: Double] = [:]
        for seed in plan.seeds {
            if let value = figure(key, variant, seed) { values[seed] = value }
        }
        return values
    }

    private func evalPoint(_ variant: String, _ seed: UInt64) -> EvalPoint? {
        if variant == MaskingStrategiesPlan.baseVariant {
            return plan.strategies.lazy.compactMap { adaptation[$0]?[seed]?.first }.first { $0.step == 0 }
        }
        return adaptation[variant]?[seed]?.last
    }

    private func figure(_ key: String, _ variant: String, _ seed: UInt64) -> Double? {
        switch key {
        case "masking_tokens_per_s": return maskingThroughput[variant]?[seed]
        case "train_tokens_per_s": return adaptation[variant]?[seed]?.trainTokensPerSecond
        case "eval_token_loss": return evalPoint(variant, seed)?.loss["token"]
        case "eval_token_acc": return evalPoint(variant, seed)?.accuracy["token"]
        case "eval_whole_word_loss": return evalPoint(variant, seed)?.loss["whole_word"]
        case "eval_whole_word_acc": return evalPoint(variant, seed)?.accuracy["whole_word"]
        case "classify_accuracy": return classification[variant]?[seed]?.testAccuracy
        case "classify_macro_f1": return classification[variant]?[seed]?.testMacroF1
        case "ner_entity_f1": return ner[variant]?[seed]?.testEntityF1
        default: return nil
        }
    }

    // MARK: tables

    static let columns: [ReportColumn] = [
        ReportColumn(key: "masking_tokens_per_s", title: "masking M tok/s", digits: 1, scale: 1e-6),
        ReportColumn(key: "train_tokens_per_s", title: "train tok/s", digits: 0),
        ReportColumn(key: "eval_token_loss", title: "MLM loss (token eval)", digits: 3),
        ReportColumn(key: "eval_token_acc", title: "MLM acc % (token eval)", digits: 2, scale: 100),
        ReportColumn(key: "eval_whole_word_loss", title: "MLM loss (whole-word eval)", digits: 3),
        ReportColumn(key: "eval_whole_word_acc", title: "MLM acc % (whole-word eval)", digits: 2, scale: 100),
        ReportColumn(key: "classify_accuracy", title: "legal-category acc %", digits: 2, scale: 100),
        ReportColumn(key: "classify_macro_f1", title: "legal-category macro-F1 %", digits: 2, scale: 100),
        ReportColumn(key: "ner_entity_f1", title: "WNUT-16 entity F1 %", digits: 2, scale: 100),
    ]

    /// Columns that have at least one value (NER may be skipped, masking throughput may be absent).
    private var presentColumns: [ReportColumn] {
        Self.columns.filter { column in plan.variants.contains { !perSeed(column.key, $0).isEmpty } }
    }

    func mainTable() -> ReportTable {
        let rows = plan.variants.map { variant in
            ReportRow(
                label: variant == MaskingStrategiesPlan.baseVariant ? "base (not adapted)" : variant,
                values: Dictionary(uniqueKeysWithValues: Self.columns.compactMap { column in
                    MeanStd(Array(perSeed(column.key, variant).values)).map { (column.key, $0) }
                }))
        }
        return ReportTable(rowTitle: "variant", columns: presentColumns, rows: rows)
    }

    /// Per-seed differences between variants (b − a), which cancels what the two runs of a seed share.
    func pairedTable() -> ReportTable {
        let quality = presentColumns.filter { !$0.key.hasSuffix("tokens_per_s") }
        var pairs: [(String, String)] = []
        if plan.strategies.contains("token") {
            pairs += plan.strategies.filter { $0 != "token" }.map { ("token", $0) }
        }
        pairs += plan.strategies.map { (MaskingStrategiesPlan.baseVariant, $0) }
        let rows = pairs.map { a, b in
            ReportRow(label: "\(b) − \(a)", values: Dictionary(uniqueKeysWithValues: quality.compactMap { column in
                let differences = pairedDifferences(
                    Dictionary(uniqueKeysWithValues: perSeed(column.key, a).map { (Int($0.key), $0.value) }),
                    Dictionary(uniqueKeysWithValues: perSeed(column.key, b).map { (Int($0.key), $0.value) }))
                return MeanStd(differences).map { (column.key, $0) }
            }))
        }
        return ReportTable(rowTitle: "difference", columns: quality, rows: rows)
    }

    func csv() -> String { mainTable().csv() }

    // MARK: chart

    func lossCurves(scheme: String) -> [CurveSeries] {
        plan.strategies.enumerated().map { index, strategy in
            let runs = plan.seeds.compactMap { adaptation[strategy]?[$0] }
            let steps = Set(runs.flatMap { $0.evals.map(\.step) }).sorted()
            let points = steps.compactMap { step -> CurvePoint? in
                let values = runs.compactMap { run in run.evals.first { $0.step == step }?.loss[scheme] }
                return MeanStd(values).map { CurvePoint(x: Double(step), mean: $0.mean, std: $0.std) }
            }
            return CurveSeries(name: strategy, color: chartPalette[(index + 1) % chartPalette.count], points: points)
        }
    }

    /// Per step, the held-out loss of each strategy minus the token-masking run of the same seed (mean ± std
    /// over seeds), under both eval maskings: the curves' gaps, which the shared loss scale hides.
    func lossDifferenceCurves() -> [CurveSeries] {
        guard plan.strategies.contains("token") else { return [] }
        var series: [CurveSeries] = []
        for strategy in plan.strategies where strategy != "token" {
            for (scheme, label, dashed) in [("token", "token eval", false), ("whole_word", "whole-word eval", true)] {
                var byStep: [Int: [Double]] = [:]
                for seed in plan.seeds {
                    guard let run = adaptation[strategy]?[seed], let reference = adaptation["token"]?[seed] else { continue }
                    for point in run.evals {
                        if let value = point.loss[scheme],
                           let base = reference.evals.first(where: { $0.step == point.step })?.loss[scheme] {
                            byStep[point.step, default: []].append(value - base)
                        }
                    }
                }
                let points = byStep.keys.sorted().compactMap { step in
                    MeanStd(byStep[step] ?? []).map { CurvePoint(x: Double(step), mean: $0.mean, std: $0.std) }
                }
                let index = (plan.strategies.firstIndex(of: strategy) ?? 0) + 1
                series.append(CurveSeries(name: "\(strategy), \(label)", color: chartPalette[index % chartPalette.count],
                                          points: points, dashed: dashed))
            }
        }
        return series
    }

    func svg() -> String {
        let downstream = [("classify_accuracy", "legal acc"), ("classify_macro_f1", "legal macro-F1"),
                          ("ner_entity_f1", "WNUT-16 F1")].filter { key, _ in plan.variants.contains { !perSeed(key, $0).isEmpty } }
        let bars = plan.variants.enumerated().map { index, variant in
            BarSeries(name: variant == MaskingStrategiesPlan.baseVariant ? "base" : variant,
                      color: chartPalette[index % chartPalette.count],
                      values: downstream.map { key, _ in MeanStd(Array(perSeed(key, variant).values)) })
        }
        let document = SVGDocument(
            panels: [
                LineChart(title: "Held-out MLM loss, token eval masks", xLabel: "step", yLabel: "loss",
                          series: lossCurves(scheme: "token")),
                LineChart(title: "Held-out MLM loss, whole-word eval masks", xLabel: "step", yLabel: "loss",
                          series: lossCurves(scheme: "whole_word")),
                LineChart(title: "Loss minus the token run (same seed)", xLabel: "step", yLabel: "loss difference",
                          series: lossDifferenceCurves()),
                BarChart(title: "Downstream test scores", yLabel: "score", groups: downstream.map(\.1), series: bars),
            ],
            caption: "mean ± std over \(plan.seeds.count) seed(s); \(plan.steps) steps × \(plan.batchSize) × \(plan.maxSeqLength) tokens per run"
                + (plan.quick ? " (quick run)" : ""))
        return document.render()
    }

    // MARK: Markdown

    func markdown(context: ReportContext, svgName: String) -> String {
        let p = plan
        var lines = ["# Masking strategies for domain adaptation on legal text" + (p.quick ? " (quick run)" : ""), ""]
        lines.append("Generated by `\(context.command)`.")
        lines.append("")
        lines += context.machine.markdownLines
        if let executable = context.mlmAdapt { lines.append("- mlm-adapt: `\(executable)`") }
        lines += context.notes.map { "- Note: \($0)" }
        if let load = context.loadAtEnd { lines.append("- Load average at the end (1/5/15 min): \(load)") }
        if let wall = context.wallSeconds {
            let parts = runSeconds.keys.sorted().map { "\($0) \(formatNumber(runSeconds[$0] ?? 0, digits: 0)) s" }
            lines.append("- Wall time: \(formatNumber(wall, digits: 0)) s (" + parts.joined(separator: ", ") + ")")
        }
        lines += ["", "## Setup", ""]
        lines.append("- Base model `\(p.initModel)`, corpus `\(p.corpus)`; strategies \(p.strategies.joined(separator: ", ")); "
            + "seeds \(p.seeds.map(String.init).joined(separator: ", ")).")
        lines.append("- Adaptation: \(p.steps) steps × \(p.batchSize) sequences × \(p.maxSeqLength) tokens = "
            + "\(formatNumber(Double(p.tokensPerRun), digits: 0)) tokens per run, the trainer's default optimiser settings. "
            + "One seed fixes the data order, the new MLM-head weights and dropout, so the strategies of a seed start from "
            + "the same weights and see the same batches; only the masks differ.")
        lines.append("- Held-out MLM: \(p.evalBatches) batches of the trainer's held-out split, masked once with token masking and "
            + "once with whole-word masking (15%) under a fixed seed, so every run is scored on the same masks; "
            + "evaluated every \(p.evalEvery) steps. The table shows the last evaluation. "
            + "The base row is the evaluation at step 0 (all-MiniLM-L6-v2 ships without an MLM head: its transform is freshly "
            + "initialised, so the base MLM loss is high and the first steps mostly fit the head).")
        lines.append("- legal-category: `mlm-adapt classify`, \(p.classifyEpochs) epoch(s) at lr \(p.classifyLearningRate), "
            + (p.classifyTrainExamples.map { "\($0) train" } ?? "all train") + " / "
            + (p.classifyDevExamples.map { "\($0) dev" } ?? "all dev") + " / "
            + (p.classifyTestExamples.map { "\($0) test" } ?? "all test")
            + " examples (stratified seeded subsamples, the same for every run); test accuracy and macro-F1 at the dev "
            + "epoch with the best macro-F1.")
        if let ner = p.nerTask {
            lines.append("- `\(ner)`: `mlm-adapt ner`, \(p.nerEpochs) epoch(s) at lr \(p.nerLearningRate), "
                + (p.nerTrainExamples.map { "\($0) train sentences" } ?? "all train sentences")
                + ", full dev and test; test entity F1 (seqeval, micro).")
        }
        if p.nerTask == nil { lines.append("- WNUT-16 NER: not run (`--quick` skips it: short runs predict only O; `--include-ner` adds it).") }
        lines.append("- Masking throughput: each strategy masks the same pre-tokenized batches of the corpus "
            + "(best of three passes, one thread, per seed); training tokens/s is the trainer's own figure over its "
            + "training steps (evaluation and checkpoint time excluded).")
        lines += ["", "## Results (mean ± std over seeds)", "", mainTable().markdown()]
        lines += ["## Paired differences (per seed, then mean ± std)", "",
                  "Runs of one seed share initial weights and data order, so per-seed differences remove that noise. "
                  + "Loss: negative is better; accuracy and F1: positive is better.", "", pairedTable().markdown()]
        lines += ["![held-out loss curves and downstream scores](\(svgName))", ""]
        let missing = missingRuns()
        if !missing.isEmpty { lines += ["Missing runs (not in the work folder): " + missing.joined(separator: ", ") + ".", ""] }
        return lines.joined(separator: "\n")
    }

    func missingRuns() -> [String] {
        var missing: [String] = []
        for seed in plan.seeds {
            for strategy in plan.strategies where adaptation[strategy]?[seed] == nil { missing.append("seed \(seed) \(strategy) adapt") }
            for variant in plan.variants {
                if classification[variant]?[seed] == nil { missing.append("seed \(seed) \(variant) classify") }
                if plan.nerTask != nil && ner[variant]?[seed] == nil { missing.append("seed \(seed) \(variant) ner") }
            }
        }
        return missing
    }
}
