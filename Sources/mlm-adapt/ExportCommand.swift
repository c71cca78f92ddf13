import ArgumentParser
import Checkpoint
import Foundation
import Model

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a checkpoint as an HF model folder that transformers' from_pretrained loads.",
        discussion: """
            Writes config.json (with architectures), plain model.safetensors (HF names, no optimizer state), \
            vocab.txt, tokenizer.json, tokenizer_config.json and special_tokens_map.json. With --logits, also writes this \
            program's masked-position logits on a fixed sample batch, for \
            Scripts/checks/check_export.py --logits to compare with transformers.
            """)

    @Option(help: "Model: a run folder or its `latest`, a .safetensors(.gz) file, an HF or sentence-transformers folder.")
    var checkpoint: String
    @Option(help: "Folder to write.")
    var to: String
    @Option(help: "Also write masked-LM logits on a sample batch to this .safetensors file.")
    var logits: String?

    func run() throws {
        // The heads the file holds, none created: the folder holds exactly the checkpoint's weights.
        let prepared = try ModelLoading.prepare(CheckpointReference.resolve(checkpoint), heads: .stored)
        try HFModelFolder.export(prepared, to: URL(fileURLWithPath: to))
        print(prepared.report)
        print("wrote \(to)")
        if let logits {
            try writeSampleLogits(prepared, to: URL(fileURLWithPath: logits))
            print("wrote \(logits)")
        }
    }

    /// Two sequences of 16 tokens (the second padded), a few positions replaced by [MASK];
    /// ids are stored as F32 (exact below 2^24) so the file needs only our F32 writer.
    private func writeSampleLogits(_ prepared: PreparedModel, to url: URL) throws {
        let model = prepared.model
        guard model.layout.heads.maskedLM else {
            throw ValidationError("--logits needs a masked-LM checkpoint; \(checkpoint) holds no MLM head")
        }
        let vocabulary = prepared.vocabulary
        let tokenCount = vocabulary.count
        let (cls, sep, pad, mask) = (vocabulary.clsId, vocabulary.sepId, vocabulary.padId, vocabulary.maskId)
        let batch = 2, length = min(16, model.config.maxPositionEmbeddings)
        var ids = [Int32](repeating: pad, count: batch * length)
        var attention = [UInt8](repeating: 0, count: batch * length)
        var state: UInt64 = 2024
        for row in 0..<batch {
            let used = row == 0 ? length : length - 5
            for column in 0..<used {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                let word = Int32(truncatingIfNeeded: (state >> 33) % UInt64(tokenCount))
                ids[row * length + column] = column == 0 ? cls : column == used - 1 ? sep : word
                attention[row * length + column] = 1
            }
        }
        let positions: [Int32] = [3, 7, Int32(length) + 2, Int32(length) + 6]
        for position in positions { ids[Int(position)] = mask }
        let labels = [Int32](repeating: -100, count: positions.count)
        let types = [Int32](repeating: 0, count: ids.count)
        let workspace = try BertWorkspace(layout: model.layout, batchSize: batch, seqLength: length, maxMaskedTokens: positions.count)
        try ids.withUnsafeBufferPointer { idBuffer in
            try types.withUnsafeBufferPointer { typeBuffer in
                try attention.withUnsafeBufferPointer { maskBuffer in
                    let inputs = EncoderInputs(batchSize: batch, seqLength: length, inputIds: idBuffer,
                                               tokenTypeIds: typeBuffer, attentionMask: maskBuffer)
                    try positions.withUnsafeBufferPointer { positionBuffer in
                        try labels.withUnsafeBufferPointer { labelBuffer in
                            _ = try model.maskedLMForward(inputs, maskedPositions: positionBuffer, labels: labelBuffer,
                                                          workspace: workspace, training: false, dropoutSeed: 0)
                        }
                    }
                }
            }
        }
        let stored: [(String, [Int], [Float])] = [
            ("input_ids", [batch, length], ids.map(Float.init)),
            ("attention_mask", [batch, length], attention.map(Float.init)),
            ("masked_positions", [positions.count], positions.map(Float.init)),
            ("masked_logits", [positions.count, model.config.vocabSize], Array(workspace.logits)),
        ]
        try TensorView.withViews(of: stored) { try CheckpointFile.write($0, metadata: ["format": "pt"], to: url) }
    }
}
