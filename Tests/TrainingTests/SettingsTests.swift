import Foundation
import Testing
@testable import Training

@Suite struct SettingsTests {
    static let valid = AdaptationSettings(corpus: ["legal.txt"], maxSteps: 10)

    @Test func defaultsAreValid() throws {
        try Self.valid.validate()
        let s = Self.valid
        #expect(s.learningRate == 5e-5 && s.warmup == .ratio(0.06) && s.schedule == .linear && s.weightDecay == 0.01)
        #expect(s.batchSize == 16 && s.maxSeqLength == 128 && s.evalEvery == 200 && s.saveEvery == 500 && s.keepLast == 3)
        #expect(s.mask == .wholeWord && s.mlmProbability == 0.15 && s.maxGradNorm == 1.0)
    }

    static let nonsense: [(String, @Sendable (inout AdaptationSettings) -> Void)] = [
        ("--corpus", { @Sendable (s: inout AdaptationSettings) in s.corpus = [] }),
        ("--validation-split", { @Sendable (s: inout AdaptationSettings) in s.validationSplit = 1.5 }),
        ("no held-out data", { @Sendable (s: inout AdaptationSettings) in s.validationSplit = 0 }),
        ("--max-seq-length", { @Sendable (s: inout AdaptationSettings) in s.maxSeqLength = 2 }),
        ("--mlm-probability", { @Sendable (s: inout AdaptationSettings) in s.mlmProbability = 0 }),
        ("--batch-size", { @Sendable (s: inout AdaptationSettings) in s.batchSize = 0 }),
        ("--grad-accum", { @Sendable (s: inout AdaptationSettings) in s.gradAccum = 0 }),
        ("--lr", { @Sendable (s: inout AdaptationSettings) in s.learningRate = -1 }),
        ("--weight-decay", { @Sendable (s: inout AdaptationSettings) in s.weightDecay = 2 }),
        ("--max-grad-norm", { @Sendable (s: inout AdaptationSettings) in s.maxGradNorm = .nan }),
        ("give --max-steps or --epochs", { @Sendable (s: inout AdaptationSettings) in s.maxSteps = nil }),
        ("not both", { @Sendable (s: inout AdaptationSettings) in s.epochs = 1 }),
        ("--eval-batches", { @Sendable (s: inout AdaptationSettings) in s.evalBatches = 0 }),
        ("--keep-last", { @Sendable (s: inout AdaptationSettings) in s.keepLast = 0 }),
        ("--threads", { @Sendable (s: inout AdaptationSettings) in s.threads = 0 }),
    ]

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
        #expect(try AdaptationSettings.decode(json: s.jsonString(), source: "test") == s)
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
