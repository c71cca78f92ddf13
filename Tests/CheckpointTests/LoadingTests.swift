import Foundation
import Model
import Testing
@testable import Checkpoint

@Suite struct LoadingTests {
    static let mlmLayout = ParameterLayout(config: tinyConfig, heads: .maskedLM)

    /// Every layout tensor must equal torch's state dict (golden.safetensors) bit for bit.
    static func expectMatchesGolden(_ arena: Arena, golden: SafeTensorsFile, prefix: String = "") throws {
        for tensor in arena.layout.tensors {
            let expected = try golden.floats(prefix + tensor.name)
            #expect(arena.values(tensor.name) == expected, "\(tensor.name)")
        }
    }

    @Test func loadsHFFolderInF32() throws {
        let checkpoint = try LoadedCheckpoint.open(Fixtures.folder("tiny-mlm"))
        #expect(checkpoint.config?.hiddenSize == 32)
        #expect(checkpoint.vocabularyTokenList?.count == 100)
        #expect(checkpoint.doLowerCase == true)
        let arena = Arena(Self.mlmLayout)
        let report = try checkpoint.loadWeights(into: arena.buffer, layout: Self.mlmLayout)
        #expect(report.loaded.count == Self.mlmLayout.tensors.count)
        #expect(report.initialized.isEmpty && report.unused.isEmpty)
        #expect(!report.createdMaskedLMHead)
        try Self.expectMatchesGolden(arena, golden: CheckpointFile.read(Fixtures.folder("tiny-mlm/golden.safetensors")))
    }

    /// F16 and BF16 widen exactly: the result equals torch's `.float()` of the same tensors.
    @Test(arguments: [("tiny-mlm-f16", "F16"), ("tiny-mlm-bf16", "BF16")])
    func halfPrecisionConvertsExactly(folder: String, dtype: String) throws {
        let checkpoint = try LoadedCheckpoint.open(Fixtures.folder(folder))
        let arena = Arena(Self.mlmLayout)
        let report = try checkpoint.loadWeights(into: arena.buffer, layout: Self.mlmLayout)
        #expect(report.convertedDTypes == [dtype: Self.mlmLayout.tensors.count])
        let expected = try CheckpointFile.read(Fixtures.folder("\(folder)/expected_f32.safetensors"))
        for tensor in Self.mlmLayout.tensors {
            let want = try expected.floats(tensor.name).map(\.bitPattern)
            #expect(arena.values(tensor.name).map(\.bitPattern) == want, "\(tensor.name)")
        }
    }

    /// BertModel naming (no `bert.` prefix), a pooler and no MLM head: the head is created,
    /// the pooler reported unused, the encoder loaded.
    @Test func sentenceTransformersNamingCreatesHead() throws {
        let checkpoint = try LoadedCheckpoint.open(Fixtures.folder("tiny-st"))
        let arena = Arena(Self.mlmLayout)
        let report = try checkpoint.loadWeights(into: arena.buffer, layout: Self.mlmLayout, options: LoadOptions(seed: 7))
        #expect(report.createdMaskedLMHead)
        #expect(Set(report.initialized) == Set(Self.mlmLayout.tensors.map(\.name).filter { $0.hasPrefix("cls.") }))
        #expect(Set(report.unused) == ["pooler.dense.weight", "pooler.dense.bias"])
        let file = checkpoint.tensors
        for tensor in Self.mlmLayout.tensors where tensor.name.hasPrefix("bert.") {
            #expect(arena.values(tensor.name) == (try file.floats(String(tensor.name.dropFirst(5)))), "\(tensor.name)")
        }
        #expect(report.description.contains("MLM head absent"))
    }

    /// Created heads follow BERT's initialisation and are reproducible from the seed.
    @Test func createdHeadIsSeededNormalInitialisation() throws {
        let checkpoint = try LoadedCheckpoint.open(Fixtures.folder("tiny-st"))
        let first = Arena(Self.mlmLayout), second = Arena(Self.mlmLayout), other = Arena(Self.mlmLayout)
        _ = try checkpoint.loadWeights(into: first.buffer, layout: Self.mlmLayout, options: LoadOptions(seed: 11))
        _ = try checkpoint.loadWeights(into: second.buffer, layout: Self.mlmLayout, options: LoadOptions(seed: 11))
        _ = try checkpoint.loadWeights(into: other.buffer, layout: Self.mlmLayout, options: LoadOptions(seed: 12))
        let dense = first.values("cls.predictions.transform.dense.weight")
        #expect(dense == second.values("cls.predictions.transform.dense.weight"))
        #expect(dense != other.values("cls.predictions.transform.dense.weight"))
        let mean = dense.reduce(0, +) / Float(dense.count)
        let std = (dense.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(dense.count)).squareRoot()
        // 1024 samples: the standard error of the mean is 0.02/32; of the std about 2.2%.
        #expect(abs(mean) < 0.0025)
        #expect(abs(std - tinyConfig.initializerRange) < 0.002)
        #expect(first.values("cls.predictions.transform.LayerNorm.weight").allSatisfy { $0 == 1 })
        #expect(first.values("cls.predictions.transform.LayerNorm.bias").allSatisfy { $0 == 0 })
        #expect(first.values("cls.predictions.bias").allSatisfy { $0 == 0 })
        #expect(first.values("cls.predictions.transform.dense.bias").allSatisfy { $0 == 0 })
    }

    @Test func missingHeadIsAnErrorWhenCreationIsOff() throws {
        let checkpoint = try LoadedCheckpoint.open(Fixtures.folder("tiny-st"))
        let arena = Arena(Self.mlmLayout)
        let error = try #require(throws: CheckpointError.self) {
            try checkpoint.loadWeights(into: arena.buffer, layout: Self.mlmLayout, options: LoadOptions(createMissingHeads: false))
        }
        #expect(error.description.contains("cls.predictions.transform.dense.weight"))
    }

    /// A pooler+classifier layout loads the pooler from a BertModel file and creates the classifier.
    @Test func classificationLayoutUsesPoolerAndCreatesClassifier() throws {
        let layout = ParameterLayout(config: tinyConfig, heads: ModelHeads(maskedLM: false, pooler: true, classifierLabels: 3))
        let checkpoint = try LoadedCheckpoint.open(Fixtures.folder("tiny-st"))
        let arena = Arena(layout)
        let report = try checkpoint.loadWeights(into: arena.buffer, layout: layout)
        #expect(report.loaded.contains("bert.pooler.dense.weight"))
        #expect(Set(report.initialized) == ["classifier.weight", "classifier.bias"])
        #expect(!report.createdMaskedLMHead)
        // And an MLM file into the same layout: its MLM head is unused.
        let mlmReport = try LoadedCheckpoint.open(Fixtures.folder("tiny-mlm")).loadWeights(into: arena.buffer, layout: layout)
        #expect(mlmReport.unused.contains("cls.predictions.transform.dense.weight"))
        #expect(mlmReport.initialized.contains("bert.pooler.dense.weight"))
    }

    /// golden.safetensors holds the tied copies `cls.predictions.decoder.{weight,bias}` too.
    @Test func tiedDecoderCopiesAreCheckedAndWarnWhenDifferent() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let golden = try CheckpointFile.read(Fixtures.folder("tiny-mlm/golden.safetensors"))
        let layout = Self.mlmLayout

        // Decoder bias only (no cls.predictions.bias): it fills cls.predictions.bias; equal tied weight: no warning.
        let consistent = folder.appendingPathComponent("consistent.safetensors")
        try write(try rewritten(golden) { $0 == "cls.predictions.bias" || $0 == "masked_logits" ? nil : $0 }, to: consistent)
        let arena = Arena(layout)
        let report = try LoadedCheckpoint.open(consistent).loadWeights(into: arena.buffer, layout: layout)
        #expect(report.warnings.isEmpty, "\(report.warnings)")
        #expect(report.loaded.contains("cls.predictions.bias"))
        #expect(arena.values("cls.predictions.bias") == (try golden.floats("cls.predictions.decoder.bias")))
        #expect(report.ignoredBuffers.isEmpty)

        // A decoder weight that differs from the word embeddings: loads, with a warning.
        var storage: [(String, [Int], [Float])] = []
        for entry in golden.entries where entry.dtype == .F32 && entry.name != "masked_logits" {
            var values = try golden.floats(entry.name)
            if entry.name == "cls.predictions.decoder.weight" { values[5] += 0.5 }
            storage.append((entry.name, entry.shape, values))
        }
        let untied = folder.appendingPathComponent("untied.safetensors")
        try write(TensorView.withViews(of: storage) { SafeTensorsWriter.serialize($0, metadata: [:]) }, to: untied)
        let warned = try LoadedCheckpoint.open(untied).loadWeights(into: arena.buffer, layout: layout)
        #expect(warned.warnings.count == 1)
        #expect(warned.warnings.first?.contains("cls.predictions.decoder.weight") == true)
    }

    /// Old TF-converted names (LayerNorm gamma/beta) map to weight/bias.
    @Test func gammaBetaNamesMap() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = try LoadedCheckpoint.open(Fixtures.folder("tiny-mlm"))
        let url = folder.appendingPathComponent("model.safetensors")
        try write(try rewritten(source.tensors) { name in
            name.contains("LayerNorm.weight") ? name.replacingOccurrences(of: "LayerNorm.weight", with: "LayerNorm.gamma")
                : name.replacingOccurrences(of: "LayerNorm.bias", with: "LayerNorm.beta")
        }, to: url)
        try FileManager.default.copyItem(at: Fixtures.folder("tiny-mlm/config.json"), to: folder.appendingPathComponent("config.json"))
        let arena = Arena(Self.mlmLayout)
        let report = try LoadedCheckpoint.open(folder).loadWeights(into: arena.buffer, layout: Self.mlmLayout)
        #expect(report.loaded.count == Self.mlmLayout.tensors.count)
        try Self.expectMatchesGolden(arena, golden: CheckpointFile.read(Fixtures.folder("tiny-mlm/golden.safetensors")))
    }

    struct BadFile: CustomTestStringConvertible, Sendable {
        let label: String
        let build: @Sendable (SafeTensorsFile) throws -> [UInt8]
        let mustMention: [String]
        var testDescription: String { label }
    }

    static let badFiles: [BadFile] = [
        BadFile(label: "missing encoder tensor", build: { file in
            try rewritten(file) { $0 == "bert.encoder.layer.1.output.dense.bias" ? nil : $0 }
        }, mustMention: ["missing 1 tensor", "bert.encoder.layer.1.output.dense.bias"]),
        BadFile(label: "wrong shape", build: { file in
            var storage: [(String, [Int], [Float])] = []
            for entry in file.entries {
                let values = try file.floats(entry.name)
                storage.append(entry.name == "bert.encoder.layer.0.intermediate.dense.weight"
                    ? (entry.name, [32, 48], values) : (entry.name, entry.shape, values))
            }
            return TensorView.withViews(of: storage) { SafeTensorsWriter.serialize($0, metadata: [:]) }
        }, mustMention: ["bert.encoder.layer.0.intermediate.dense.weight", "[32, 48]", "[48, 32]"]),
        BadFile(label: "wrong dtype", build: { file in
            // The tensor's bytes reinterpreted as I32: same size, wrong type.
            var plain = try rewritten(file) { $0 }
            let marker = Array("\"bert.embeddings.LayerNorm.bias\":{\"dtype\":\"F32\"".utf8)
            guard let start = (0...(plain.count - marker.count)).first(where: { plain[$0..<($0 + marker.count)].elementsEqual(marker) })
            else { return [] }
            plain[start + marker.count - 4] = UInt8(ascii: "I")
            return plain
        }, mustMention: ["bert.embeddings.LayerNorm.bias", "I32"]),
        BadFile(label: "unexpected tensor", build: { file in
            var storage = try file.entries.map { ($0.name, $0.shape, try file.floats($0.name)) }
            storage.append(("bert.encoder.adapter.bias", [32], [Float](repeating: 0, count: 32)))
            return TensorView.withViews(of: storage) { SafeTensorsWriter.serialize($0, metadata: [:]) }
        }, mustMention: ["bert.encoder.adapter.bias", "matches no parameter"]),
        BadFile(label: "more layers than the config", build: { file in
            // Layer 1 copied as a third layer the two-layer config does not have.
            var storage: [(String, [Int], [Float])] = []
            for entry in file.entries where entry.dtype.isLoadableAsFloat {
                let values = try file.floats(entry.name)
                storage.append((entry.name, entry.shape, values))
                if entry.name.contains("encoder.layer.1.") {
                    storage.append((entry.name.replacingOccurrences(of: "layer.1.", with: "layer.2."), entry.shape, values))
                }
            }
            return TensorView.withViews(of: storage) { SafeTensorsWriter.serialize($0, metadata: [:]) }
        }, mustMention: ["encoder layer 2", "num_hidden_layers is 2"]),
    ]

    @Test(arguments: badFiles)
    func loadErrorsNameFileAndTensor(_ bad: BadFile) throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = try LoadedCheckpoint.open(Fixtures.folder("tiny-mlm"))
        let url = folder.appendingPathComponent("model.safetensors")
        try write(try bad.build(source.tensors), to: url)
        try FileManager.default.copyItem(at: Fixtures.folder("tiny-mlm/config.json"), to: folder.appendingPathComponent("config.json"))
        let arena = Arena(Self.mlmLayout)
        let error = try #require(throws: CheckpointError.self) {
            try LoadedCheckpoint.open(url).loadWeights(into: arena.buffer, layout: Self.mlmLayout)
        }
        #expect(error.description.contains(url.path), "\(error)")
        for fragment in bad.mustMention { #expect(error.description.contains(fragment), "\(error) lacks \(fragment)") }
    }

    /// One changed byte that joins two lines of the embedded vocab would shift every later id.
    @Test func embeddedVocabularyMustHaveVocabSizeTokens() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("joined.safetensors")
        let layout = ParameterLayout(config: tinyConfig, heads: .maskedLM)
        let arena = Arena(layout)
        _ = arena.buffer.initialize(from: randomFloats(layout.totalCount, seed: 4))
        let joined = tinyVocabularyText.replacingOccurrences(of: "w7\nw8\n", with: "w7 w8\n")
        let metadata = CheckpointMetadata(
            configJSON: String(decoding: try tinyConfig.jsonData(), as: UTF8.self), vocabularyText: joined)
        try CheckpointFile.write(arena.views(), metadata: metadata.dictionary(), to: url)
        let error = try #require(throws: CheckpointError.self) { try LoadedCheckpoint.open(url) }
        #expect(error.description.contains("99 tokens but vocab_size is 100"), "\(error)")
    }

    @Test func configMismatchIsNamed() throws {
        var config = tinyConfig
        config.numHiddenLayers = 3
        let layout = ParameterLayout(config: config, heads: .maskedLM)
        let arena = Arena(layout)
        let error = try #require(throws: CheckpointError.self) {
            try LoadedCheckpoint.open(Fixtures.folder("tiny-mlm")).loadWeights(into: arena.buffer, layout: layout)
        }
        #expect(error.description.contains("num_hidden_layers is 2 in the checkpoint, 3 in the model"))
    }

    @Test func vocabularyMismatchNamesSizesAndFirstDifference() throws {
        let checkpoint = try LoadedCheckpoint.open(Fixtures.folder("tiny-mlm"))
        let tokens = try #require(checkpoint.vocabularyTokenList)
        try checkpoint.verifyVocabulary(inUse: tokens)
        var changed = tokens
        changed[42] = "other"
        let error = try #require(throws: CheckpointError.self) { try checkpoint.verifyVocabulary(inUse: changed) }
        #expect(error.description.contains("vocab mismatch"))
        #expect(error.description.contains("first difference at id 42: '\(tokens[42])' vs 'other'"))
        let shorter = try #require(throws: CheckpointError.self) { try checkpoint.verifyVocabulary(inUse: Array(tokens.prefix(90))) }
        #expect(shorter.description.contains("100 tokens, the vocabulary in use has 90"))
    }

    /// The real all-MiniLM-L6-v2 folder: I64 position_ids ignored, pooler unused, head created.
    @Test(.enabled(if: Fixtures.miniLM != nil))
    func loadsAllMiniLM() throws {
        let folder = try #require(Fixtures.miniLM)
        let checkpoint = try LoadedCheckpoint.open(folder)
        let config = try #require(checkpoint.config)
        let layout = ParameterLayout(config: config, heads: .maskedLM)
        let arena = Arena(layout)
        let report = try checkpoint.loadWeights(into: arena.buffer, layout: layout)
        #expect(report.ignoredBuffers == ["embeddings.position_ids"])
        #expect(Set(report.unused) == ["pooler.dense.weight", "pooler.dense.bias"])
        #expect(report.createdMaskedLMHead)
        #expect(checkpoint.vocabularyTokenList?.count == 30522)
        #expect(arena.values("bert.embeddings.LayerNorm.weight") == (try checkpoint.tensors.floats("embeddings.LayerNorm.weight")))
    }
}
