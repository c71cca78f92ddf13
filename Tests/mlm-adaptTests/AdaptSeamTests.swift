import ArgumentParser
import Foundation
import Masking
import Optimization
import TensorKernels
import Testing
import Training
@testable import mlm_adapt

/// The seam between the command line and `AdaptationSettings`: options over the defaults for a new
/// run, the saved settings for a resume, and one validation whose messages name the option.
@Suite struct AdaptSeamTests {
    typealias Change = @Sendable (inout AdaptationSettings) -> Void

    static func overrides(_ arguments: [String]) throws -> AdaptationOverrides {
        try AdaptationOverrides.parse(arguments)
    }

    @Test func noOptionsGiveTheDefaults() throws {
        #expect(try Self.overrides([]).applied() == AdaptationSettings.defaults)
        #expect(try Self.overrides([]).conflicts(with: AdaptationSettings.defaults).isEmpty)
    }

    static let cwd = FileManager.default.currentDirectoryPath
    static let newRuns: [([String], Change)] = [
        // Stored absolute, so `--resume` works from any working folder.
        (["--corpus", "a.txt", "--corpus", "./b/*.txt"], { $0.corpus = [cwd + "/a.txt", cwd + "/b/*.txt"] }),
        (["--corpus", "/data/../x/a.txt", "--corpus", "-"], { $0.corpus = ["/x/a.txt", "-"] }),
        (["--validation-corpus", "dev.txt"], { $0.validationCorpus = [cwd + "/dev.txt"] }),
        (["--validation-split", "0.2", "--max-seq-length", "64"], { $0.validationSplit = 0.2; $0.maxSeqLength = 64 }),
        (["--text-column", "body"], { $0.textColumn = "body" }),
        (["--vocab-extension", "v.txt"], { $0.vocabularyExtension = cwd + "/v.txt" }),
        (["--mask", "span", "--mlm-probability", "0.2"], { $0.mask = .span; $0.mlmProbability = 0.2 }),
        (["--mask", "token"], { $0.mask = .token }),
        (["--mask-budget", "bernoulli", "--mask-ratio", "0.7", "--random-ratio", "0.2", "--keep-ratio", "0.1"],
         { $0.maskBudget = .bernoulli; $0.maskRatio = 0.7; $0.randomRatio = 0.2; $0.keepRatio = 0.1 }),
        (["--static-masking", "--span-p", "0.3", "--max-span-length", "5"],
         { $0.staticMasking = true; $0.spanP = 0.3; $0.maxSpanLength = 5 }),
        (["--batch-size", "4", "--grad-accum", "3", "--lr", "1e-4"], { $0.batchSize = 4; $0.gradAccum = 3; $0.learningRate = 1e-4 }),
        (["--warmup", "500", "--schedule", "cosine"], { $0.warmup = .steps(500); $0.schedule = .cosine }),
        (["--warmup", "0.1", "--weight-decay", "0", "--max-grad-norm", "0"],
         { $0.warmup = .ratio(0.1); $0.weightDecay = 0; $0.maxGradNorm = 0 }),
        (["--max-steps", "10"], { $0.maxSteps = 10; $0.epochs = nil }),
        (["--epochs", "2.5"], { $0.epochs = 2.5; $0.maxSteps = nil }),
        (["--freeze-embeddings"], { $0.freezeEmbeddings = true }),
        (["--head-warmup-steps", "50", "--head-warmup-lr", "2e-3"], { $0.headWarmupSteps = 50; $0.headWarmupLearningRate = 2e-3 }),
        (["--head-lr", "1e-3", "--encoder-lr", "3e-5", "--layer-lr-decay", "0.8"],
         { $0.headLearningRate = 1e-3; $0.encoderLearningRate = 3e-5; $0.layerLearningRateDecay = 0.8 }),
        (["--recipe", "tapt"], { $0 = AdaptationRecipe.tapt.defaults }),
        // A recipe gives defaults; given options win over them.
        (["--recipe", "dapt", "--lr", "3e-5", "--mask", "span"],
         { $0 = AdaptationRecipe.dapt.defaults; $0.learningRate = 3e-5; $0.mask = .span }),
        (["--eval-every", "0", "--eval-batches", "5", "--save-every", "0", "--keep-last", "1"],
         { $0.evalEvery = 0; $0.evalBatches = 5; $0.saveEvery = 0; $0.keepLast = 1 }),
        (["--threads", "3", "--precision", "fp32", "--seed", "9"], { $0.threads = 3; $0.precision = .fp32; $0.seed = 9 }),
        (["--uncased"], { $0.lowercase = true }),
        (["--cased"], { $0.lowercase = false }),
    ]

    @Test(arguments: newRuns.indices)
    func givenOptionsOverrideTheDefaults(index: Int) throws {
        let (arguments, change) = Self.newRuns[index]
        var expected = AdaptationSettings.defaults
        change(&expected)
        #expect(try Self.overrides(arguments).applied() == expected, "\(arguments)")
        // The whole command parses them the same way.
        let adapt = try Adapt.parse(["--corpus", "x.txt"] + arguments)
        #expect(try adapt.settings(resumed: nil) == Self.overrides(["--corpus", "x.txt"] + arguments).applied())
    }

    /// A run being resumed, different from the defaults in every field.
    static let saved: AdaptationSettings = {
        var s = AdaptationSettings(corpus: ["legal.txt"], maxSteps: 300)
        s.validationSplit = 0.1; s.maxSeqLength = 64; s.mask = .span; s.mlmProbability = 0.2; s.maskBudget = .bernoulli
        s.maskRatio = 0.7; s.randomRatio = 0.2; s.staticMasking = true; s.spanP = 0.3; s.maxSpanLength = 4
        s.batchSize = 8; s.gradAccum = 2; s.learningRate = 1e-4; s.warmup = .steps(10); s.schedule = .cosine
        s.weightDecay = 0.02; s.maxGradNorm = 0.5; s.freezeEmbeddings = true; s.seed = 7; s.lowercase = true
        s.headWarmupSteps = 100; s.headWarmupLearningRate = 2e-3; s.headLearningRate = 3e-4; s.encoderLearningRate = 5e-5
        s.layerLearningRateDecay = 0.9; s.recipe = .dapt; s.vocabularyExtension = "/data/legal-vocab.txt"
        s.evalEvery = 50; s.evalBatches = 4; s.saveEvery = 100; s.keepLast = 2; s.threads = 2; s.precision = .fp32
        return s
    }()

    /// Every training-defining option, given a value the saved run did not use.
    static let trainingDefining: [(arguments: [String], option: String)] = [
        (["--corpus", "other.txt"], "--corpus"), (["--validation-corpus", "dev.txt"], "--validation-corpus"),
        (["--validation-split", "0.05"], "--validation-split"), (["--max-seq-length", "128"], "--max-seq-length"),
        (["--text-column", "body"], "--text-column"), (["--vocab-extension", "/data/other.txt"], "--vocab-extension"),
        (["--mask", "token"], "--mask"), (["--mlm-probability", "0.15"], "--mlm-probability"),
        (["--mask-budget", "exact"], "--mask-budget"), (["--mask-ratio", "0.8"], "--mask-ratio"),
        (["--random-ratio", "0.1"], "--random-ratio"), (["--keep-ratio", "0.2"], "--keep-ratio"),
        (["--no-static-masking"], "static-masking"), (["--span-p", "0.2"], "--span-p"),
        (["--max-span-length", "10"], "--max-span-length"), (["--batch-size", "16"], "--batch-size"),
        (["--grad-accum", "1"], "--grad-accum"), (["--lr", "5e-5"], "--lr"), (["--warmup", "0.06"], "--warmup"),
        (["--schedule", "linear"], "--schedule"), (["--weight-decay", "0.01"], "--weight-decay"),
        (["--max-grad-norm", "1"], "--max-grad-norm"), (["--no-freeze-embeddings"], "freeze-embeddings"),
        (["--seed", "42"], "--seed"), (["--cased"], "--cased/--uncased"),
        (["--head-warmup-steps", "0"], "--head-warmup-steps"), (["--head-warmup-lr", "1e-3"], "--head-warmup-lr"),
        (["--head-lr", "1e-4"], "--head-lr"), (["--encoder-lr", "1e-4"], "--encoder-lr"),
        (["--layer-lr-decay", "1"], "--layer-lr-decay"),
    ]

    @Test func aResumeRefusesAnotherRecipe() throws {
        #expect(try Self.overrides(["--recipe", "tapt"]).conflicts(with: Self.saved) == ["--recipe (the run used dapt)"])
        #expect(try Self.overrides(["--recipe", "dapt"]).conflicts(with: Self.saved).isEmpty)
    }

    @Test(arguments: trainingDefining.indices)
    func aResumeRefusesATrainingDefiningChangeNamingIt(index: Int) throws {
        let (arguments, option) = Self.trainingDefining[index]
        let overrides = try Self.overrides(arguments)
        let conflicts = overrides.conflicts(with: Self.saved)
        #expect(conflicts.count == 1 && conflicts[0].contains(option), "\(arguments): \(conflicts)")
        #expect(throws: ValidationError.self) { try Adapt.parse(["--resume", "run"] + arguments).settings(resumed: Self.saved) }
        // The value the run used is fine.
        let same = try Self.overrides([]).applied(to: Self.saved)
        #expect(try Self.overrides(arguments).conflicts(with: overrides.applied(to: same)).isEmpty)
    }

    @Test func everyTrainingDefiningOptionIsCovered() {
        let covered = Set(Self.trainingDefining.map(\.option))
        for field in AdaptationOverrides.fields where !field.mayChangeOnResume {
            #expect(covered.contains { field.option.contains($0) }, "\(field.option) has no resume case")
        }
    }

    static let bookkeeping: [([String], Change)] = [
        (["--max-steps", "400"], { $0.maxSteps = 400 }),
        (["--epochs", "3"], { $0.maxSteps = nil; $0.epochs = 3 }),
        (["--eval-every", "10", "--eval-batches", "8"], { $0.evalEvery = 10; $0.evalBatches = 8 }),
        (["--save-every", "20", "--keep-last", "5"], { $0.saveEvery = 20; $0.keepLast = 5 }),
        (["--max-bad-steps", "3"], { $0.maxBadSteps = 3 }),
        (["--threads", "1", "--precision", "auto"], { $0.threads = 1; $0.precision = .auto }),
        // Repeating the run's own training settings is not a change.
        (["--corpus", "legal.txt", "--mask", "span", "--seed", "7", "--uncased", "--static-masking"], { _ in }),
        (["--vocab-extension", "/data/legal-vocab.txt"], { _ in }),
    ]

    @Test(arguments: bookkeeping.indices)
    func aResumeKeepsTheSavedSettingsAndTakesBookkeepingOptions(index: Int) throws {
        let (arguments, change) = Self.bookkeeping[index]
        var expected = Self.saved
        change(&expected)
        let adapt = try Adapt.parse(["--resume", "run"] + arguments)
        #expect(try adapt.settings(resumed: Self.saved) == expected, "\(arguments)")
    }

    /// Bad values: each error names the option (parse-time errors from ArgumentParser included).
    static let badValues: [([String], String)] = [
        (["--validation-split", "1.5"], "--validation-split"), (["--max-seq-length", "4"], "--max-seq-length"),
        (["--mask", "sideways"], "--mask"), (["--mlm-probability", "1"], "--mlm-probability"),
        (["--mask-budget", "most"], "--mask-budget"), (["--mask-ratio", "1.2"], "--mask-ratio"),
        (["--random-ratio", "0.3"], "--mask-ratio + --random-ratio + --keep-ratio"),
        (["--keep-ratio", "-0.1"], "--keep-ratio"), (["--span-p", "0"], "--span-p"),
        (["--max-span-length", "0"], "--max-span-length"), (["--batch-size", "0"], "--batch-size"),
        (["--grad-accum", "0"], "--grad-accum"), (["--lr", "2"], "--lr"), (["--warmup", "-1"], "--warmup"),
        (["--schedule", "steep"], "--schedule"), (["--weight-decay", "1"], "--weight-decay"),
        (["--max-grad-norm", "-1"], "--max-grad-norm"), (["--max-steps", "0"], "--max-steps"),
        (["--epochs", "0"], "--epochs"), (["--max-steps", "5", "--epochs", "1"], "--max-steps or --epochs, not both"),
        (["--eval-every", "-1"], "--eval-every"), (["--eval-batches", "0"], "--eval-batches"),
        (["--save-every", "-1"], "--save-every"), (["--keep-last", "0"], "--keep-last"),
        (["--threads", "0"], "--threads"), (["--threads", "300"], "--threads"),
        (["--precision", "fp8"], "--precision"),
        (["--seed", "-1"], "--seed"),
        (["--head-warmup-steps", "-1"], "--head-warmup-steps"), (["--head-warmup-lr", "0"], "--head-warmup-lr"),
        (["--head-lr", "1"], "--head-lr"), (["--encoder-lr", "-1e-5"], "--encoder-lr"),
        (["--layer-lr-decay", "0"], "--layer-lr-decay"), (["--max-bad-steps", "0"], "--max-bad-steps"), (["--layer-lr-decay", "1.1"], "--layer-lr-decay"),
        (["--recipe", "dpt"], "--recipe"),
        (["--validation-split", "0.1", "--validation-corpus", "dev.txt"], "--validation-corpus or --validation-split"),
        (["--vocab-extension", ""], "--vocab-extension"),
        (["--init", "model", "--vocab", "v.txt"], "--vocab-extension"),
    ]

    @Test(arguments: badValues.indices)
    func eachBadValueNamesItsOption(index: Int) {
        let (arguments, option) = Self.badValues[index]
        var message = ""
        do {
            let settings = try Adapt.parse(["--corpus", "x.txt"] + arguments).settings(resumed: nil)
            try settings.validate()
        } catch {
            message = Adapt.message(for: error)
        }
        #expect(message.contains(option), "\(arguments): '\(message)'")
    }

    @Test func helpNamesEveryOptionAndShowsTheSettingsDefaults() {
        let help = Adapt.helpMessage(columns: 400)
        for field in AdaptationOverrides.fields {
            for name in field.option.replacingOccurrences(of: "[no-]", with: "").split(separator: "/") {
                #expect(help.contains(name), "\(name) is not in the help")
            }
        }
        let d = AdaptationSettings.defaults
        for shown in ["Sequences per micro-batch (default: \(d.batchSize))", "Peak learning rate (default: \(d.learningRate))",
                      "(default: \(d.mask.rawValue))", "(default: \(d.maskRatio))", "(default: \(d.maxSpanLength))",
                      "(default: \(RuntimeDefaults.seed))", "all cores, \(RuntimeDefaults.threads) here"] {
            #expect(help.contains(shown), "help lacks '\(shown)'")
        }
    }
}

/// `--threads` and `--precision` mean the same, with the same default, in every command.
@Suite struct RuntimeOptionsTests {
    static let commands: [(name: String, parse: @Sendable ([String]) throws -> RuntimeOptions)] = [
        ("adapt", { try Adapt.parse(["--corpus", "x.txt"] + $0).options.runtime }),
        ("evaluate", { try Evaluate.parse(["--checkpoint", "c", "--corpus", "x.txt"] + $0).runtime }),
        ("fill-mask", { try FillMask.parse(["--checkpoint", "c", "a [MASK]."] + $0).runtime }),
        ("classify", { try ClassifyCommand.parse(["--train", "t.tsv", "--validation", "d.tsv"] + $0).common.runtime }),
        ("ner", { try NERCommand.parse(["--train", "t.conll", "--validation", "d.conll"] + $0).common.runtime }),
        ("predict", { try PredictCommand.parse(["--checkpoint", "c", "texts.txt"] + $0).runtime }),
    ]

    @Test(arguments: commands.indices)
    func oneDefaultAndOneRangeEverywhere(index: Int) throws {
        let (name, parse) = Self.commands[index]
        #expect(try parse([]).resolvedThreads == RuntimeDefaults.threads, "\(name)")
        #expect(try parse(["--threads", "3"]).resolvedThreads == 3, "\(name)")
        let bf16Refused = (try? Precision.bf16.resolved()) == nil
        for (arguments, expected) in [(["--threads", "0"], "--threads 0 must be in 1...256")]
            + (bf16Refused ? [(["--precision", "bf16"], "--precision bf16 is not available here")] : []) {
            #expect(performing: { _ = try parse(arguments) }, throws: { error in
                "\(error)".contains(expected) || Adapt.message(for: error).contains(expected)
            })
        }
    }

    @Test func seedDefaultsMatchAcrossTrainingCommands() throws {
        #expect(try ClassifyCommand.parse(["--train", "t.tsv", "--validation", "d.tsv"]).common.seedOption.resolvedSeed
            == AdaptationSettings.defaults.seed)
    }
}
