import TensorKernels

/// The loss of the classification heads: softmax cross-entropy with class weights and ignored rows, on
/// TensorKernels' `CrossEntropy`. (The layers themselves are TensorKernels' `Linear`, `Tanh` and
/// `DropoutMask`; see `ClassifierHead`.) Buffers are raw pointers into preallocated arenas; nothing
/// here allocates.
public enum HeadKernels {
    /// The label that marks a row without a target (HF's `ignore_index`).
    public static let ignoredLabel: Int32 = -100

    public struct LossResult: Equatable, Sendable {
        /// Weighted mean negative log-likelihood over the rows with a label (0 when there are none).
        public var loss: Double
        /// Rows with a label, and how many of them the argmax gets right.
        public var counted: Int
        public var correct: Int
    }

    /// Per-row results of `softmaxCrossEntropy` (log-sum-exp, loss, correctness) for up to `capacity` rows.
    public final class LossScratch {
        public let capacity: Int
        let logSumExp: UnsafeMutableBufferPointer<Float>
        let rowLoss: UnsafeMutableBufferPointer<Float>
        let rowCorrect: UnsafeMutableBufferPointer<UInt8>

        public init(capacity: Int) {
            self.capacity = capacity
            logSumExp = .allocate(capacity: max(1, capacity)); logSumExp.initialize(repeating: 0)
            rowLoss = .allocate(capacity: max(1, capacity)); rowLoss.initialize(repeating: 0)
            rowCorrect = .allocate(capacity: max(1, capacity)); rowCorrect.initialize(repeating: 0)
        }

        deinit {
            logSumExp.deallocate()
            rowLoss.deallocate()
            rowCorrect.deallocate()
        }
    }

    /// Softmax cross-entropy over `rows` rows of `classes` logits, as PyTorch's `CrossEntropyLoss(weight:,
    /// ignore_index: -100)`: loss = Σ w[yᵢ]·(−log pᵢ[yᵢ]) / Σ w[yᵢ]. A label is `ignoredLabel` or in
    /// `0..<classes`. Writes the probabilities, and when `logitsGradient` is given, d loss / d logits (zero
    /// on ignored rows).
    public static func softmaxCrossEntropy(
        logits: UnsafePointer<Float>, rows: Int, classes: Int, labels: UnsafePointer<Int32>,
        classWeights: UnsafePointer<Float>?, scratch: LossScratch, probabilities: UnsafeMutablePointer<Float>,
        logitsGradient: UnsafeMutablePointer<Float>?
    ) -> LossResult {
        precondition(rows <= scratch.capacity, "more rows than the loss scratch holds")
        let logSumExp = scratch.logSumExp.baseAddress!, rowLoss = scratch.rowLoss.baseAddress!
        let (lossSum, correct, counted) = CrossEntropy.forward(
            logits: logits, labels: labels, rows: rows, classes: classes, logSumExp: logSumExp,
            rowLoss: rowLoss, rowCorrect: scratch.rowCorrect.baseAddress!)
        var weightedLoss = lossSum, weightSum = Double(counted)
        if let classWeights {
            weightedLoss = 0
            weightSum = 0
            for r in 0..<rows where labels[r] >= 0 {
                let weight = Double(classWeights[Int(labels[r])])
                weightedLoss += weight * Double(rowLoss[r])
                weightSum += weight
            }
        }
        CrossEntropy.probabilities(
            logits: logits, logSumExp: logSumExp, rows: rows, classes: classes, into: probabilities)
        if let logitsGradient {
            CrossEntropy.backward(
                logits: logits, labels: labels, logSumExp: logSumExp, rows: rows, classes: classes,
                scale: weightSum > 0 ? Float(1 / weightSum) : 0, classWeights: classWeights, gradient: logitsGradient)
        }
        return LossResult(loss: weightSum > 0 ? weightedLoss / weightSum : 0, counted: counted, correct: correct)
    }

    /// "balanced" class weights, as sklearn's `compute_class_weight`: n / (k · countᵢ); a class absent
    /// from the training labels gets weight 0.
    public static func balancedClassWeights(labels: [Int32], classes: Int) -> [Float] {
        var counts = [Int](repeating: 0, count: classes)
        for label in labels where label >= 0 && Int(label) < classes { counts[Int(label)] += 1 }
        let total = Float(counts.reduce(0, +))
        return counts.map { $0 == 0 ? 0 : total / (Float(classes) * Float($0)) }
    }
}
