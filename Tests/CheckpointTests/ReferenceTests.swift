import Foundation
import Model
import Testing
@testable import Checkpoint

/// Every kind of path a user may give resolves to the right file and loads for every head selection
/// the commands use; every wrong one is an error that says what was found and what was expected.
@Suite struct ReferenceTests {
    static let probe = "bert.encoder.layer.1.output.dense.weight"

    /// A scratch folder holding one example of every accepted kind, built from the committed fixtures.
    final class Library {
        let root: URL
        /// What the tiny-mlm fixture holds for `probe`; the run folder's newest step holds it too.
        let mlmProbe: [Float]
        let stProbe: [Float]

        init() throws {
            root = try temporaryFolder("references")
            let manager = FileManager.default
            let mlm = try LoadedCheckpoint.open(Fixtures.folder("tiny-mlm"))
            mlmProbe = try mlm.tensors.floats(ReferenceTests.probe)
            stProbe = try LoadedCheckpoint.open(Fixtures.folder("tiny-st")).tensors.floats("encoder.layer.1.output.dense.weight")

            // An adapt run folder: step 2 (other weights), step 4 = tiny-mlm, `latest` names step 4.
            let prepared = try ModelLoading.prepare(mlm, heads: .maskedLM)
            let metadata = CheckpointMetadata(
                configJSON: prepared.configJSON, vocabularyText: prepared.vocabularyText, doLowerCase: true)
            let store = CheckpointStore(directory: url("run"))
            let model = prepared.model
            let views = model.parameterViews()
            let scaled = model.parameters.map { $0 * 0.5 }
            try scaled.withUnsafeBufferPointer { buffer in
                try store.save(step: 2, model: model.layout.tensorViews(of: buffer), optimizer: nil, metadata: metadata)
            }
            try store.save(step: 4, model: views, optimizer: nil, metadata: metadata)
            // The same without `latest`: the newest step is taken.
            try manager.copyItem(at: url("run"), to: url("run-no-latest"))
            try manager.removeItem(at: url("run-no-latest/latest"))
            // A classify/ner run folder holds model.safetensors.gz and report.json.
            try manager.createDirectory(at: url("classify-run"), withIntermediateDirectories: true)
            try CheckpointFile.write(views, metadata: metadata.dictionary(), to: url("classify-run/model.safetensors.gz"))
            try Data("{}".utf8).write(to: url("classify-run/report.json"))
            // Our checkpoint under a name without the usual extension: recognised by content.
            try manager.copyItem(at: url("run/step-4.safetensors.gz"), to: url("renamed.ckpt"))

            // sentence-transformers, current layout: modules.json, Transformer module at the root.
            try copyFolder(Fixtures.folder("tiny-st"), to: url("st-root"))
            try Data(Self.modules(transformerPath: "").utf8).write(to: url("st-root/modules.json"))
            // Older layout: the Transformer module in 0_Transformer, named by modules.json or not.
            for name in ["st-old", "st-old-no-modules"] {
                try manager.createDirectory(at: url(name), withIntermediateDirectories: true)
                try copyFolder(Fixtures.folder("tiny-st"), to: url("\(name)/0_Transformer"))
            }
            try Data(Self.modules(transformerPath: "0_Transformer").utf8).write(to: url("st-old/modules.json"))
        }

        func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }

        static func modules(transformerPath: String) -> String {
            """
            [{"idx": 0, "name": "0", "path": "\(transformerPath)", "type": "sentence_transformers.models.Transformer"},
             {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
            """
        }

        private func copyFolder(_ source: URL, to destination: URL) throws {
            try FileManager.default.copyItem(at: source, to: destination)
        }

        deinit { try? FileManager.default.removeItem(at: root) }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let path: String
        let kind: CheckpointReference.Kind
        let weights: String
        /// The source's `probe` tensor: the MLM fixture's, else the sentence-transformers fixture's.
        let fromSentenceTransformers: Bool
        var testDescription: String { "\(path) → \(kind.rawValue)" }
    }

    static let cases: [Case] = [
        Case(path: "run", kind: .runFolder, weights: "run/step-4.safetensors.gz", fromSentenceTransformers: false),
        Case(path: "run/latest", kind: .latestPointer, weights: "run/step-4.safetensors.gz", fromSentenceTransformers: false),
        Case(path: "run-no-latest", kind: .runFolder, weights: "run-no-latest/step-4.safetensors.gz", fromSentenceTransformers: false),
        Case(path: "classify-run", kind: .runFolder, weights: "classify-run/model.safetensors.gz", fromSentenceTransformers: false),
        Case(path: "run/step-4.safetensors.gz", kind: .file, weights: "run/step-4.safetensors.gz", fromSentenceTransformers: false),
        Case(path: "renamed.ckpt", kind: .file, weights: "renamed.ckpt", fromSentenceTransformers: false),
        Case(path: "st-root", kind: .sentenceTransformers, weights: "st-root/model.safetensors", fromSentenceTransformers: true),
        Case(path: "st-old", kind: .sentenceTransformers, weights: "st-old/0_Transformer/model.safetensors", fromSentenceTransformers: true),
        Case(path: "st-old-no-modules", kind: .sentenceTransformers, weights: "st-old-no-modules/0_Transformer/model.safetensors",
             fromSentenceTransformers: true),
    ]

    /// The fixtures themselves: an HF folder and anyone's plain `.safetensors` with config.json beside it.
    static let fixtureCases: [(path: String, kind: CheckpointReference.Kind, weights: String)] = [
        ("tiny-mlm", .modelFolder, "tiny-mlm/model.safetensors"),
        ("tiny-mlm/model.safetensors", .file, "tiny-mlm/model.safetensors"),
        ("tiny-st", .modelFolder, "tiny-st/model.safetensors"),
        ("tiny-mlm-bf16/model.safetensors", .file, "tiny-mlm-bf16/model.safetensors"),
    ]

    /// The head selections of the commands: adapt --init, evaluate, fill-mask (maskedLM); classify and ner
    /// (new classifiers); export (stored).
    static let selections: [HeadSelection] = [
        .maskedLM, .newClassifier(pooler: true, labels: 3), .newClassifier(pooler: false, labels: 5), .stored,
    ]

    @Test(arguments: cases)
    func everyKindResolvesAndLoadsForEveryCommand(_ c: Case) throws {
        let library = try Library()
        let reference = try CheckpointReference.resolve(library.url(c.path))
        #expect(reference.kind == c.kind)
        #expect(reference.weights.standardizedFileURL == library.url(c.weights).standardizedFileURL)
        let expected = c.fromSentenceTransformers ? library.stProbe : library.mlmProbe
        for selection in Self.selections {
            let prepared = try ModelLoading.prepare(reference, heads: selection, seed: 3)
            #expect(Array(try #require(prepared.model.tensor(Self.probe))) == expected, "\(selection)")
            #expect(prepared.vocabulary.count == 100)
            switch selection {
            case .maskedLM: #expect(prepared.createdMaskedLMHead == c.fromSentenceTransformers)
            case .newClassifier(let pooler, let labels):
                #expect(prepared.model.layout.heads == ModelHeads(maskedLM: false, pooler: pooler, classifierLabels: labels))
            case .stored, .exactly: #expect(prepared.report.initialized.isEmpty)
            }
        }
        // export and inspect take the same paths.
        let exported = library.url("export-\(c.path.replacingOccurrences(of: "/", with: "-"))")
        try HFModelFolder.export(checkpoint: reference.open(), to: exported)
        #expect(try CheckpointReference.resolve(exported).kind == .modelFolder)
        #expect(try LoadedCheckpoint.open(exported).tensors.floats(Self.probe) == expected)
    }

    @Test(arguments: fixtureCases.map { "\($0.path)|\($0.kind.rawValue)|\($0.weights)" })
    func fixtureFoldersAndFilesResolve(_ row: String) throws {
        let parts = row.split(separator: "|").map(String.init)
        let reference = try CheckpointReference.resolve(Fixtures.folder(parts[0]))
        #expect(reference.kind.rawValue == parts[1])
        #expect(reference.weights == Fixtures.folder(parts[2]))
        let prepared = try ModelLoading.prepare(reference, heads: .maskedLM)
        #expect(prepared.model.layout.heads == .maskedLM)
    }

    /// Our masked-LM metadata names the task architecture, whatever the source's config said.
    @Test(arguments: [("tiny-st", "BertModel"), ("tiny-mlm", "BertForMaskedLM")])
    func maskedLMConfigNamesBertForMaskedLM(source: String, sourceArchitecture: String) throws {
        let checkpoint = try LoadedCheckpoint.open(Fixtures.folder(source))
        #expect(checkpoint.config?.architectures == [sourceArchitecture])
        let prepared = try ModelLoading.prepare(checkpoint, heads: .maskedLM)
        let config = try BertConfig.decode(Data(prepared.configJSON.utf8), source: "test")
        #expect(config.architectures == ["BertForMaskedLM"])
        let classifier = try ModelLoading.prepare(checkpoint, heads: .newClassifier(pooler: true, labels: 2))
        #expect(try BertConfig.decode(Data(classifier.configJSON.utf8), source: "test").architectures
            == ["BertForSequenceClassification"])
    }

    /// `.exactly` refuses a file that lacks a head instead of inventing one (resume, predict).
    @Test func exactHeadsMissingFromTheFileAreAnError() throws {
        let error = try #require(throws: CheckpointError.self) {
            try ModelLoading.prepare(CheckpointReference.resolve(Fixtures.folder("tiny-st")), heads: .exactly(.maskedLM))
        }
        #expect(error.description.contains("cls.predictions"), "\(error)")
    }

    struct Wrong: Sendable, CustomTestStringConvertible {
        let name: String
        /// Builds the bad path inside the folder given and returns it.
        let make: @Sendable (URL) throws -> URL
        let messageParts: [String]
        var testDescription: String { name }
    }

    static func file(_ name: String, _ bytes: [UInt8]) -> @Sendable (URL) throws -> URL {
        { folder in
            let url = folder.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(bytes).write(to: url)
            return url
        }
    }

    static func folder(_ files: [String: String]) -> @Sendable (URL) throws -> URL {
        { root in
            let folder = root.appendingPathComponent("bad")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for (name, text) in files {
                let url = folder.appendingPathComponent(name)
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data(text.utf8).write(to: url)
            }
            return folder
        }
    }

    static let expected = "expected a run folder, its `latest` file, a .safetensors or .safetensors.gz file"

    static let wrong: [Wrong] = [
        Wrong(name: "missing path", make: { $0.appendingPathComponent("nowhere") }, messageParts: ["nowhere", "no such file or folder"]),
        Wrong(name: "empty folder", make: folder([:]), messageParts: ["an empty folder", expected]),
        Wrong(name: "folder of other files", make: folder(["notes.txt": "x", "data.csv": "a,b"]),
              messageParts: ["a folder holding data.csv, notes.txt", expected]),
        Wrong(name: "config without weights", make: folder(["config.json": "{}"]),
              messageParts: ["no model.safetensors in this folder", expected]),
        Wrong(name: "PyTorch weights only", make: folder(["config.json": "{}", "pytorch_model.bin": "PK"]),
              messageParts: ["only pytorch_model.bin", "convert it to model.safetensors"]),
        Wrong(name: "weights without config", make: folder(["model.safetensors": "x"]),
              messageParts: ["no config.json in this folder"]),
        Wrong(name: "modules.json without a Transformer", make: folder([
            "modules.json": #"[{"idx": 0, "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]"#,
        ]), messageParts: ["lists no sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling"]),
        Wrong(name: "modules.json naming a missing module folder", make: folder([
            "modules.json": #"[{"idx": 0, "path": "0_Transformer", "type": "sentence_transformers.models.Transformer"}]"#,
        ]), messageParts: ["no model.safetensors in the Transformer module folder 0_Transformer"]),
        Wrong(name: "modules.json that is no JSON", make: folder(["modules.json": "[{"]), messageParts: ["modules.json is not valid JSON"]),
        Wrong(name: "a config.json given as the model", make: file("config.json", Array(#"{"hidden_size": 4}"#.utf8)),
              messageParts: [#"a text file starting "{"hidden_size": 4}""#, expected]),
        Wrong(name: "a PyTorch zip", make: file("pytorch_model.bin", Array("PK\u{3}\u{4}rest".utf8)),
              messageParts: ["a zip archive", "convert it to model.safetensors"]),
        Wrong(name: "a pickle", make: file("weights.pt", [0x80, 0x02, 0x7d]), messageParts: ["a Python pickle"]),
        Wrong(name: "an empty file", make: file("weights.bin", []), messageParts: ["an empty file", expected]),
        Wrong(name: "latest naming a missing checkpoint", make: file("run/latest", Array("step-9.safetensors.gz\n".utf8)),
              messageParts: ["step-9.safetensors.gz", "does not exist"]),
        Wrong(name: "run folder whose latest names a missing checkpoint", make: { root in
            try file("run/latest", Array("step-9.safetensors.gz\n".utf8))(root).deletingLastPathComponent()
        }, messageParts: ["step-9.safetensors.gz", "does not exist"]),
    ]

    @Test(arguments: wrong)
    func wrongKindsAreClearErrors(_ w: Wrong) throws {
        let root = try temporaryFolder("wrong")
        defer { try? FileManager.default.removeItem(at: root) }
        let path = try w.make(root)
        let error = try #require(throws: CheckpointError.self) { try CheckpointReference.resolve(path) }
        let message = error.description
        #expect(message.contains(path.path) || message.contains(path.deletingLastPathComponent().path), "\(message)")
        for part in w.messageParts { #expect(message.contains(part), "\(message)") }
    }
}
