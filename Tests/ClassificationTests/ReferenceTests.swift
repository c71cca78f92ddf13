import Foundation
import Testing
@testable import Checkpoint
@testable import Classification
@testable import Model

/// classify/ner start from, and predict reads, every path `CheckpointReference` accepts.
@Suite struct ClassifierReferenceTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/checkpoint")
    static let probe = "bert.encoder.layer.0.attention.self.query.weight"

    /// An adapt run folder (from tiny-mlm) and a sentence-transformers folder (from tiny-st) in `root`.
    static func library(_ root: URL) throws {
        let prepared = try ModelLoading.prepare(CheckpointReference.resolve(fixtures.appendingPathComponent("tiny-mlm")), heads: .maskedLM)
        let metadata = CheckpointMetadata(configJSON: prepared.configJSON, vocabularyText: prepared.vocabularyText, doLowerCase: true)
        try CheckpointStore(directory: root.appendingPathComponent("run"))
            .save(step: 8, model: prepared.model.parameterViews(), optimizer: nil, metadata: metadata)
        try FileManager.default.copyItem(at: fixtures.appendingPathComponent("tiny-st"), to: root.appendingPathComponent("st"))
        try Data(#"[{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}]"#.utf8)
            .write(to: root.appendingPathComponent("st/modules.json"))
    }

    static let starts: [(path: String, source: String, sourceName: String)] = [
        ("run", "tiny-mlm", probe), ("run/latest", "tiny-mlm", probe), ("run/step-8.safetensors.gz", "tiny-mlm", probe),
        ("st", "tiny-st", "encoder.layer.0.attention.self.query.weight"),
    ]

    @Test(arguments: [ClassifierKind.sequence, .token])
    func fineTuningStartsFromEveryKind(kind: ClassifierKind) throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        try Self.library(root)
        let labels = try LabelSet(names: ["a", "b", "c"])
        let references = Self.starts.map { (root.appendingPathComponent($0.path), $0.source, $0.sourceName) }
            + [(Self.fixtures.appendingPathComponent("tiny-mlm"), "tiny-mlm", Self.probe),
               (Self.fixtures.appendingPathComponent("tiny-st/model.safetensors"), "tiny-st", "encoder.layer.0.attention.self.query.weight")]
        for (url, source, sourceName) in references {
            let loaded = try ClassifierCheckpoint.initialize(from: url, kind: kind, labels: labels, seed: 2)
            let expected = try LoadedCheckpoint.open(Self.fixtures.appendingPathComponent(source)).tensors.floats(sourceName)
            #expect(Array(try #require(loaded.model.tensor(Self.probe))) == expected, "\(url.path)")
            #expect(loaded.model.layout.heads == ModelHeads(maskedLM: false, pooler: kind == .sequence, classifierLabels: 3))
            #expect(loaded.initializedTensors.contains("classifier.weight"))
        }
    }

    /// predict reads a classify run folder (its model.safetensors.gz); an MLM run is refused by name.
    @Test func predictReadsAClassifyRunFolder() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        try Self.library(root)
        let labels = try LabelSet(names: ["neg", "pos"])
        let trained = try ClassifierCheckpoint.initialize(from: root.appendingPathComponent("run"), kind: .sequence,
                                                          labels: labels, seed: 5)
        let runFolder = root.appendingPathComponent("classify-run")
        try ClassifierCheckpoint.save(trained, runArguments: [:], metricsJSON: nil,
                                      to: runFolder.appendingPathComponent("model.safetensors.gz"))
        try Data("{}".utf8).write(to: runFolder.appendingPathComponent("report.json"))
        let loaded = try ClassifierCheckpoint.load(from: runFolder)
        #expect(loaded.kind == .sequence && loaded.labels == labels)
        #expect(Array(loaded.model.parameters) == Array(trained.model.parameters))

        let error = try #require(throws: ClassificationError.self) {
            try ClassifierCheckpoint.load(from: root.appendingPathComponent("run"))
        }
        #expect("\(error)".contains("step-8.safetensors.gz") && "\(error)".contains("BertForMaskedLM"), "\(error)")
    }
}
