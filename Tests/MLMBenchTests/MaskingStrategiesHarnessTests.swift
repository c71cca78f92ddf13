import Foundation
import Testing
@testable import mlm_bench

/// The harness against a fake `mlm-adapt` (a shell script with the real CLI's arguments and output
/// files), so the argument contract, reuse and aggregation are checked without training anything.
@Suite struct MaskingStrategiesHarnessTests {
    /// Writes metrics.jsonl/latest/checkpoint for adapt, report.json for classify and ner, with
    /// figures that depend on the strategy and seed in a known way; logs every call.
    static let fakeCLI = fakeMLMAdapt("""
        out=$output_dir; steps=$max_steps
        mkdir -p "$out"
        code() { case "$1" in *token*) echo 1;; *whole-word*) echo 2;; *span*) echo 3;; *) echo 0;; esac; }
        case $sub in
        adapt)
          m=$(code "$mask")
          echo '{"type":"eval","step":0,"token_loss":10,"token_acc":0.01,"whole_word_loss":11,"whole_word_acc":0.005}' > "$out/metrics.jsonl"
          for s in $(seq 1 "$steps"); do
            echo "{\\"type\\":\\"train\\",\\"step\\":$s,\\"tokens\\":2048,\\"tokens_per_s\\":$((1000 * m + seed))}" >> "$out/metrics.jsonl"
          done
          final=$(awk "BEGIN { print 3 + $m / 10 + $seed / 100 }")
          echo "{\\"type\\":\\"eval\\",\\"step\\":$steps,\\"token_loss\\":$final,\\"token_acc\\":0.5,\\"whole_word_loss\\":$(awk "BEGIN { print $final + 1 }"),\\"whole_word_acc\\":0.4}" >> "$out/metrics.jsonl"
          echo weights > "$out/step-$steps.safetensors.gz"
          echo moments > "$out/step-$steps.optimizer.safetensors.gz"
          echo "step-$steps.safetensors.gz" > "$out/latest"
          echo "progress 50%"; printf 'progress 100%%\\rdone\\n' ;;
        classify)
          test -f "$train" && test -f "$test" || { echo "missing data" >&2; exit 3; }
          acc=$(awk "BEGIN { print 0.5 + $(code "$init") / 10 + $seed / 100 }")
          echo "{\\"test\\":{\\"loss\\":1,\\"classification\\":{\\"accuracy\\":$acc,\\"macroF1\\":0.3}},\\"seconds\\":1}" > "$out/report.json" ;;
        ner)
          if [ "$seed" = 99 ]; then echo "boom" >&2; exit 7; fi
          echo "{\\"test\\":{\\"loss\\":1,\\"entities\\":{\\"f1\\":0.2}},\\"seconds\\":1}" > "$out/report.json" ;;
        esac
        """)

    struct Fixture {
        let fake: FakeCLIFolder
        var root: URL { fake.root }
        var cli: URL { fake.cli }
        var calls: [String] { fake.calls }

        init() throws {
            fake = try FakeCLIFolder(script: MaskingStrategiesHarnessTests.fakeCLI)
            let fm = FileManager.default
            for folder in ["task", "ner", "base"] {
                try fm.createDirectory(at: root.appendingPathComponent(folder), withIntermediateDirectories: true)
            }
            try "doc one\n\ndoc two\n".write(to: root.appendingPathComponent("corpus.txt"), atomically: true, encoding: .utf8)
            for split in ["train", "dev", "test"] {
                let rows = (0..<40).map { "text \($0)\t\($0 % 4 == 0 ? "A" : "B")" }
                try (["text\tlabel"] + rows).joined(separator: "\n").write(
                    to: root.appendingPathComponent("task/\(split).tsv"), atomically: true, encoding: .utf8)
                let sentences = (0..<12).map { "w\($0)\tO\nx\($0)\tB-loc" }
                try sentences.joined(separator: "\n\n").write(
                    to: root.appendingPathComponent("ner/\(split).conll"), atomically: true, encoding: .utf8)
            }
        }

        func plan(seeds: [UInt64] = [1, 2, 3]) -> MaskingStrategiesPlan {
            MaskingStrategiesPlan(
                corpus: root.appendingPathComponent("corpus.txt").path, initModel: root.appendingPathComponent("base").path,
                strategies: ["token", "whole-word"], seeds: seeds, steps: 4, batchSize: 2, maxSeqLength: 16, evalEvery: 2,
                evalBatches: 1, classifyTask: root.appendingPathComponent("task").path, classifyEpochs: 1,
                classifyLearningRate: 1e-4, classifyTrainExamples: 8, classifyDevExamples: 8, classifyTestExamples: nil,
                nerTask: root.appendingPathComponent("ner").path, nerEpochs: 1, nerLearningRate: 2e-4, nerTrainExamples: 5,
                threads: 1, adaptExtra: ["--lr", "1e-4"], quick: true)
        }
    }

    @Test func runsEveryVariantAggregatesOverSeedsAndReusesFinishedRuns() throws {
        let fixture = try Fixture()
        let work = fixture.root.appendingPathComponent("work")
        let plan = fixture.plan()
        let runner = MaskingStrategiesRunner(plan: plan, work: work, mlmAdapt: fixture.cli.path, reuse: true)
        try runner.checkPrerequisites()
        try runner.runAll()
        // Per seed: base classify + ner, and adapt + classify + ner for each of two strategies.
        #expect(fixture.calls.count == 3 * (2 + 2 * 3))
        let adaptCalls = fixture.calls.filter { $0.hasPrefix("--corpus") }
        #expect(adaptCalls.count == 6)
        #expect(adaptCalls.allSatisfy { $0.contains("--max-steps 4 --batch-size 2 --max-seq-length 16") })
        #expect(adaptCalls.allSatisfy { $0.hasSuffix("--threads 1 --lr 1e-4") })
        let tokenSeed2 = plan.adaptFolder(work, 2, "token")
        #expect(fixture.calls.contains { $0.hasPrefix("classify --init \(tokenSeed2.path)/step-4.safetensors.gz") })
        #expect(!FileManager.default.fileExists(atPath: tokenSeed2.appendingPathComponent("step-4.optimizer.safetensors.gz").path))
        // Subsampled fine-tuning data: 8 rows + header, 5 NER train sentences.
        let train = try String(contentsOf: plan.dataFolder(work, "classify").appendingPathComponent("train.tsv"), encoding: .utf8)
        #expect(train.split(separator: "\n").count == 9)

        let results = try MaskingStrategiesResults.load(plan: plan, work: work, maskingThroughput: ["token": [1: 5e6, 2: 7e6]])
        #expect(results.missingRuns().isEmpty)
        func figure(_ key: String, _ variant: String) throws -> MeanStd {
            try #require(MeanStd(Array(results.perSeed(key, variant).values)))
        }
        // Final token-eval loss 3 + m/10 + seed/100 over seeds 1…3: mean 3.m2, std 0.01.
        #expect(abs(try figure("eval_token_loss", "token").mean - 3.12) < 1e-9)
        #expect(abs(try figure("eval_token_loss", "token").std - 0.01) < 1e-9)
        #expect(abs(try figure("eval_whole_word_loss", "whole-word").mean - 4.22) < 1e-9)
        // The base model's MLM figures are the step-0 evaluations.
        #expect(try figure("eval_token_loss", "base") == MeanStd([10, 10, 10]))
        #expect(try figure("train_tokens_per_s", "whole-word").mean == 2002)
        #expect(abs(try figure("classify_accuracy", "base").mean - 0.52) < 1e-9)
        #expect(abs(try figure("classify_accuracy", "whole-word").mean - 0.72) < 1e-9)
        #expect(try figure("masking_tokens_per_s", "token").mean == 6e6)

        let paired = results.pairedTable()
        let wholeWordMinusToken = try #require(paired.rows.first { $0.label == "whole-word − token" })
        #expect(abs((wholeWordMinusToken.values["eval_token_loss"]?.mean ?? 0) - 0.1) < 1e-9)
        #expect((wholeWordMinusToken.values["eval_token_loss"]?.std ?? 1) < 1e-9)

        var context = ReportContext(command: "mlm-bench masking-strategies --quick", machine: MachineFacts.collect(),
                                    loadAtEnd: "0.5 0.6 0.7", wallSeconds: 12, mlmAdapt: fixture.cli.path)
        let info = work.appendingPathComponent("run-info.json")
        try context.save(info)
        context = try ReportContext.load(info)
        context.notes = ["built from branch x"]
        let markdown = results.markdown(context: context, svgName: "m.svg")
        #expect(markdown.contains("- Load average at the end (1/5/15 min): 0.5 0.6 0.7\n- Wall time: 12 s"))
        #expect(markdown.contains("- mlm-adapt: `\(fixture.cli.path)`\n- Note: built from branch x"))
        #expect(markdown.contains("| base (not adapted) | – | – | 10.000 ± 0.000 |"))
        #expect(markdown.contains("| whole-word | – | 2,002 ± 1 | 3.220 ± 0.010 | 50.00 ± 0.00 | 4.220 ± 0.010 |"))
        #expect(markdown.contains("![held-out loss curves and downstream scores](m.svg)"))
        #expect(results.csv().hasPrefix("variant,seeds,masking_tokens_per_s_mean,masking_tokens_per_s_std,train_tokens_per_s_mean"))
        let curves = results.lossCurves(scheme: "token")
        #expect(curves.map { $0.points.map(\.x) } == [[0, 4], [0, 4]])
        #expect(results.svg().contains("<polyline"))

        // A second run with the same plan reuses everything.
        try runner.runAll()
        #expect(fixture.calls.count == 24)
        // A changed setting reruns only what it affects (here: the adaptations and their fine-tuning).
        var longer = plan
        longer.steps = 6
        try MaskingStrategiesRunner(plan: longer, work: work, mlmAdapt: fixture.cli.path, reuse: true).runAll()
        #expect(fixture.calls.count == 24 + 3 * (2 * 3))
    }

    @Test func commandLineNamesResolveToThePlan() throws {
        let quick = try MaskingStrategiesBenchmark.parse(["--quick", "--strategies", "token, whole-word,span", "--seeds", "2"]).plan()
        #expect(quick.strategies == ["token", "whole-word", "span"] && quick.seeds == [1, 2])
        #expect(quick.steps == 40 && quick.nerTask == nil && quick.classifyTrainExamples == 600 && quick.classifyTestExamples == 300)
        #expect(quick.tokensPerRun == 40 * 16 * 128)
        let full = try MaskingStrategiesBenchmark.parse(["--steps", "500"]).plan()
        #expect(full.steps == 500 && full.evalEvery == 125 && full.nerTask == "Corpora/tasks/wnut16" && full.classifyTrainExamples == nil)
        #expect(try MaskingStrategiesBenchmark.parse(["--quick", "--include-ner"]).plan().nerTask != nil)
        #expect(throws: (any Error).self) { try MaskingStrategiesBenchmark.parse(["--strategies", "token,wholeWord"]) }
    }

    @Test func aFailingRunStopsWithItsCommandAndLog() throws {
        let fixture = try Fixture()
        let work = fixture.root.appendingPathComponent("work")
        let runner = MaskingStrategiesRunner(plan: fixture.plan(seeds: [99]), work: work, mlmAdapt: fixture.cli.path, reuse: true)
        do {
            try runner.runAll()
            Issue.record("expected the fake ner run to fail")
        } catch {
            let text = "\(error)"
            #expect(text.contains("exited with status 7"))
            #expect(text.contains("boom"))
            #expect(text.contains("seed-99/base/ner.log"))
        }
    }

    @Test func missingCLIOrDataIsReportedBeforeAnyRun() throws {
        let fixture = try Fixture()
        let work = fixture.root.appendingPathComponent("work")
        let noCLI = MaskingStrategiesRunner(plan: fixture.plan(), work: work, mlmAdapt: "/nonexistent/mlm-adapt", reuse: true)
        #expect(throws: SubprocessError.self) { try noCLI.checkPrerequisites() }
        var plan = fixture.plan()
        plan.classifyTask = fixture.root.appendingPathComponent("nowhere").path
        let noData = MaskingStrategiesRunner(plan: plan, work: work, mlmAdapt: fixture.cli.path, reuse: true)
        do {
            try noData.checkPrerequisites()
            Issue.record("expected a missing-data error")
        } catch { #expect("\(error)".contains("nowhere/train.tsv not found: run Corpora/fetch.sh first")) }
        #expect(fixture.calls.isEmpty)
    }
}
