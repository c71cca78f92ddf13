import Model
import TensorKernels
import Tokenizer

/// How token states become one sentence vector.
public enum Pooling: String, CaseIterable, Codable, Sendable {
    /// The attention-masked mean of the last hidden states (sentence-transformers' `pooling_mode_mean_tokens`).
    case mean
    /// The `[CLS]` state.
    case cls
}

/// Errors of sentence encoding, naming the input at fault.
public struct SentenceEmbeddingError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// One tokenized text: `[CLS] pieces [SEP]`, cut to the encoder's maximum length.
public struct SentenceTokens: Sendable, Equatable {
    public var ids: [Int32]
    public var truncated: Bool
}

/// A BERT encoder read as a sentence-transformers model: tokens → last hidden states → pooling
/// (→ L2 normalisation when `normalize`). Inference runs in batches sorted by length; training passes
/// (`forward(rows:training:)` / `backward(pooledGradient:)`) take the caller's rows and return the
/// pooled vectors before normalisation, so a loss on them can be backpropagated into the encoder.
public final class SentenceEncoder {
    /// sentence-transformers' `max_seq_length` of all-MiniLM-L6-v2 (its `sentence_bert_config.json`), which
    /// setfit also uses: the default cut for every sentence command.
    public static let defaultMaxSeqLength = 256
    /// Texts per inference batch.
    public static let defaultBatchSize = 32

    public let model: BertModel
    public let tokenizer: WordPieceTokenizer
    public let pooling: Pooling
    public let maxRows: Int
    public let maxSeqLength: Int
    public var hiddenSize: Int { model.config.hiddenSize }
    let workspace: BertWorkspace

    // One batch, row-major [rows, length], reused from batch to batch.
    var inputIds: [Int32], typeIds: [Int32], attentionMask: [UInt8]
    var rows = 0, length = 0
    /// Pooled vectors `[rows, H]` of the last forward pass, and their gradient.
    public let pooled: UnsafeMutableBufferPointer<Float>
    let tokenCounts: UnsafeMutableBufferPointer<Float>

    /// - Parameters:
    ///   - maxRows: the most rows one forward pass takes (a training step's pairs count twice).
    ///   - maxSeqLength: tokens per text, `[CLS]` and `[SEP]` included; clamped to the model's positions.
    public init(model: BertModel, tokenizer: WordPieceTokenizer, pooling: Pooling = .mean, maxRows: Int,
                maxSeqLength: Int = SentenceEncoder.defaultMaxSeqLength) throws {
        guard maxRows > 0 else { throw SentenceEmbeddingError("the batch size must be positive, not \(maxRows)") }
        guard maxSeqLength >= 2 else {
            throw SentenceEmbeddingError("--max-seq-length \(maxSeqLength) must be at least 2 ([CLS] and [SEP])")
        }
        self.model = model
        self.tokenizer = tokenizer
        self.pooling = pooling
        self.maxRows = maxRows
        self.maxSeqLength = min(maxSeqLength, model.config.maxPositionEmbeddings)
        workspace = try BertWorkspace(layout: model.layout, batchSize: maxRows, seqLength: self.maxSeqLength, maxMaskedTokens: 0)
        let tokens = maxRows * self.maxSeqLength
        inputIds = [Int32](repeating: 0, count: tokens)
        typeIds = [Int32](repeating: 0, count: tokens)
        attentionMask = [UInt8](repeating: 0, count: tokens)
        pooled = .allocate(capacity: maxRows * model.config.hiddenSize)
        pooled.initialize(repeating: 0)
        tokenCounts = .allocate(capacity: maxRows)
        tokenCounts.initialize(repeating: 0)
    }

    deinit {
        pooled.deallocate()
        tokenCounts.deallocate()
    }

    /// `[CLS] text [SEP]`, cut to `maxSeqLength` as sentence-transformers' tokenizer call (`truncation=True`).
    public func tokenize(_ text: String) -> SentenceTokens {
        let full = tokenizer.encode(text)
        guard full.ids.count > maxSeqLength else { return SentenceTokens(ids: full.ids, truncated: false) }
        return SentenceTokens(ids: tokenizer.encode(text, maxLength: maxSeqLength).ids, truncated: true)
    }

    // MARK: - Inference

    /// Sentence vectors `[texts.count, H]` row-major, in input order; L2-normalised when `normalize`.
    public func embed(_ texts: [SentenceTokens], normalize: Bool) throws -> [Float] {
        let h = hiddenSize
        var output = [Float](repeating: 0, count: texts.count * h)
        // Sorted by length, so padding stays small; the order of rows does not change any row's result.
        let order = texts.indices.sorted { texts[$0].ids.count < texts[$1].ids.count }
        for start in stride(from: 0, to: order.count, by: maxRows) {
            let batch = order[start..<min(start + maxRows, order.count)]
            try forward(batch.map { texts[$0] }, training: false, dropoutSeed: 0)
            output.withUnsafeMutableBufferPointer { out in
                for (row, index) in batch.enumerated() {
                    let target = out.baseAddress! + index * h
                    target.update(from: pooled.baseAddress! + row * h, count: h)
                    if normalize { Self.normalize(target, count: h) }
                }
            }
        }
        return output
    }

    /// Scales a vector to unit L2 norm, as `torch.nn.functional.normalize` (norm clamped at 1e-12).
    public static func normalize(_ vector: UnsafeMutablePointer<Float>, count: Int) {
        var sum = 0.0
        for i in 0..<count { sum += Double(vector[i]) * Double(vector[i]) }
        let scale = Float(1 / max(sum.squareRoot(), 1e-12))
        for i in 0..<count { vector[i] *= scale }
    }

    // MARK: - Training passes

    /// Runs the encoder on `texts` (at most `maxRows`) and pools into `pooled` (not normalised).
    public func forward(_ texts: [SentenceTokens], training: Bool, dropoutSeed: UInt64) throws {
        guard texts.count <= maxRows else {
            throw SentenceEmbeddingError("\(texts.count) texts exceed the encoder's batch of \(maxRows)")
        }
        fill(texts)
        let hidden = try inputIds.withUnsafeBufferPointer { ids in
            try typeIds.withUnsafeBufferPointer { types in
                try attentionMask.withUnsafeBufferPointer { mask in
                    try model.encoderForward(
                        EncoderInputs(batchSize: rows, seqLength: length, inputIds: ids, tokenTypeIds: types, attentionMask: mask),
                        workspace: workspace, training: training, dropoutSeed: dropoutSeed)
                }
            }
        }
        pool(hidden.baseAddress!)
    }

    /// Backpropagates `pooledGradient` (`[rows, H]`, d loss / d `pooled` of the last forward pass) through
    /// the pooling and the encoder, accumulating into the model's gradient arena.
    public func backward(pooledGradient: UnsafePointer<Float>) {
        let h = hiddenSize
        let gradient = workspace.hiddenGradient.baseAddress!
        gradient.update(repeating: 0, count: rows * length * h)
        for row in 0..<rows {
            let source = pooledGradient + row * h
            switch pooling {
            case .cls:
                (gradient + row * length * h).update(from: source, count: h)
            case .mean:
                let scale = 1 / tokenCounts[row]
                for column in 0..<length where attentionMask[row * length + column] != 0 {
                    let target = gradient + (row * length + column) * h
                    for i in 0..<h { target[i] = source[i] * scale }
                }
            }
        }
        model.encoderBackward(hiddenGradient: UnsafeBufferPointer(workspace.hiddenGradient), workspace: workspace)
    }

    /// Copies the texts into the batch buffers, padded to the longest of them.
    func fill(_ texts: [SentenceTokens]) {
        rows = texts.count
        length = max(1, texts.map(\.ids.count).max() ?? 1)
        let padId = Int32(model.config.padTokenId)
        for (row, text) in texts.enumerated() {
            let base = row * length, n = text.ids.count
            for column in 0..<length {
                let real = column < n
                inputIds[base + column] = real ? text.ids[column] : padId
                typeIds[base + column] = 0
                attentionMask[base + column] = real ? 1 : 0
            }
        }
    }

    /// Pooling as sentence-transformers: the masked mean divides by the token count clamped at 1e-9.
    func pool(_ hidden: UnsafePointer<Float>) {
        let h = hiddenSize
        for row in 0..<rows {
            let target = pooled.baseAddress! + row * h
            switch pooling {
            case .cls:
                target.update(from: hidden + row * length * h, count: h)
                tokenCounts[row] = 1
            case .mean:
                target.update(repeating: 0, count: h)
                var count = 0
                for column in 0..<length where attentionMask[row * length + column] != 0 {
                    let state = hidden + (row * length + column) * h
                    for i in 0..<h { target[i] += state[i] }
                    count += 1
                }
                let divisor = max(Float(count), 1e-9)
                tokenCounts[row] = divisor
                for i in 0..<h { target[i] /= divisor }
            }
        }
    }
}
