import Foundation
import Testing
@testable import mlm_bench

/// The study harness against a fake `mlm-adapt` (a shell script taking the real CLI's arguments and
/// writing its output files), so the plan, the argument contract, reuse and the paired statistics are
/// checked without training anything.
@Suite struct AdaptationStudyTests {
    /// The variant a path belongs to, as a code: base 0, control 1, tapt 2, dapt 3, dapt+tapt 4.
    /// Test macro-F1 = 0.5 + seed/1000 + a variant offset (tapt: −0.01 on seed 2, else +0.02), accuracy
    /// 0.1 above it; held-out loss 5 − code/10 on legal and 4 + code/10 on general text.
    static let fakeCLI = fakeMLMAdapt("""
        out=$output_dir; init=${init:-$checkpoint}; steps=$max_steps; batch=$batch_size; length=$max_seq_length
        code() { case "$1" in */dapt+tapt/*) echo 4;; */dapt/*) echo 3;; */tapt/*) echo 2;; */control/*) echo 1;; *) echo 0;; esac; }
        case $sub in
        adapt)
          mkdir -p "$out"
          : > "$out/metrics.jsonl"
          for s in $(seq 1 "$steps"); do
            echo "{\\"type\\":\\"train\\",\\"step\\":$s,\\"tokens\\":$((batch * length))}" >> "$out/metrics.jsonl"
          done
          echo weights > "$out/step-$steps.safetensors.gz"
          echo moments > "$out/step-$steps.optimizer.safetensors.gz"
          echo "step-$steps.safetensors.gz" > "$out/latest" ;;
        evaluate)
          c=$(code "$init")
          case "$corpus" in *legal*) loss=$(awk "BEGIN { print 5 - $c / 10 }");; *) loss=$(awk "BEGIN { print 4 + $c / 10 }");; esac
          echo "warning: a line before the JSON" >&2
          echo "{\\"token_loss\\":$loss,\\"token_acc\\":0.3,\\"whole_word_loss\\":$(awk "BEGIN { print $loss + 1 }"),\\"whole_word_acc\\":0.2}" ;;
        classify)
          test -f "$train" && test -f "$test" || { echo "missing data" >&2; exit 3; }
          c=$(code "$init")
          case $c in 0) d=0;; 1) d=0.01;; 2) if [ "$seed" = 2 ]; then d=-0.01; else d=0.02; fi;; 3) d=0.03;; 4) d=0.04;; esac
          f1=$(awk "BEGIN { print 0.5 + $seed / 1000 + $d }")
          mkdir -p "$out"
          echo "{\\"test\\":{\\"classification\\":{\\"accuracy\\":$(awk "BEGIN { print $f1 + 0.1 }"),\\"macroF1\\":$f1}}}" > "$out/report.json" ;;
        ner)
          if [ "$seed" = 99 ]; then echo "boom" >&2; exit 7; fi
          mkdir -p "$out"
          echo "{\\"test\\":{\\"entities\\":{\\"f1\\":0.$(code "$init")}}}" > "$out/report.json" ;;
        esac
        """)

    struct Fixture {
        let fake: FakeCLIFolder
        var root: URL { fake.root }
        var cli: URL { fake.cli }
        var work: URL { root.appendingPathComponent("work") }
        var calls: [String] { fake.calls }

        init() throws {
            fake = try FakeCLIFolder(script: AdaptationStudyTests.fakeCLI)
            for folder in ["legal-task", "bbc-task", "ner-task", "init"] {
                try FileManager.default.createDirectory(at: root.appendingPathComponent(folder), withIntermediateDirectories: true)
            }
            for corpus in ["legal.txt", "general.txt"] {
                try "doc one\n\ndoc two\n".write(to: root.appendingPathComponent(corpus), atomically: true, encoding: .utf8)
            }
            for split in ["train", "dev", "test"] {
                let rows = (0..<40).map { "text \($0)\t\($0 % 4 == 0 ? "A" : "B")" }
                for task in ["legal-task", "bbc-task"] {
                    try (["text\tlabel"] + rows).joined(separator: "\n").write(
                        to: root.appendingPathComponent("\(task)/\(split).tsv"), atomically: true, encoding: .utf8)
                }
                try (0..<12).map { "w\($0)\tO\nx\($0)\tB-loc" }.joined(separator: "\n\n").write(
                    to: root.appendingPathComponent("ner-task/\(split).conll"), atomically: true, encoding: .utf8)
            }
        }

        /// The command line of a small study over this fixture's files.
        func arguments(_ extra: [String] = []) -> [String] {
            ["--init", path("init"), "--general-corpus", path("general.txt"), "--legal-corpus", path("legal.txt"),
             "--tapt-corpus", path("legal-task/train.tsv"), "--legal-task", path("legal-task"), "--bbc-task", path("bbc-task"),
             "--ner-task", path("ner-task"), "--base-steps", "3", "--dapt-steps", "2", "--tapt-steps", "4",
             "--batch-size", "2", "--max-seq-length", "16", "--legal-500-train-examples", "8", "--mlm-eval-batches", "1",
             "--work-dir", work.path, "--out", path("results"), "--mlm-adapt", cli.path] + extra
        }

        func plan(_ extra: [String] = []) throws -> AdaptationStudyPlan {
            try AdaptationStudyBenchmark.parse(arguments(extra)).plan()
        }

        func path(_ name: String) -> String { root.appendingPathComponent(name).path }
    }

    // MARK: plan

    @Test func defaultsAndQuickResolveToTheDocumentedPlan() throws {
        let full = try AdaptationStudyBenchmark.parse([]).plan()
        #expect(full.tasks.map(\.id) == [.legal500, .bbc, .wnut16, .legalFull])
        #expect(full.baseSteps == 400 && full.daptSteps == 400 && full.taptSteps == 400 && full.seeds == [1, 2, 3])
        #expect(full.tasks.map(\.epochs) == [4, 2, 3, 2] && full.tasks.map(\.learningRate) == [1e-4, 1e-4, 2e-4, 1e-4])
        #expect(full.tasks.map(\.trainExamples) == [500, nil, nil, nil] && full.tasks.allSatisfy { $0.maxSeqLength == 128 })
        #expect(full.tasks.map(\.kind) == [.classify, .classify, .ner, .classify])
        #expect(full.maxValidationExamples == 300 && full.recipeName == "default" && full.givenBase == nil)
        let quick = try AdaptationStudyBenchmark.parse(["--quick"]).plan()
        #expect(quick.tasks.map(\.id) == [.legal500, .bbc] && quick.tasks.map(\.trainExamples) == [300, 300])
        #expect(quick.tasks.map(\.epochs) == [2, 2] && quick.tasks.allSatisfy { $0.maxSeqLength == 64 })
        #expect(quick.baseSteps == 150 && quick.daptSteps == 60 && quick.taptSteps == 60 && quick.seeds == [1, 2])
        #expect(try AdaptationStudyBenchmark.parse(["--quick"]).resultName == "adaptation-study-quick")
        #expect(try AdaptationStudyBenchmark.parse(["--dapt-steps", "90"]).plan().taptSteps == 90)
        let ordered = try AdaptationStudyBenchmark.parse(["--tasks", "wnut16, legal-full", "--max-validation-examples", "0"]).plan()
        #expect(ordered.tasks.map(\.id) == [.wnut16, .legalFull] && ordered.maxValidationExamples == nil)
    }

    @Test(arguments: [
        (["--tasks", "legal-500,legal"], "unknown task 'legal'"),
        (["--tasks", "bbc,bbc"], "'bbc' is listed twice"),
        (["--seeds", "0"], "--seeds 0"),
        (["--dapt-steps", "0"], "--dapt-steps 0"),
        (["--recipe-name", "base"], "--recipe-name 'base'"),
        (["--legal-500-epochs", "0"], "legal-500: epochs 0"),
    ])
    func badSettingsAreRefusedByName(arguments: [String], message: String) {
        #expect {
            try AdaptationStudyBenchmark.parse(arguments)
        } throws: { error in
            AdaptationStudyBenchmark.message(for: error).contains(message)
        }
    }

    @Test func recipesGetTheirOwnFolderLevelAndCommandLines() throws {
        let parsed = try AdaptationStudyBenchmark.parse(
            ["--adapt-lr", "2e-5", "--adapt-extra", "--layer-lr-decay 0.8 --encoder-lr 5e-5"]).plan()
        #expect(parsed.adaptExtra == ["--layer-lr-decay", "0.8", "--encoder-lr", "5e-5"])
        #expect(parsed.recipeName == "lr-2e-05-layer-lr-decay-0.8-encoder-lr-5e-5")
        #expect(try AdaptationStudyBenchmark.parse(["--adapt-extra", "--encoder-lr 1e-5", "--recipe-name", "slow"]).plan().recipeName == "slow")
        let work = URL(fileURLWithPath: "/w")
        #expect(parsed.adaptFolder(work, .base).path == "/w/base/adapt")
        #expect(parsed.adaptFolder(work, .daptTapt).path == "/w/lr-2e-05-layer-lr-decay-0.8-encoder-lr-5e-5/dapt+tapt/adapt")
        #expect(parsed.fineTuneFolder(work, .control, .legal500, seed: 2).path
            == "/w/lr-2e-05-layer-lr-decay-0.8-encoder-lr-5e-5/control/legal-500/seed-2")
        #expect(parsed.mlmFolder(work, .base, corpus: "legal").path == "/w/base/mlm-legal")

        let base = parsed.adaptArguments(.base, initModel: "cache/models/all-MiniLM-L6-v2", folder: work)
        #expect(shellQuoted(base) == "--corpus Corpora/general.txt --init cache/models/all-MiniLM-L6-v2 --head-warmup-steps 400 "
            + "--max-steps 400 --seed 1 --mask whole-word --batch-size 16 --max-seq-length 128 --eval-every 0 --eval-batches 5 "
            + "--save-every 0 --keep-last 1 --output-dir /w")
        let dapt = parsed.adaptArguments(.dapt, initModel: "B", folder: work)
        #expect(shellQuoted(dapt) == "--corpus Corpora/legal.txt --init B --max-steps 400 --seed 1 --head-warmup-steps 0 --lr 2e-05 "
            + "--layer-lr-decay 0.8 --encoder-lr 5e-5 --mask whole-word --batch-size 16 --max-seq-length 128 --eval-every 0 "
            + "--eval-batches 5 --save-every 0 --keep-last 1 --output-dir /w")
        // The control differs from DAPT in its corpus only: the same steps and batch shape, so the same token budget.
        let control = parsed.adaptArguments(.control, initModel: "B", folder: work)
        #expect(Array(control.dropFirst(2)) == Array(dapt.dropFirst(2)) && control[1] == "Corpora/general.txt")
        let shipped = try AdaptationStudyBenchmark.parse(["--recipes"]).plan()
        #expect(shipped.recipeName == "recipes")
        #expect(shipped.adaptArguments(.control, initModel: "B", folder: work).joined(separator: " ").contains("--head-warmup-steps 0 --recipe dapt --mask"))
        #expect(shipped.adaptArguments(.daptTapt, initModel: "B", folder: work).joined(separator: " ").contains("--head-warmup-steps 0 --recipe tapt --mask"))
        #expect(!shipped.adaptArguments(.base, initModel: "B", folder: work).contains("--recipe"))
        let tapt = parsed.adaptArguments(.tapt, initModel: "B", folder: work)
        #expect(tapt.prefix(4) == ["--corpus", "Corpora/tasks/legal-category/train.tsv", "--text-column", "text"])
        #expect(parsed.parent(of: .daptTapt) == .dapt && parsed.parent(of: .tapt) == .base && parsed.parent(of: .base) == nil)
        #expect(shellQuoted(parsed.evaluateArguments(checkpoint: "C", corpus: "Corpora/legal.txt")) == "evaluate --checkpoint C "
            + "--corpus Corpora/legal.txt --validation-split 0.05 --eval-batches 20 --batch-size 16 --max-seq-length 128 "
            + "--mask whole-word,token --json")
    }

    @Test func fineTunesRunPerTaskThenSeedThenVariant() throws {
        let plan = try AdaptationStudyBenchmark.parse(["--tasks", "bbc,legal-500", "--seeds", "2"]).plan()
        let order = plan.fineTuneOrder.map { "\($0.task.id.rawValue) \($0.seed) \($0.variant.rawValue)" }
        #expect(order.count == 2 * 2 * 5)
        #expect(Array(order.prefix(6)) == ["bbc 1 base", "bbc 1 dapt", "bbc 1 control", "bbc 1 tapt", "bbc 1 dapt+tapt", "bbc 2 base"])
        #expect(order.last == "legal-500 2 dapt+tapt")
    }

    // MARK: runs and results

    @Test func runsTheStudyPairsSeedsAndReusesFinishedRuns() throws {
        let fixture = try Fixture()
        let plan = try fixture.plan(["--seeds", "3", "--tasks", "legal-500,wnut16"])
        var reports = 0
        var runner = AdaptationStudyRunner(plan: plan, work: fixture.work, mlmAdapt: fixture.cli.path, reuse: true)
        runner.afterRun = { reports += 1 }
        try runner.checkPrerequisites()
        try runner.runAll()
        // 5 adaptations, 2 held-out evaluations each, 2 tasks × 3 seeds × 5 variants; a report after every run.
        let calls = fixture.calls
        #expect(calls.count == 5 + 10 + 30 && reports == 45)
        #expect(calls.filter { $0.hasPrefix("evaluate") }.count == 10)
        let daptCheckpoint = plan.adaptFolder(fixture.work, .dapt).appendingPathComponent("step-2.safetensors.gz").path
        let daptTapt = try #require(calls.first { $0.contains("/dapt+tapt/adapt") })
        #expect(daptTapt.contains("--text-column text --init \(daptCheckpoint) --max-steps 4"))
        #expect(!FileManager.default.fileExists(atPath: plan.adaptFolder(fixture.work, .dapt).appendingPathComponent("step-2.optimizer.safetensors.gz").path))
        // legal-500 draws its subset with the fine-tune's seed and picks its epoch on the capped task dev file.
        let legal = try #require(calls.first { $0.hasPrefix("classify") })
        #expect(legal.contains("--train \(fixture.path("legal-task"))/train.tsv --validation \(fixture.path("legal-task"))/dev.tsv"))
        #expect(legal.contains("--max-train-examples 8 --epochs 4 --lr 0.0001 --metric macro-f1 --max-validation-examples 300 --seed 1 --max-seq-length 128"))
        #expect(calls.contains { $0.hasPrefix("ner --init \(fixture.work.path)/base/adapt/step-3.safetensors.gz") && $0.contains("--lr 0.0002") })

        let results = try AdaptationStudyResults.load(plan: plan, work: fixture.work)
        #expect(results.missingRuns().isEmpty && results.totalRuns == 45)
        let base = try #require(results.summary(.legal500, .macroF1, .base))
        #expect(abs(base.mean - 0.502) < 1e-12 && abs(base.std - 0.001) < 1e-12 && base.count == 3)
        let dapt = try #require(results.paired(.legal500, .macroF1, .base, .dapt))
        #expect(abs(dapt.differences.mean - 0.03) < 1e-12 && dapt.differences.std < 1e-12 && dapt.positive == 3)
        // tapt: +0.02, −0.01, +0.02 against the base over seeds 1…3.
        let tapt = try #require(results.paired(.legal500, .macroF1, .base, .tapt))
        #expect(abs(tapt.differences.mean - 0.01) < 1e-12 && abs(tapt.differences.std - 0.03.squareRoot() / 10) < 1e-12)
        #expect(tapt.positive == 2 && tapt.formatted(digits: 2, scale: 100) == "+1.00 ± 1.73 (2/3 > 0)")
        let daptMinusControl = try #require(results.paired(.legal500, .accuracy, .control, .dapt))
        #expect(abs(daptMinusControl.differences.mean - 0.02) < 1e-12)
        #expect(results.summary(.wnut16, .entityF1, .control) == MeanStd([0.1, 0.1, 0.1]))
        #expect(results.summary(.wnut16, .macroF1, .control) == nil)
        // Tokens: batch 2 × 16 per step; dapt+tapt = DAPT's 2 steps + its own 4.
        #expect(results.adaptation[.base]?.trainTokens == 3 * 32)
        #expect(results.tokensBeyondBase(.base) == 0 && results.tokensBeyondBase(.tapt) == 4 * 32)
        #expect(results.tokensBeyondBase(.daptTapt) == (2 + 4) * 32)
        #expect(results.mlm[.dapt]?["legal"] == EvalPoint(step: 0, loss: ["token": 4.7, "whole_word": 5.7], accuracy: ["token": 0.3, "whole_word": 0.2]))
        #expect(results.mlm[.control]?["general"]?.loss["token"] == 4.1)

        let markdown = results.markdown(context: Self.context(fixture), svgName: "s.svg")
        #expect(markdown.contains("| base | 60.20 ± 0.10 | 50.20 ± 0.10 | 0.00 ± 0.00 |"))
        #expect(markdown.contains("| dapt − base | +3.00 ± 0.00 (3/3 > 0) | +3.00 ± 0.00 (3/3 > 0) | +30.00 ± 0.00 (3/3 > 0) |"))
        #expect(markdown.contains("| dapt − control | +2.00 ± 0.00 (3/3 > 0) |"))
        #expect(markdown.contains("| dapt | 4.700 | 30.00 | 5.700 | 20.00 | 4.300 | 30.00 | 5.300 | 20.00 |"))
        #expect(markdown.contains("| dapt+tapt | \(plan.taptCorpus) | 4 | 128 | 192 |"))
        #expect(markdown.contains("- Runs finished: 45 of 45\n"))
        #expect(markdown.contains("![downstream scores and held-out MLM loss](s.svg)"))
        // The commands section shows each adaptation's recorded command and the first seed's fine-tunes only.
        #expect(markdown.contains(shellQuoted([fixture.cli.path] + daptTapt.split(separator: " ").map(String.init))))
        #expect(markdown.contains("/legal-500/seed-1 --no-save") && !markdown.contains("/legal-500/seed-2 --no-save"))
        let csv = results.csv()
        #expect(csv.hasPrefix("table,row,task,metric,n,mean,std,positive\n"))
        #expect(csv.contains("\npaired,tapt - base,legal-500,macro_f1,3,"))
        #expect(csv.contains("\ntokens,dapt+tapt,,beyond_base,1,192.0,,\n"))
        let svg = results.svg()
        #expect(svg.contains("Test macro-F1 (WNUT-16: entity F1)") && svg.components(separatedBy: "<rect x=").count > 10)

        // Everything again: all reused, no report rewrite.
        try runner.runAll()
        #expect(fixture.calls.count == 45 && reports == 45)
        // A new recipe reruns the four adaptations, their evaluations and fine-tunes; the base and its runs stay.
        var recipe = try fixture.plan(["--seeds", "3", "--tasks", "legal-500,wnut16", "--adapt-extra", "--layer-lr-decay 0.8"])
        try AdaptationStudyRunner(plan: recipe, work: fixture.work, mlmAdapt: fixture.cli.path, reuse: true).runAll()
        #expect(fixture.calls.count == 45 + 4 + 8 + 24)
        #expect(fixture.calls.suffix(36).allSatisfy { !$0.contains("/base/") || $0.contains("--init \(fixture.work.path)/base/") })
        // A fourth seed adds only that seed's fine-tunes.
        recipe.seeds.append(4)
        try AdaptationStudyRunner(plan: recipe, work: fixture.work, mlmAdapt: fixture.cli.path, reuse: true).runAll()
        #expect(fixture.calls.count == 45 + 36 + 2 * 5)
    }

    @Test func aGivenBaseReplacesStepZero() throws {
        let fixture = try Fixture()
        let given = fixture.path("init")
        let plan = try fixture.plan(["--base", given, "--seeds", "1", "--tasks", "bbc"])
        try AdaptationStudyRunner(plan: plan, work: fixture.work, mlmAdapt: fixture.cli.path, reuse: true).runAll()
        // No step 0: 4 adaptations, 10 evaluations, 5 fine-tunes; the base's start from the given model.
        #expect(fixture.calls.count == 4 + 10 + 5)
        #expect(fixture.calls.filter { $0.contains("--init \(given) ") }.count == 4)
        #expect(fixture.calls.contains { $0.hasPrefix("evaluate --checkpoint \(given) ") })
        let results = try AdaptationStudyResults.load(plan: plan, work: fixture.work)
        #expect(results.totalRuns == 19 && results.missingRuns().isEmpty && results.adaptation[.base] == nil)
        #expect(results.adaptationMarkdown().contains("| base | (given: \(given)) | – | – | 0 | – |"))
    }

    @Test func partialResultsLeaveGapsAndListWhatIsMissing() throws {
        let fixture = try Fixture()
        let plan = try fixture.plan(["--seeds", "2", "--tasks", "bbc"])
        try AdaptationStudyRunner(plan: plan, work: fixture.work, mlmAdapt: fixture.cli.path, reuse: true).runAll()
        let removed = plan.fineTuneFolder(fixture.work, .tapt, .bbc, seed: 2)
        try FileManager.default.removeItem(at: removed.appendingPathComponent("report.json"))
        try FileManager.default.removeItem(at: plan.mlmFolder(fixture.work, .control, corpus: "general"))
        let results = try AdaptationStudyResults.load(plan: plan, work: fixture.work)
        #expect(results.missingRuns() == ["control mlm general", "bbc seed 2 tapt"])
        // One tapt seed left: its mean is seed 1's, and the pair with the base has one seed.
        #expect(results.summary(.bbc, .macroF1, .tapt)?.count == 1)
        #expect(results.paired(.bbc, .macroF1, .base, .tapt)?.formatted(digits: 2, scale: 100) == "+2.00 ± 0.00 (1/1 > 0)")
        let markdown = results.markdown(context: Self.context(fixture), svgName: "s.svg")
        #expect(markdown.contains("- Runs finished: \(results.totalRuns - 2) of \(results.totalRuns) (partial results: missing cells show –)"))
        #expect(markdown.contains("| control | 4.900 | 30.00 | 5.900 | 20.00 | – | – | – | – |"))
        #expect(markdown.contains("Missing runs (not in the work folder): control mlm general, bbc seed 2 tapt."))
    }

    @Test func theComputeTimeSumsEveryFinishedRunsOwnWallTime() throws {
        let fixture = try Fixture()
        let plan = try fixture.plan(["--seeds", "2", "--tasks", "bbc,legal-500"])
        try AdaptationStudyRunner(plan: plan, work: fixture.work, mlmAdapt: fixture.cli.path, reuse: true).runAll()
        // Every run took 30 s, as if over several sittings; one bbc fine-tune is then lost.
        let walls = FileManager.default.enumerator(at: fixture.work, includingPropertiesForKeys: nil)!
            .compactMap { $0 as? URL }.filter { $0.lastPathComponent == MLMAdaptRuns.wallSecondsFile }
        #expect(walls.count == 5 + 10 + 2 * 2 * 5)
        for file in walls { try "30".write(to: file, atomically: true, encoding: .utf8) }
        try FileManager.default.removeItem(
            at: plan.fineTuneFolder(fixture.work, .tapt, .bbc, seed: 2).appendingPathComponent("report.json"))
        let line = try AdaptationStudyResults.load(plan: plan, work: fixture.work).computeTimeLine()
        #expect(line.hasSuffix("summed over sittings): 17m00s; adaptation 2m30s, held-out MLM 5m00s, bbc 4m30s, legal-500 5m00s"))
    }

    @Test func theCommandWritesTheReportAfterEveryRunAndRebuildsItFromTheWorkFolder() throws {
        let fixture = try Fixture()
        let arguments = fixture.arguments(["--seeds", "1", "--tasks", "legal-500", "--note", "fake CLI"])
        try AdaptationStudyBenchmark.parse(arguments).run()
        let results = fixture.root.appendingPathComponent("results")
        let markdown = try String(contentsOf: results.appendingPathComponent("adaptation-study.md"), encoding: .utf8)
        #expect(markdown.contains("- Note: fake CLI") && markdown.contains("- Runs finished: 20 of 20\n"))
        let csv = try String(contentsOf: results.appendingPathComponent("adaptation-study.csv"), encoding: .utf8)
        #expect(FileManager.default.fileExists(atPath: results.appendingPathComponent("adaptation-study.svg").path))
        try AdaptationStudyBenchmark.parse(arguments + ["--report-only"]).run()
        #expect(try String(contentsOf: results.appendingPathComponent("adaptation-study.md"), encoding: .utf8) == markdown)
        #expect(try String(contentsOf: results.appendingPathComponent("adaptation-study.csv"), encoding: .utf8) == csv)
        #expect(fixture.calls.count == 20)
    }

    @Test func aFailingRunStopsWithItsLogAndLeavesAPartialReport() throws {
        let fixture = try Fixture()
        let arguments = fixture.arguments(["--first-seed", "99", "--seeds", "1", "--tasks", "legal-500,wnut16"])
        do {
            try AdaptationStudyBenchmark.parse(arguments).run()
            Issue.record("expected the fake ner run to fail")
        } catch {
            #expect("\(error)".contains("exited with status 7") && "\(error)".contains("boom"))
            #expect("\(error)".contains("base/wnut16/seed-99.log"))
        }
        let markdown = try String(contentsOf: fixture.root.appendingPathComponent("results/adaptation-study.md"), encoding: .utf8)
        #expect(markdown.contains("- Runs finished: 20 of 25 (partial results"))
        #expect(markdown.contains("| dapt − base | +3.00 ± 0.00 (1/1 > 0) | +3.00 ± 0.00 (1/1 > 0) | – |"))
    }

    @Test func missingDataOrAnOldCLIIsReportedBeforeAnyRun() throws {
        let fixture = try Fixture()
        let plan = try fixture.plan(["--tapt-corpus", fixture.path("nowhere.tsv")])
        let runner = AdaptationStudyRunner(plan: plan, work: fixture.work, mlmAdapt: fixture.cli.path, reuse: true)
        #expect { try runner.checkPrerequisites() } throws: { "\($0)".contains("nowhere.tsv not found: run Corpora/fetch.sh first") }
        let old = fixture.root.appendingPathComponent("old-mlm-adapt")
        try installScript("#!/bin/bash\necho 'SUBCOMMANDS: adapt, classify, ner, evaluate'\n", at: old)
        let oldRunner = AdaptationStudyRunner(plan: try fixture.plan(), work: fixture.work, mlmAdapt: old.path, reuse: true)
        #expect { try oldRunner.checkPrerequisites() } throws: {
            "\($0)".contains("lacks the option(s) --head-warmup-steps, --text-column")
        }
        #expect(fixture.calls.isEmpty)
    }

    static func context(_ fixture: Fixture) -> ReportContext {
        ReportContext(command: "mlm-bench adaptation", machine: MachineFacts.collect(), loadAtEnd: nil, wallSeconds: 3,
                      mlmAdapt: fixture.cli.path)
    }
}
