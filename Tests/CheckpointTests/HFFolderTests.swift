import Foundation
import Model
import Testing
@testable import Checkpoint

@Suite struct HFFolderTests {
    /// import (BertModel folder → our .gz, MLM head created) then export (→ HF folder) keeps every weight.
    @Test func importThenExportKeepsWeights() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let checkpointURL = folder.appendingPathComponent("imported.safetensors.gz")
        let importReport = try HFModelFolder.importModel(from: Fixtures.folder("tiny-st"), to: checkpointURL, seed: 5)
        #expect(importReport.createdMaskedLMHead)

        let imported = try LoadedCheckpoint.open(checkpointURL)
        #expect(imported.metadata.checkpointFormat == CheckpointMetadata.currentFormat)
        #expect(imported.metadata.doLowerCase == true)
        #expect(imported.vocabularyTokenList?.count == 100)
        #expect(imported.config?.architectures == ["BertForMaskedLM"])
        #expect(imported.tensors.entries.allSatisfy { !$0.name.contains("pooler") })

        let exported = folder.appendingPathComponent("hf")
        let exportReport = try HFModelFolder.export(checkpoint: imported, to: exported)
        #expect(exportReport.initialized.isEmpty)
        for name in ["config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"] {
            #expect(FileManager.default.fileExists(atPath: exported.appendingPathComponent(name).path), "\(name)")
        }
        let plain = try Data(contentsOf: exported.appendingPathComponent("model.safetensors"))
        #expect(!Gzip.isGzip([UInt8](plain)))
        let tokenizerConfig = try JSONSerialization.jsonObject(
            with: Data(contentsOf: exported.appendingPathComponent("tokenizer_config.json"))) as? [String: Any]
        #expect(tokenizerConfig?["do_lower_case"] as? Bool == true)
        #expect(tokenizerConfig?["tokenizer_class"] as? String == "BertTokenizer")

        let original = try LoadedCheckpoint.open(Fixtures.folder("tiny-st")).tensors
        let roundTripped = try LoadedCheckpoint.open(exported)
        #expect(roundTripped.config?.architectures == ["BertForMaskedLM"])
        for entry in original.entries where !entry.name.hasPrefix("pooler") {
            #expect(try roundTripped.tensors.floats("bert." + entry.name) == original.floats(entry.name), "\(entry.name)")
        }
        let importedHead = try imported.tensors.floats("cls.predictions.transform.dense.weight")
        #expect(try roundTripped.tensors.floats("cls.predictions.transform.dense.weight") == importedHead)
    }

    @Test func architectureFollowsHeads() {
        #expect(HFModelFolder.architecture(for: .maskedLM) == "BertForMaskedLM")
        #expect(HFModelFolder.architecture(for: ModelHeads(maskedLM: false, pooler: true, classifierLabels: 2))
            == "BertForSequenceClassification")
        #expect(HFModelFolder.architecture(for: ModelHeads(maskedLM: false, pooler: false, classifierLabels: 9))
            == "BertForTokenClassification")
    }
}
