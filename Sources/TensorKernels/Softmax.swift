import CTensorKernels

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Row softmax over attention scores `[batch, heads, queries, keys]` with a key padding mask.
/// HF adds the dtype's most negative value at masked keys, which makes their probability exactly 0;
/// a row whose keys are all masked then comes out uniform over all keys, and so does ours.
public enum AttentionSoftmax {
    public static func forward(
        _ scores: UnsafeMutablePointer<Float>, keyMask: UnsafePointer<UInt8>,
        batch: Int, heads: Int, queries: Int, keys: Int, keyMaskStride: Int
    ) {
        let rows = batch * heads * queries
        Parallel.forEachRange(
            rows, grain: Parallel.rowGrain(columns: keys),
            MaskedSoftmaxRows(scores: scores, keyMask: keyMask, rowsPerSequence: heads * queries, keys: keys,
                              keyMaskStride: keyMaskStride))
    }

    /// One row in place; `mask[j] == 0` marks a padding key.
    @inline(__always)
    public static func maskedRow(_ row: UnsafeMutablePointer<Float>, mask: UnsafePointer<UInt8>, count keys: Int) {
        mlm_softmax_masked_row(row, mask, keys)
    }

    /// In place: `gradient ← P ⊙ (gradient − Σ_j gradient·P)` (the softmax Jacobian-vector product).
    public static func backward(
        probabilities: UnsafePointer<Float>, gradient: UnsafeMutablePointer<Float>, rows: Int, columns: Int
    ) {
        Parallel.forEachRange(
            rows, grain: Parallel.rowGrain(columns: columns),
            SoftmaxBackwardRows(probabilities: probabilities, gradient: gradient, columns: columns))
    }

    @inline(__always)
    public static func backwardRow(_ p: UnsafePointer<Float>, gradient g: UnsafeMutablePointer<Float>, count: Int) {
        mlm_softmax_backward_row(p, g, count)
    }
}

/// Softmax cross-entropy at selected rows of a logits matrix, with max subtraction.
public enum CrossEntropy {
    /// Labels below 0 (HF's -100) are ignored. Writes per-row log-sum-exp, loss and correctness;
    /// returns the loss sum (Double), the number of correct argmax predictions and of counted rows.
    public static func forward(
        logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>, rows: Int, classes: Int,
        logSumExp: UnsafeMutablePointer<Float>, rowLoss: UnsafeMutablePointer<Float>,
        rowCorrect: UnsafeMutablePointer<UInt8>
    ) -> (lossSum: Double, correct: Int, counted: Int) {
        Parallel.forEachRange(
            rows, grain: max(1, 65_536 / max(1, classes)),
            CrossEntropyRows(logits: logits, labels: labels, classes: classes, logSumExp: logSumExp, rowLoss: rowLoss,
                             rowCorrect: rowCorrect))
        var lossSum: Double = 0
        var correct = 0, counted = 0
        for r in 0..<rows where labels[r] >= 0 {
            lossSum += Double(rowLoss[r])
            correct += Int(rowCorrect[r])
            counted += 1
        }
        return (lossSum, correct, counted)
    }

    /// `gradient = scale · w[label] · (softmax(logits) − onehot(label))`, with `w` the `classWeights`
    /// (1 when nil); ignored rows get 0. May alias `logits`.
    public static func backward(
        logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>, logSumExp: UnsafePointer<Float>,
        rows: Int, classes: Int, scale: Float, classWeights: UnsafePointer<Float>? = nil,
        gradient: UnsafeMutablePointer<Float>
    ) {
        Parallel.forEachRange(
            rows, grain: max(1, 65_536 / max(1, classes)),
            CrossEntropyGradientRows(logits: logits, labels: labels, logSumExp: logSumExp, classes: classes,
                                     scale: scale, classWeights: classWeights, gradient: gradient))
    }

    /// `probabilities = softmax(logits)` per row, from the `logSumExp` that `forward` wrote. May alias `logits`.
    public static func probabilities(
        logits: UnsafePointer<Float>, logSumExp: UnsafePointer<Float>, rows: Int, classes: Int,
        into probabilities: UnsafeMutablePointer<Float>
    ) {
        Parallel.forEachRange(
            rows, grain: max(1, 65_536 / max(1, classes)),
            SoftmaxFromLogSumExpRows(logits: logits, logSumExp: logSumExp, classes: classes, probabilities: probabilities))
    }
}

private struct MaskedSoftmaxRows: ParallelBody {
    let scores: UnsafeMutablePointer<Float>, keyMask: UnsafePointer<UInt8>
    let rowsPerSequence: Int, keys: Int, keyMaskStride: Int
    func run(_ range: Range<Int>) {
        for r in range {
            mlm_softmax_masked_row(scores + r * keys, keyMask + (r / rowsPerSequence) * keyMaskStride, keys)
        }
    }
}

private struct SoftmaxBackwardRows: ParallelBody {
    let probabilities: UnsafePointer<Float>, gradient: UnsafeMutablePointer<Float>, columns: Int
    func run(_ range: Range<Int>) {
        for r in range { mlm_softmax_backward_row(probabilities + r * columns, gradient + r * columns, columns) }
    }
}

private struct CrossEntropyRows: ParallelBody {
    let logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>, classes: Int
    let logSumExp: UnsafeMutablePointer<Float>, rowLoss: UnsafeMutablePointer<Float>
    let rowCorrect: UnsafeMutablePointer<UInt8>

    func run(_ range: Range<Int>) {
        for r in range {
            let row = logits + r * classes
            let maximum = mlm_row_max(row, classes)
            var argmax = 0
            while argmax < classes - 1 && row[argmax] != maximum { argmax += 1 }
            let lse = maximum + Float(log(mlm_row_sum_exp(row, maximum, classes)))
            logSumExp[r] = lse
            let label = Int(labels[r])
            if label >= 0 {
                rowLoss[r] = lse - row[label]
                rowCorrect[r] = argmax == label ? 1 : 0
            } else {
                rowLoss[r] = 0
                rowCorrect[r] = 0
            }
        }
    }
}

private struct CrossEntropyGradientRows: ParallelBody {
    let logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>, logSumExp: UnsafePointer<Float>
    let classes: Int, scale: Float, classWeights: UnsafePointer<Float>?, gradient: UnsafeMutablePointer<Float>

    func run(_ range: Range<Int>) {
        for r in range {
            let row = logits + r * classes, g = gradient + r * classes
            let label = Int(labels[r])
            if label < 0 {
                g.update(repeating: 0, count: classes)
                continue
            }
            let rowScale = classWeights.map { scale * $0[label] } ?? scale
            mlm_scaled_exp(row, logSumExp[r], rowScale, g, classes)
            g[label] -= rowScale
        }
    }
}

private struct SoftmaxFromLogSumExpRows: ParallelBody {
    let logits: UnsafePointer<Float>, logSumExp: UnsafePointer<Float>, classes: Int
    let probabilities: UnsafeMutablePointer<Float>

    func run(_ range: Range<Int>) {
        for r in range { mlm_scaled_exp(logits + r * classes, logSumExp[r], 1, probabilities + r * classes, classes) }
    }
}
