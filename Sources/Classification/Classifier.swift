import Foundation
import Model

/// What a classifier predicts for a list of examples.
public struct Predictions: Sendable {
    /// `.sequence`: the argmax class of each example.
    public var labels: [Int32] = []
    /// `.sequence`: class probabilities of each example.
    public var probabilities: [[Float]] = []
    /// `.token`: per example, the tag id of each word (its first piece's argmax); -1 for words cut off by the
    /// maximum sequence length or without any piece.
    public var wordTags: [[Int32]] = []
    /// `.token`: per example, the probability of each word's predicted tag.
    public var wordConfidences: [[Float]] = []
    /// Mean loss over the labelled examples (tokens for `.token`), 0 when nothing is labelled.
    public var loss: Double = 0

    init(kind: ClassifierKind, examples: [EncodedExample]) {
        switch kind {
        case .sequence:
            labels = [Int32](repeating: 0, count: examples.count)
            probabilities = [[Float]](repeating: [], count: examples.count)
        case .token:
            wordTags = examples.map { [Int32](repeating: -1, count: $0.wordCount) }
            wordConfidences = examples.map { [Float](repeating: 0, count: $0.wordCount) }
        }
    }
}

/// A BERT encoder with a sequence- or token-classification head: batching with dynamic padding,
/// forward and backward passes, prediction, and the frozen-features path.
public final class Classifier {
    public let kind: ClassifierKind
    public let model: BertModel
    public let labels: LabelSet
    public let batchSize: Int
    public let maxSeqLength: Int
    let head: ClassifierHead
    let workspace: BertWorkspace
    let hiddenSize: Int

    // One batch, row-major [rows, length], reused from batch to batch.
    var inputIds: [Int32], typeIds: [Int32], attentionMask: [UInt8]
    /// One label per head row: per example for `.sequence`, per token for `.token`.
    var rowLabels: [Int32]
    /// Head input: the `[CLS]` states (`.sequence`) or cached features, `[rows, H]`.
    let headInput: UnsafeMutableBufferPointer<Float>
    var rows = 0, length = 0

    public init(kind: ClassifierKind, model: BertModel, labels: LabelSet, batchSize: Int, maxSeqLength: Int) throws {
        guard model.layout.heads.classifierLabels == labels.count else {
            throw ClassificationError.invalidArgument(
                "the model's classifier has \(model.layout.heads.classifierLabels ?? 0) outputs, the task \(labels.count) labels")
        }
        self.kind = kind
        self.model = model
        self.labels = labels
        self.batchSize = batchSize
        self.maxSeqLength = maxSeqLength
        hiddenSize = model.config.hiddenSize
        // The workspace first: it checks that batch × sequence fits in memory before anything sized by it.
        workspace = try BertWorkspace(layout: model.layout, batchSize: batchSize, seqLength: maxSeqLength, maxMaskedTokens: 0)
        let maxRows = kind == .sequence ? batchSize : batchSize * maxSeqLength
        head = try ClassifierHead(kind: kind, layout: model.layout, maxRows: maxRows)
        let tokens = batchSize * maxSeqLength
        inputIds = [Int32](repeating: 0, count: tokens)
        typeIds = [Int32](repeating: 0, count: tokens)
        attentionMask = [UInt8](repeating: 0, count: tokens)
        rowLabels = [Int32](repeating: HeadKernels.ignoredLabel, count: maxRows)
        headInput = .allocate(capacity: maxRows * hiddenSize)
        headInput.initialize(repeating: 0)
    }

    deinit { headInput.deallocate() }

    // MARK: - Batches

    /// Copies `examples[indices]` into the batch buffers, padded to the longest of them.
    func fill(_ examples: [EncodedExample], _ indices: ArraySlice<Int>) {
        rows = indices.count
        length = indices.map { examples[$0].ids.count }.max() ?? 1
        let padId = Int32(model.config.padTokenId)
        for (row, index) in indices.enumerated() {
            let example = examples[index], base = row * length, n = example.ids.count
            for column in 0..<length {
                let real = column < n
                inputIds[base + column] = real ? example.ids[column] : padId
                typeIds[base + column] = real ? example.typeIds[column] : 0
                attentionMask[base + column] = real ? 1 : 0
                if kind == .token {
                    rowLabels[base + column] = real ? example.tokenLabels[column] : HeadKernels.ignoredLabel
                }
            }
            if kind == .sequence { rowLabels[row] = example.label }
        }
    }

    /// Runs the encoder on the filled batch and points the head input at its output.
    func encode(training: Bool, dropoutSeed: UInt64) throws -> UnsafePointer<Float> {
        let hidden = try inputIds.withUnsafeBufferPointer { ids in
            try typeIds.withUnsafeBufferPointer { types in
                try attentionMask.withUnsafeBufferPointer { mask in
                    try model.encoderForward(
                        EncoderInputs(batchSize: rows, seqLength: length, inputIds: ids, tokenTypeIds: types, attentionMask: mask),
                        workspace: workspace, training: training, dropoutSeed: dropoutSeed)
                }
            }
        }
        guard kind == .sequence else { return hidden.baseAddress! }
        // The pooler reads each row's first ([CLS]) state.
        for row in 0..<rows {
            (headInput.baseAddress! + row * hiddenSize).update(from: hidden.baseAddress! + row * length * hiddenSize, count: hiddenSize)
        }
        return UnsafePointer(headInput.baseAddress!)
    }

    var headRows: Int { kind == .sequence ? rows : rows * length }

    func headForward(input: UnsafePointer<Float>, rows headRows: Int, classWeights: [Float]?, training: Bool, seed: UInt64)
        -> HeadKernels.LossResult
    {
        rowLabels.withUnsafeBufferPointer { labels in
            let forward = { (weights: UnsafePointer<Float>?) in
                self.head.forward(
                    input: input, rows: headRows, labels: labels.baseAddress!, classWeights: weights,
                    parameters: self.model.parameters, training: training, dropoutSeed: seed)
            }
            guard let classWeights else { return forward(nil) }
            return classWeights.withUnsafeBufferPointer { forward($0.baseAddress!) }
        }
    }

    /// Backward from the head through the encoder (when `throughEncoder`), accumulating into the gradient arena.
    func backward(throughEncoder: Bool) {
        head.backward(parameters: model.parameters, gradients: model.gradients, needsInputGradient: throughEncoder)
        guard throughEncoder else { return }
        let gradient = workspace.hiddenGradient.baseAddress!, h = hiddenSize
        switch kind {
        case .sequence:
            gradient.update(repeating: 0, count: rows * length * h)
            for row in 0..<rows { (gradient + row * length * h).update(from: head.inputGradient.baseAddress! + row * h, count: h) }
        case .token:
            gradient.update(from: head.inputGradient.baseAddress!, count: rows * length * h)
        }
        model.encoderBackward(hiddenGradient: UnsafeBufferPointer(workspace.hiddenGradient), workspace: workspace)
    }

    // MARK: - Prediction

    /// Indices in batches of similar length (sorted by length), so padding stays small; order does not matter for inference.
    func inferenceBatches(_ examples: [EncodedExample]) -> [ArraySlice<Int>] {
        let order = examples.indices.sorted { examples[$0].ids.count < examples[$1].ids.count }
        return stride(from: 0, to: order.count, by: batchSize).map { order[$0..<min($0 + batchSize, order.count)] }
    }

    public func predict(_ examples: [EncodedExample]) throws -> Predictions {
        var predictions = Predictions(kind: kind, examples: examples)
        var lossSum = 0.0, counted = 0
        for batch in inferenceBatches(examples) {
            fill(examples, batch)
            let input = try encode(training: false, dropoutSeed: 0)
            let result = headForward(input: input, rows: headRows, classWeights: nil, training: false, seed: 0)
            lossSum += result.loss * Double(result.counted)
            counted += result.counted
            for (row, index) in batch.enumerated() {
                collect(index, examples[index], firstRow: kind == .sequence ? row : row * length, into: &predictions)
            }
        }
        predictions.loss = counted == 0 ? 0 : lossSum / Double(counted)
        return predictions
    }

    /// Reads example `index`'s outputs from the head's probabilities; `firstRow` is the head row of the
    /// example (`.sequence`) or of its first token (`.token`).
    func collect(_ index: Int, _ example: EncodedExample, firstRow: Int, into predictions: inout Predictions) {
        let k = labels.count
        let probabilities = head.probabilities
        switch kind {
        case .sequence:
            let p = Array(probabilities[(firstRow * k)..<(firstRow * k + k)])
            predictions.probabilities[index] = p
            predictions.labels[index] = Int32(Self.argmax(p))
        case .token:
            var previousWord: Int32 = -1
            for (column, word) in example.wordIds.enumerated() where word >= 0 && word != previousWord {
                previousWord = word
                let start = (firstRow + column) * k
                let best = Self.argmax(probabilities[start..<(start + k)])
                predictions.wordTags[index][Int(word)] = Int32(best)
                predictions.wordConfidences[index][Int(word)] = probabilities[start + best]
            }
        }
    }

    static func argmax(_ values: some Collection<Float>) -> Int {
        var best = 0, bestValue = -Float.infinity
        for (i, v) in values.enumerated() where v > bestValue { best = i; bestValue = v }
        return best
    }

    /// Tag names per word; words without a prediction (cut off, or without any piece) count as `O`.
    public func tagNames(_ predictions: Predictions) -> [[String]] {
        predictions.wordTags.map { tags in tags.map { $0 >= 0 ? labels.names[Int($0)] : "O" } }
    }
}
