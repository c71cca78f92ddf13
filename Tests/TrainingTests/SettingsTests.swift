import Foundation
import Testing
import Masking
import TensorKernels
@testable import Training

@Suite struct SettingsTests {
    static let valid = AdaptationSettings(corpus: ["legal.txt"], maxSteps: 10)

    @Test func defaultsAreValid() throws {
        try Self.valid.validate()
        let s = Self.valid
        #expect(s.learningRate == 5e-5 && s.warmup == .ratio(0.06) && s.schedule == .linear && s.weightDecay == 0.01)
        #expect(s.batchSize == 16 && s.maxSeqLength == 128 && s.evalEvery == 200 && s.saveEvery == 500 && s.keepLast == 3)
        #expect(s.mask == .wholeWord && s.mlmProbability == 0.15 && s.maxGradNorm == 1.0)
        // The masking defaults are MaskingOptions' own: BERT's 80/10/10, exact budget, SpanBERT's spans.
        #expect(s.maskingOptions == MaskingOptions(strategy: .wholeWord, probability: 0.15))
        #expect(s.precision == .auto && AdaptationSettings.defaults.epochs == 1 && AdaptationSettings.defaults.maxSteps == nil)
    }

    static let nonsense: [(String, @Sendable (inout AdaptationSettings) -> Void)] = [
        ("--corpus", { @Sendable (s: inout AdaptationSettings) in s.corpus = [] }),
        ("--validation-split", { @Sendable (s: inout AdaptationSettings) in s.validationSplit = 1.5 }),
        ("no held-out data", { @Sendable (s: inout AdaptationSettings) in s.validationSplit = 0 }),
        ("--max-seq-length", { @Sendable (s: inout AdaptationSettings) in s.maxSeqLength = 2 }),
        ("--mlm-probability", { @Sendable (s: inout AdaptationSettings) in s.mlmProbability = 0 }),
        ("--batch-size", { @Sendable (s: inout AdaptationSettings) in s.batchSize = 0 }),
        ("--grad-accum", { @Sendable (s: inout AdaptationSettings) in s.gradAccum = 0 }),
        // Sizes no memory holds: refused before anything is allocated, not an allocation abort.
        ("--grad-accum 1000000000000 × --batch-size 16", { @Sendable (s: inout AdaptationSettings) in s.gradAccum = 1_000_000_000_000 }),
        ("--batch-size 9223372036854775807 × --max-seq-length 128 need more than 9.2 EB",
         { @Sendable (s: inout AdaptationSettings) in s.batchSize = .max }),
        ("--lr", { @Sendable (s: inout AdaptationSettings) in s.learningRate = -1 }),
        ("--weight-decay", { @Sendable (s: inout AdaptationSettings) in s.weightDecay = 2 }),
        ("--max-grad-norm", { @Sendable (s: inout AdaptationSettings) in s.maxGradNorm = .nan }),
        ("give --max-steps or --epochs", { @Sendable (s: inout AdaptationSettings) in s.maxSteps = nil }),
        ("not both", { @Sendable (s: inout AdaptationSettings) in s.epochs = 1 }),
        ("--eval-batches", { @Sendable (s: inout AdaptationSettings) in s.evalBatches = 0 }),
        ("--keep-last", { @Sendable (s: inout AdaptationSettings) in s.keepLast = 0 }),
        ("--threads", { @Sendable (s: inout AdaptationSettings) in s.threads = 0 }),
        ("--mask-ratio 1.5", { @Sendable (s: inout AdaptationSettings) in s.maskRatio = 1.5 }),
        ("--mask-ratio + --random-ratio + --keep-ratio", { @Sendable (s: inout AdaptationSettings) in s.keepRatio = 0.2 }),
        ("--random-ratio", { @Sendable (s: inout AdaptationSettings) in s.randomRatio = -0.1 }),
        ("--span-p 0", { @Sendable (s: inout AdaptationSettings) in s.spanP = 0 }),
        ("--max-span-length 0", { @Sendable (s: inout AdaptationSettings) in s.maxSpanLength = 0 }),
    ]

    /// Where this machine cannot run bf16, asking for it is refused by name; where it can, it validates.
    @Test func bf16IsRefusedWhereItCannotRun() throws {
        var settings = AdaptationSettings(corpus: ["c.txt"], maxSteps: 1)
        settings.precision = .bf16
        if (try? Precision.bf16.resolved()) == nil {
            #expect(performing: { try settings.validate() }, throws: { "\($0)".contains("--precision bf16 is not available here") })
        } else {
            try settings.validate()
        }
    }

    @Test(arguments: nonsense.indices)
    func rejectsNonsenseNamingTheOption(index: Int) {
        let (expected, change) = Self.nonsense[index]
        var s = Self.valid
        change(&s)
        #expect {
            try s.validate()
        } throws: { error in
            (error as? TrainingError)?.description.contains(expected) ?? false
        }
    }

    @Test func settingsRoundTripThroughJSON() throws {
        var s = Self.valid
        s.warmup = .steps(30)
        s.lowercase = false
        s.validationCorpus = ["held-out/*.txt"]
        s.maskBudget = .bernoulli
        s.maskRatio = 0.7
        s.randomRatio = 0.2
        s.staticMasking = true
        s.precision = .fp32
        #expect(try AdaptationSettings.decode(json: s.jsonString(), source: "test") == s)
    }

    /// run_args as the version before the masking options and precision wrote them.
    static let oldRunArguments = #"{"batchSize":16,"corpus":["legal.txt"],"evalBatches":20,"evalEvery":200,"#
        + #""freezeEmbeddings":false,"gradAccum":1,"keepLast":3,"learningRate":5.0000000000000002e-05,"mask":"span","#
        + #""maxGradNorm":1,"maxSeqLength":128,"maxSteps":300,"mlmProbability":0.14999999999999999,"saveEvery":500,"#
        + #""schedule":"linear","seed":18446744073709551557,"threads":2,"validationCorpus":[],"#
        + #""validationSplit":0.050000000000000003,"warmup":{"ratio":{"_0":0.059999999999999998}},"weightDecay":0.01}"#

    @Test func oldRunArgumentsReadWithTodaysDefaultsForNewKeys() throws {
        let s = try AdaptationSettings.decode(json: Self.oldRunArguments, source: "old")
        var expected = AdaptationSettings(corpus: ["legal.txt"], maxSteps: 300)
        expected.mask = .span
        expected.seed = 18_446_744_073_709_551_557  // a seed above Int64.max reads back exactly
        expected.threads = 2
        #expect(s == expected)
        #expect(s.epochs == nil && s.maskBudget == .exact && s.precision == .auto)
    }

    @Test func storedEpochsReplaceTheDefaultRunLength() throws {
        var s = Self.valid
        s.maxSteps = nil
        s.epochs = 2.5
        let decoded = try AdaptationSettings.decode(json: s.jsonString(), source: "test")
        #expect(decoded.epochs == 2.5 && decoded.maxSteps == nil)
    }

    @Test func unreadableRunArgumentsNameTheSource() {
        #expect {
            _ = try AdaptationSettings.decode(json: #"{"mask":"sideways"}"#, source: "ckpt.safetensors.gz")
        } throws: { error in
            "\(error)".contains("ckpt.safetensors.gz") && "\(error)".contains("run arguments")
        }
    }

    @Test func defaultOutputFolderNamesDateCorpusAndMask() {
        let date = Date(timeIntervalSince1970: 1_795_000_000)  // 2026-11-18 11:06:40 UTC
        let url = RunDirectory.defaultURL(corpus: ["Corpora/legal.txt.gz"], mask: .wholeWord, date: date)
        #expect(url.lastPathComponent == "2026-11-18-110640-adapt-legal-whole-word")
        #expect(RunDirectory.defaultURL(corpus: ["data/*.txt"], mask: .span, date: date).lastPathComponent
            == "2026-11-18-110640-adapt-data-span")
    }

    @Test func metricsLogDropsLinesAfterTheResumedStep() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString).jsonl")
        defer { try? FileManager.default.removeItem(at: url) }
        do {
            let log = try MetricsLog(url: url)
            for step in 1...5 {
                log.append(MetricRecord([("type", .string("train")), ("step", .int(step)), ("loss", .double(1.0 / Double(step)))]))
            }
        }
        let resumed = try MetricsLog(url: url, resumeStep: 3)
        resumed.append(MetricRecord([("type", .string("train")), ("step", .int(4)), ("loss", .double(.nan))]))
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
        #expect(lines == [
            #"{"type":"train","step":1,"loss":1.0}"#, #"{"type":"train","step":2,"loss":0.5}"#,
            #"{"type":"train","step":3,"loss":0.3333333333333333}"#, #"{"type":"train","step":4,"loss":null}"#,
        ])
    }
}
