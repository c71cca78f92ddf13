import Checkpoint
import Foundation
import Model
import Testing

@testable import SentenceEmbedding
import FewShot

/// `SentenceEncoder` against `SentenceTransformer(folder).encode(texts, normalize_embeddings=True)` on
/// committed goldens (Scripts/fixtures/fewshot/generate.py): empty, one-letter, accented, emoji, upper-case and
/// over-long texts, batched together so padding and length sorting take part.
@Suite struct EmbeddingParityTests {
    func check(model folder: URL, golden name: String) throws {
        let golden = try Fixtures.json(name)
        let texts = try #require(golden["texts"] as? [String])
        let expected = try #require(golden["embeddings"] as? [[Double]])
        let maxLength = try #require(golden["max_seq_length"] as? Int)
        let prepared = try ModelLoading.prepare(
            CheckpointReference.resolve(folder), heads: .exactly(ModelHeads(maskedLM: false, pooler: false)))
        // A batch smaller than the texts, so several length-sorted batches run.
        let encoder = try SentenceEncoder(
            model: prepared.model, tokenizer: prepared.tokenizer, pooling: .mean, maxRows: 4, maxSeqLength: maxLength)
        let tokens = texts.map(encoder.tokenize)
        #expect(tokens.last!.truncated && tokens.last!.ids.count == maxLength)
        let vectors = try encoder.embed(tokens, normalize: true)
        let h = encoder.hiddenSize
        for (row, reference) in expected.enumerated() {
            #expect(reference.count == h)
            var dot = 0.0, norm = 0.0
            for i in 0..<h {
                dot += Double(vectors[row * h + i]) * reference[i]
                norm += Double(vectors[row * h + i]) * Double(vectors[row * h + i])
            }
            #expect(dot >= 0.99999, "text \(row) '\(texts[row].prefix(30))': cosine \(dot)")
            #expect(abs(norm - 1) < 1e-5)
        }
    }

    @Test func tinyModelMatchesSentenceTransformers() throws {
        try check(model: Fixtures.tinyModel, golden: "embeddings_tiny.json")
    }

    @Test(.enabled(if: Fixtures.miniLM != nil, "skipped: cache/models/all-MiniLM-L6-v2 is absent (run Corpora/fetch.sh)"))
    func miniLMMatchesSentenceTransformers() throws {
        try check(model: try #require(Fixtures.miniLM), golden: "embeddings_minilm.json")
    }

    @Test func unnormalisedMeanIsTheMaskedMeanAndClsIsTheFirstState() throws {
        let prepared = try ModelLoading.prepare(
            CheckpointReference.resolve(Fixtures.tinyModel), heads: .exactly(ModelHeads(maskedLM: false, pooler: false)))
        let encoder = try SentenceEncoder(model: prepared.model, tokenizer: prepared.tokenizer, pooling: .mean, maxRows: 2)
        let cls = try SentenceEncoder(model: prepared.model, tokenizer: prepared.tokenizer, pooling: .cls, maxRows: 2)
        let texts = ["alpha bravo", "the apple is red and green"].map(encoder.tokenize)
        // Alone (no padding) and batched with a longer text (padding) give the same vectors.
        let batched = try encoder.embed(texts, normalize: false)
        let alone = try encoder.embed([texts[0]], normalize: false)
        let h = encoder.hiddenSize
        for i in 0..<h { #expect(abs(batched[i] - alone[i]) < 1e-5) }
        // The mean of the hidden states by hand.
        try encoder.forward([texts[0]], training: false, dropoutSeed: 0)
        let hidden = encoder.workspace.lastHiddenState
        let n = texts[0].ids.count
        for i in 0..<h {
            let mean = (0..<n).reduce(Float(0)) { $0 + hidden[$1 * h + i] } / Float(n)
            #expect(abs(mean - alone[i]) < 1e-5)
        }
        let first = try cls.embed([texts[0]], normalize: false)
        for i in 0..<h { #expect(abs(first[i] - hidden[i]) < 1e-6) }
    }

    @Test func npyAndJSONLinesOutput() throws {
        let values: [Float] = [1, -2.5, 0.125, 3, 4, 5]
        let npy = [UInt8](EmbeddingOutput.encode(values, count: 2, dimension: 3, format: .npy))
        #expect(Array(npy[0..<8]) == [0x93] + Array("NUMPY".utf8) + [1, 0])
        let headerLength = Int(npy[8]) | Int(npy[9]) << 8
        #expect((10 + headerLength) % 64 == 0)
        let header = String(decoding: npy[10..<(10 + headerLength)], as: UTF8.self)
        #expect(header.contains("'descr': '<f4'") && header.contains("'shape': (2, 3)") && header.hasSuffix("\n"))
        let body = Array(npy[(10 + headerLength)...])
        #expect(body.count == 24)
        let decoded = (0..<6).map { i in Float(bitPattern: UInt32(body[4 * i]) | UInt32(body[4 * i + 1]) << 8 | UInt32(body[4 * i + 2]) << 16 | UInt32(body[4 * i + 3]) << 24) }
        #expect(decoded == values)
        let lines = String(decoding: EmbeddingOutput.encode(values, count: 2, dimension: 3, format: .jsonl), as: UTF8.self)
            .split(separator: "\n").map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(lines.count == 2)
        #expect(lines[1]?["index"] as? Int == 1)
        #expect((lines[1]?["embedding"] as? [Double]) == [3, 4, 5])
    }
}

/// The contrastive training signal end to end: `CosineSimilarityLoss` on mean-pooled embeddings, back through
/// `SentenceEncoder.backward` (the pooling) and the encoder, against central finite differences of the loss.
@Suite struct PooledGradientTests {
    @Test(arguments: [Pooling.mean, .cls])
    func encoderGradientMatchesFiniteDifferences(pooling: Pooling) throws {
        let prepared = try ModelLoading.prepare(
            CheckpointReference.resolve(Fixtures.tinyModel), heads: .exactly(ModelHeads(maskedLM: false, pooler: false)))
        let model = prepared.model
        let encoder = try SentenceEncoder(model: model, tokenizer: prepared.tokenizer, pooling: pooling, maxRows: 4)
        // Two pairs of texts of different lengths (padding in the batch), one positive, one negative.
        let texts = ["alpha apple red", "the cherry is blue and green", "alpha red", "banana"].map(encoder.tokenize)
        let targets: [Float] = [1, 0]
        let h = encoder.hiddenSize
        var gradient = [Float](repeating: 0, count: 4 * h)
        func loss() throws -> Double {
            try encoder.forward(texts, training: false, dropoutSeed: 0)
            return gradient.withUnsafeMutableBufferPointer {
                CosineSimilarityLoss.lossAndGradient(embeddings: encoder.pooled.baseAddress!, targets: targets, dimension: h, gradient: $0.baseAddress!)
            }
        }
        _ = try loss()
        model.zeroGradients()
        gradient.withUnsafeBufferPointer { encoder.backward(pooledGradient: $0.baseAddress!) }
        for name in ["bert.embeddings.word_embeddings.weight", "bert.encoder.layer.0.attention.self.query.weight",
                     "bert.encoder.layer.1.output.dense.bias"] {
            let values = try #require(model.tensor(name)), grads = try #require(model.gradient(name))
            // The largest-gradient entries, where finite differences are well above rounding.
            let picked = (0..<values.count).sorted { abs(grads[$0]) > abs(grads[$1]) }.prefix(3)
            for i in picked {
                let saved = values[i], step: Float = 1e-2
                values[i] = saved + step; model.parametersDidChange()
                let plus = try loss()
                values[i] = saved - step; model.parametersDidChange()
                let minus = try loss()
                values[i] = saved; model.parametersDidChange()
                let numeric = (plus - minus) / Double(2 * step)
                #expect(abs(numeric - Double(grads[i])) < 1e-3 + 2e-2 * abs(numeric), "\(name)[\(i)]: \(numeric) vs \(grads[i])")
            }
        }
    }
}
