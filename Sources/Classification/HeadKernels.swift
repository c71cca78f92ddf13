import Foundation
import TensorKernels

/// The math of the classification heads on top of the encoder: dropout, a linear layer (HF
/// `nn.Linear`, weight `[out, in]`) and softmax cross-entropy with class weights and ignored rows.
/// Buffers are raw pointers into preallocated arenas; nothing here allocates.
public enum HeadKernels {
    /// The label that marks a row without a target (HF's `ignore_index`).
    public static let ignoredLabel: Int32 = -100

    /// `out[rows, outFeatures] = x[rows, inFeatures] · weightᵀ + bias`.
    public static func linearForward(
        x: UnsafePointer<Float>, rows: Int, inFeatures: Int, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
        outFeatures: Int, out: UnsafeMutablePointer<Float>
    ) {
        for r in 0..<rows { (out + r * outFeatures).update(from: bias, count: outFeatures) }
        Gemm.multiplySerial(
            transposeA: false, transposeB: true, m: rows, n: outFeatures, k: inFeatures,
            a: x, lda: inFeatures, b: weight, ldb: inFeatures, beta: 1, c: out, ldc: outFeatures)
    }

    /// Backward of `linearForward`: adds into `weightGradient` and `biasGradient`, and overwrites
    /// `inputGradient` (when given) with `outGradient · weight`.
    public static func linearBackward(
        x: UnsafePointer<Float>, rows: Int, inFeatures: Int, weight: UnsafePointer<Float>, outFeatures: Int,
        outGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?,
        weightGradient: UnsafeMutablePointer<Float>?, biasGradient: UnsafeMutablePointer<Float>?
    ) {
        if let weightGradient {
            Gemm.multiplySerial(
                transposeA: true, transposeB: false, m: outFeatures, n: inFeatures, k: rows,
                a: outGradient, lda: outFeatures, b: x, ldb: inFeatures, beta: 1, c: weightGradient, ldc: inFeatures)
        }
        if let biasGradient {
            for r in 0..<rows {
                let row = outGradient + r * outFeatures
                for o in 0..<outFeatures { biasGradient[o] += row[o] }
            }
        }
        if let inputGradient {
            Gemm.multiplySerial(
                transposeA: false, transposeB: false, m: rows, n: inFeatures, k: outFeatures,
                a: outGradient, lda: outFeatures, b: weight, ldb: inFeatures, beta: 0, c: inputGradient, ldc: inFeatures)
        }
    }

    /// Inverted dropout: keeps each value with probability `1 - probability`, scaled by `1 / (1 - probability)`.
    /// The mask is a pure function of (`seed`, element index), so a run is reproducible whatever the thread count.
    public static func dropoutForward(
        x: UnsafePointer<Float>, count: Int, probability: Float, seed: UInt64,
        keep: UnsafeMutablePointer<UInt8>, out: UnsafeMutablePointer<Float>
    ) {
        guard probability > 0 else {
            out.update(from: x, count: count)
            keep.update(repeating: 1, count: count)
            return
        }
        let threshold = UInt64(Double(probability) * 0x1p53)
        let scale = 1 / (1 - probability)
        for i in 0..<count {
            let kept = (mix64(seed &+ UInt64(i) &* 0x9E37_79B9_7F4A_7C15) >> 11) >= threshold
            keep[i] = kept ? 1 : 0
            out[i] = kept ? x[i] * scale : 0
        }
    }

    /// Backward of `dropoutForward`, in place on `gradient`.
    public static func dropoutBackward(
        gradient: UnsafeMutablePointer<Float>, count: Int, probability: Float, keep: UnsafePointer<UInt8>
    ) {
        guard probability > 0 else { return }
        let scale = 1 / (1 - probability)
        for i in 0..<count { gradient[i] = keep[i] != 0 ? gradient[i] * scale : 0 }
    }

    public struct LossResult: Equatable, Sendable {
        /// Weighted mean negative log-likelihood over the rows with a label (0 when there are none).
        public var loss: Double
        /// Rows with a label, and how many of them the argmax gets right.
        public var counted: Int
        public var correct: Int
    }

    /// Softmax cross-entropy over `rows` rows of `classes` logits, as PyTorch's `CrossEntropyLoss(weight:,
    /// ignore_index: -100)`: loss = Σ w[yᵢ]·(−log pᵢ[yᵢ]) / Σ w[yᵢ]. Writes the probabilities, and when
    /// `logitsGradient` is given, d loss / d logits (zero on ignored rows).
    public static func softmaxCrossEntropy(
        logits: UnsafePointer<Float>, rows: Int, classes: Int, labels: UnsafePointer<Int32>,
        classWeights: UnsafePointer<Float>?, probabilities: UnsafeMutablePointer<Float>,
        logitsGradient: UnsafeMutablePointer<Float>?
    ) -> LossResult {
        var weightedLoss = 0.0, weightSum = 0.0
        var counted = 0, correct = 0
        for r in 0..<rows {
            let row = logits + r * classes, p = probabilities + r * classes
            var maxValue = row[0], argmax = 0
            for c in 1..<max(classes, 1) where row[c] > maxValue { maxValue = row[c]; argmax = c }
            var sum: Float = 0
            for c in 0..<classes { p[c] = expf(row[c] - maxValue); sum += p[c] }
            let inverse = 1 / sum
            for c in 0..<classes { p[c] *= inverse }
            let label = Int(labels[r])
            guard label != Int(ignoredLabel), label >= 0, label < classes else { continue }
            let weight = Double(classWeights?[label] ?? 1)
            // log p[y] = (logit[y] - max) - log Σ exp(logit - max), exact even when p[y] underflows.
            weightedLoss += weight * (Double(log(sum)) - Double(row[label] - maxValue))
            weightSum += weight
            counted += 1
            if argmax == label { correct += 1 }
        }
        if let logitsGradient {
            let normaliser = weightSum > 0 ? Float(1 / weightSum) : 0
            for r in 0..<rows {
                let g = logitsGradient + r * classes, p = probabilities + r * classes
                let label = Int(labels[r])
                guard label != Int(ignoredLabel), label >= 0, label < classes else {
                    g.update(repeating: 0, count: classes)
                    continue
                }
                let scale = (classWeights?[label] ?? 1) * normaliser
                for c in 0..<classes { g[c] = p[c] * scale }
                g[label] -= scale
            }
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
