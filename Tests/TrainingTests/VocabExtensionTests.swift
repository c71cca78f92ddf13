import Corpus
import Foundation
import Testing
@testable import Checkpoint
@testable import Model
import Tokenizer
@testable import Training

/// A tiny pretrained-looking model (a seeded scratch model saved as a checkpoint) and an extension of its
/// vocabulary with the corpus words it cuts into the most pieces.
struct ExtensionSetup {
    let tiny: TinySetup
    let baseCheckpoint: URL
    let base: PreparedModel
    let extensionURL: URL
    let added: [String]

    init(adding count: Int = 12) throws {
        tiny = try TinySetup(dropout: 0)
        let scratch = try ModelLoading.scratch(vocabulary: tiny.vocabularyURL, config: tiny.configURL, lowercase: true, seed: 3)
        // Nonzero decoder biases, so the bias rows test something.
        let bias = scratch.model.tensor(PreparedModel.decoderBiasName)!
        for index in bias.indices { bias[index] = Float(index % 7) * 0.01 - 0.03 }
        baseCheckpoint = tiny.directory.appendingPathComponent("base.safetensors.gz")
        let metadata = CheckpointMetadata(
            configJSON: scratch.configJSON, vocabularyText: scratch.vocabularyText, doLowerCase: true)
        try CheckpointFile.write(scratch.model.parameterViews(), metadata: metadata.dictionary(), to: baseCheckpoint)
        base = try ModelLoading.prepare(CheckpointReference.resolve(baseCheckpoint), heads: .maskedLM)

        var counts = WordCounts(lowercase: true)
        counts.feed(try String(contentsOf: TinySetup.corpus, encoding: .utf8)[...])
        added = VocabularyExtension.rank(counts.counts, base: base.tokenizer).prefix(count).map(\.word)
        extensionURL = tiny.directory.appendingPathComponent("extended.txt")
        try Self.write(base.vocabulary.tokens + added, to: extensionURL)
    }

    static func write(_ tokens: [String], to url: URL) throws {
        try (tokens.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
    }

    func settings(steps: Int) -> AdaptationSettings {
        var settings = tiny.settings(steps: steps)
        settings.vocabularyExtension = extensionURL.path
        settings.headWarmupSteps = 0
        return settings
    }

    var source: ModelSource { get throws { .checkpoint(try CheckpointReference.resolve(baseCheckpoint)) } }

    func remove() { tiny.remove() }
}

/// Bit patterns, so -0 and NaN payloads count as changes.
func bits(_ values: UnsafeMutableBufferPointer<Float>, _ range: Range<Int>) -> [UInt32] {
    range.map { values[$0].bitPattern }
}

@Suite(.serialized) struct VocabExtensionTests {
    @Test func oldRowsAreBitIdenticalAtStepZero() throws {
        let setup = try ExtensionSetup()
        defer { setup.remove() }
        #expect(setup.added.count == 12)
        let run = try Adaptation(settings: setup.settings(steps: 2), source: setup.source, resume: nil,
                                 outputDirectory: setup.tiny.directory.appendingPathComponent("run"),
                                 progressIsTerminal: false, log: { _ in })
        let grown = run.prepared.model
        let old = setup.base.model
        #expect(grown.config.vocabSize == old.config.vocabSize + 12)
        #expect(run.prepared.vocabulary.tokens == setup.base.vocabulary.tokens + setup.added)
        for tensor in old.layout.tensors {
            let before = try #require(old.tensor(tensor.name)), after = try #require(grown.tensor(tensor.name))
            #expect(bits(after, 0..<before.count) == bits(before, 0..<before.count), "\(tensor.name) changed")
            let grows = [PreparedModel.wordEmbeddingsName, PreparedModel.decoderBiasName].contains(tensor.name)
            #expect(after.count == before.count + (grows ? 12 * (tensor.shape.count == 2 ? tensor.shape[1] : 1) : 0))
        }
    }

    @Test func newRowsAreTheMeanOfTheirOldPieces() throws {
        let setup = try ExtensionSetup()
        defer { setup.remove() }
        let extended = try setup.base.extendingVocabulary(
            to: setup.base.vocabulary.tokens + setup.added, file: setup.extensionURL.path)
        let hidden = setup.base.model.config.hiddenSize
        let oldEmbeddings = try #require(setup.base.model.tensor(PreparedModel.wordEmbeddingsName))
        let oldBias = try #require(setup.base.model.tensor(PreparedModel.decoderBiasName))
        let embeddings = try #require(extended.model.tensor(PreparedModel.wordEmbeddingsName))
        let bias = try #require(extended.model.tensor(PreparedModel.decoderBiasName))
        for (offset, word) in setup.added.enumerated() {
            let id = setup.base.vocabulary.count + offset
            #expect(extended.tokenizer.encode(word, addSpecialTokens: false).ids == [Int32(id)], "\(word)")
            let pieces = setup.base.tokenizer.encode(word, addSpecialTokens: false).ids.map(Int.init)
            #expect(pieces.count >= 2, "\(word) is one piece in the base vocabulary")
            for column in 0..<hidden {
                let mean = pieces.map { Double(oldEmbeddings[$0 * hidden + column]) }.reduce(0, +) / Double(pieces.count)
                #expect(abs(Double(embeddings[id * hidden + column]) - mean) < 1e-7, "\(word) column \(column)")
            }
            let meanBias = pieces.map { Double(oldBias[$0]) }.reduce(0, +) / Double(pieces.count)
            #expect(abs(Double(bias[id]) - meanBias) < 1e-7, "\(word) bias")
        }
        // A ## token starts from the continuation pieces of its text.
        let tail = try #require(setup.added.first { $0.count > 3 })
        let continuation = "##" + tail.dropFirst()
        let withContinuation = try setup.base.extendingVocabulary(
            to: setup.base.vocabulary.tokens + [continuation], file: "c.txt")
        let pieces = VocabularyExtension.basePieces(of: continuation, tokenizer: setup.base.tokenizer)
        #expect(pieces.allSatisfy { setup.base.vocabulary.token(of: $0).hasPrefix("##") } && pieces.count >= 2)
        let row = try #require(withContinuation.model.tensor(PreparedModel.wordEmbeddingsName))
        let mean = pieces.map { Double(oldEmbeddings[Int($0) * hidden]) }.reduce(0, +) / Double(pieces.count)
        #expect(abs(Double(row[setup.base.vocabulary.count * hidden]) - mean) < 1e-7)
    }

    /// The run trains, saves the extended vocabulary and vocab_size in every checkpoint, exports them,
    /// resumes, and refuses to resume when the extension file no longer matches the checkpoint.
    @Test func checkpointsExportsAndResumesCarryTheExtendedVocabulary() throws {
        let setup = try ExtensionSetup()
        defer { setup.remove() }
        let output = setup.tiny.directory.appendingPathComponent("run")
        var settings = setup.settings(steps: 4)
        settings.saveEvery = 2
        settings.keepLast = 3
        let first = try Adaptation(settings: settings, source: setup.source, resume: nil, outputDirectory: output,
                                   progressIsTerminal: false, log: { _ in })
        first.afterStep = { step in if step == 2 { first.stop.request() } }
        _ = try first.run()
        let stepTwo = output.appendingPathComponent("step-2.safetensors.gz")
        let saved = try LoadedCheckpoint.open(stepTwo)
        let tokens = setup.base.vocabulary.tokens + setup.added
        #expect(saved.vocabularyTokenList == tokens)
        #expect(saved.config?.vocabSize == tokens.count)
        #expect(try saved.tensors.entry("bert.embeddings.word_embeddings.weight")?.shape == [tokens.count, 32])

        let export = setup.tiny.directory.appendingPathComponent("export")
        try HFModelFolder.export(checkpoint: saved, to: export)
        #expect(try String(contentsOf: export.appendingPathComponent("vocab.txt"), encoding: .utf8) == tokens.joined(separator: "\n") + "\n")
        let config = try BertConfig.load(from: export.appendingPathComponent("config.json"))
        #expect(config.vocabSize == tokens.count)
        let tokenizerJSON = try String(contentsOf: export.appendingPathComponent("tokenizer.json"), encoding: .utf8)
        #expect(setup.added.allSatisfy { tokenizerJSON.contains("\"\($0)\"") })

        // Resume: the checkpoint's vocabulary, not re-extended.
        let resumed = try Adaptation(settings: settings, source: setup.source, resume: saved, outputDirectory: output,
                                     progressIsTerminal: false, log: { _ in })
        #expect(resumed.prepared.vocabulary.tokens == tokens)
        #expect(try resumed.run().finalStep == 4)

        // The run's extension file changed since: refused, naming both.
        try ExtensionSetup.write(setup.base.vocabulary.tokens + setup.added.reversed(), to: setup.extensionURL)
        let error = try #require(throws: CheckpointError.self) {
            _ = try Adaptation(settings: settings, source: setup.source, resume: saved, outputDirectory: output,
                               progressIsTerminal: false, log: { _ in })
        }
        #expect("\(error)".contains("vocab mismatch") && "\(error)".contains(setup.extensionURL.path), "\(error)")
        #expect("\(error)".contains("first difference at id \(setup.base.vocabulary.count)"), "\(error)")
    }

    typealias Tokens = @Sendable (_ base: [String], _ added: [String]) -> [String]
    /// Bad extension files: each error names the file, the line and what is wrong (the fragments, from the base).
    static let badExtensions: [(name: String, tokens: Tokens, expected: @Sendable ([String]) -> [String])] = [
        ("reordered", { base, added in var t = base; t.swapAt(40, 41); return t + added },
         { base in ["line 41", "'\(base[41])' where", "has '\(base[40])' (id 40)"] }),
        ("dropped", { base, added in Array(base[..<30] + base[31...]) + added }, { _ in ["line 31", "keeps every old token"] }),
        ("truncated", { base, _ in Array(base.prefix(50)) }, { base in ["line 51", "ends after 50 tokens", "'\(base[50])'"] }),
        ("unrelated", { base, added in Array(base.prefix(5)) + added + base.dropFirst(5) }, { _ in ["line 6"] }),
        ("too long", { base, _ in base + (0..<(base.count + 1)).map { "zz\($0)" } },
         { base in ["adds \(base.count + 1) tokens", "at most \(base.count)"] }),
        ("unproducible", { base, added in base + added + ["Licensee"] }, { base in ["line \(base.count + 13)", "'Licensee' can never be produced"] }),
        ("punctuation", { base, _ in base + ["well-known"] }, { base in ["line \(base.count + 1)", "can never be produced"] }),
        ("duplicate", { base, added in base + added + [added[0]] }, { _ in ["duplicate token"] }),
    ]

    @Test(arguments: badExtensions.indices)
    func badExtensionsAreRefusedNamingFileAndLine(index: Int) throws {
        let (name, make, expected) = Self.badExtensions[index]
        let setup = try ExtensionSetup()
        defer { setup.remove() }
        let base = setup.base.vocabulary.tokens
        try ExtensionSetup.write(make(base, setup.added), to: setup.extensionURL)
        var message = ""
        do {
            _ = try Adaptation(settings: setup.settings(steps: 2), source: setup.source, resume: nil,
                               outputDirectory: setup.tiny.directory.appendingPathComponent("run"), progressIsTerminal: false,
                               log: { _ in })
        } catch { message = "\(error)" }
        #expect(message.contains(setup.extensionURL.path), "\(name): '\(message)'")
        for fragment in expected(base) {
            #expect(message.contains(fragment), "\(name): '\(message)' lacks '\(fragment)'")
        }
    }

    /// `mlm-adapt vocab --extend`: the base, then the best-ranked words of the documents adapt trains on (the
    /// held-out ones are not counted), and the held-out fragmentation before and after.
    @Test func vocabExtendCommandAppendsTheBestWordsOfTheTrainingDocuments() throws {
        let setup = try ExtensionSetup()
        defer { setup.remove() }
        let out = setup.tiny.directory.appendingPathComponent("cli.txt")
        let result = try ReferenceCommandTests.mlmAdapt([
            "vocab", "--extend", setup.tiny.vocabularyURL.path, "--corpus", TinySetup.corpus.path, "--add", "5",
            "--validation-split", "0.3", "--out", out.path])
        #expect(result.status == 0, "\(result.stderr)")
        var settings = AdaptationSettings(corpus: [TinySetup.corpus.path])
        settings.validationSplit = 0.3
        var training = WordCounts(lowercase: true), all = WordCounts(lowercase: true)
        try CorpusDocuments.forEach(settings.trainCorpusOptions()) { training.feed($0[...]) }
        all.feed(try String(contentsOf: TinySetup.corpus, encoding: .utf8)[...])
        #expect(training.counts != all.counts, "the split should hold some documents out")
        let expected = VocabularyExtension.rank(training.counts, base: setup.base.tokenizer).prefix(5).map(\.word)
        let written = try Vocabulary(contentsOf: out).tokens
        #expect(written == setup.base.vocabulary.tokens + expected)
        #expect(result.stdout.contains("+ 5 added"), "\(result.stdout)")
        #expect(result.stdout.contains("pieces per word before"), "\(result.stdout)")

        let base = setup.tiny.vocabularyURL.path
        for (arguments, fragment) in [(["--extend", base, "--add", "0"], "--add 0 must be at least 1"),
                                      (["--add", "3"], "--extend BASE_VOCAB and --add N go together"),
                                      (["--extend", base, "--add", "100000"], "at most")] {
            let bad = try ReferenceCommandTests.mlmAdapt(["vocab", "--corpus", TinySetup.corpus.path, "--out", out.path] + arguments)
            #expect(bad.status != 0 && bad.stderr.contains(fragment), "\(arguments): \(bad.stderr)")
        }
    }

    @Test func aModelFromScratchTakesNoExtension() throws {
        let setup = try ExtensionSetup()
        defer { setup.remove() }
        #expect(throws: TrainingError.self) {
            _ = try Adaptation(settings: setup.settings(steps: 2), source: setup.tiny.source, resume: nil,
                               outputDirectory: setup.tiny.directory.appendingPathComponent("run"), progressIsTerminal: false,
                               log: { _ in })
        }
    }
}

/// The export of an extended run loads in `transformers`, checked by Scripts/checks/check_export.py.
@Suite(.serialized) struct VocabExtensionTransformersTests {
    static let repositoryRoot = fixturesDirectory.deletingLastPathComponent().deletingLastPathComponent()

    /// Whether python3 can import torch and transformers (run once).
    static let transformersImportable: Bool = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import torch, transformers, tokenizers"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()

    @Test(.enabled(if: transformersImportable, "skipped: python3 cannot import torch, transformers and tokenizers"))
    func exportLoadsInBertForMaskedLM() throws {
        let setup = try ExtensionSetup()
        defer { setup.remove() }
        let output = setup.tiny.directory.appendingPathComponent("run")
        let run = try Adaptation(settings: setup.settings(steps: 2), source: setup.source, resume: nil, outputDirectory: output,
                                 progressIsTerminal: false, log: { _ in })
        _ = try run.run()
        let checkpoint = output.appendingPathComponent("step-2.safetensors.gz")
        let export = setup.tiny.directory.appendingPathComponent("export")
        try HFModelFolder.export(checkpoint: try LoadedCheckpoint.open(checkpoint), to: export)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.repositoryRoot.appendingPathComponent("Scripts/checks/check_export.py").path,
                             export.path, "--checkpoint", checkpoint.path, "--texts", TinySetup.corpus.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "check_export.py: \(text)")
        #expect(text.contains("no missing/unexpected keys") && text.contains("bit for bit"), "\(text)")
        let vocabSize = setup.base.vocabulary.count + setup.added.count
        #expect(text.contains("(\(vocabSize) tokens"), "the HF tokenizer should hold the extended vocab: \(text)")
    }
}
