import Foundation
import Testing

@testable import TensorKernels

@Suite struct AttentionTests {
    static let shape = Attention.Shape(batch: 2, heads: 2, seq: 5, headSize: 3)
    static let keyMask: [UInt8] = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]  // second sequence: two padding keys

    /// Loss Σ probe ⊙ context of the fused kernel, with dropout on.
    static func loss(_ q: [Float], _ k: [Float], _ v: [Float], _ probe: [Float], _ dropout: DropoutMask) -> (Double, [Float]) {
        let s = shape
        var probabilities = [Float](repeating: 0, count: s.pairs * s.seq * s.seq), dropped = probabilities
        var context = [Float](repeating: 0, count: s.batch * s.seq * s.width)
        Attention.forward(
            query: q, key: k, value: v, keyMask: keyMask, shape: s, dropout: dropout, probabilities: &probabilities,
            dropped: &dropped, context: &context)
        return (weightedSum(context, probe), probabilities)
    }

    @Test func forwardMatchesDoubleReferenceWithoutDropout() {
        let s = Self.shape
        var data = TestData(seed: 21)
        let q = data.normal(s.batch * s.seq * s.width), k = data.normal(q.count), v = data.normal(q.count)
        var probabilities = [Float](repeating: 0, count: s.pairs * s.seq * s.seq), dropped = probabilities
        var context = [Float](repeating: 0, count: q.count)
        Attention.forward(
            query: q, key: k, value: v, keyMask: Self.keyMask, shape: s,
            dropout: DropoutMask(probability: 0, seed: 0, stream: 0), probabilities: &probabilities,
            dropped: &dropped, context: &context)
        for b in 0..<s.batch {
            for h in 0..<s.heads {
                for i in 0..<s.seq {
                    var scores = [Double](repeating: -.infinity, count: s.seq)
                    for j in 0..<s.seq where Self.keyMask[b * s.seq + j] != 0 {
                        var dot = 0.0
                        for c in 0..<s.headSize {
                            dot += Double(q[(b * s.seq + i) * s.width + h * s.headSize + c])
                                * Double(k[(b * s.seq + j) * s.width + h * s.headSize + c])
                        }
                        scores[j] = dot / Double(s.headSize).squareRoot()
                    }
                    let m = scores.max()!
                    let weights = scores.map { exp($0 - m) }
                    let total = weights.reduce(0, +)
                    for c in 0..<s.headSize {
                        var expected = 0.0
                        for j in 0..<s.seq {
                            expected += weights[j] / total * Double(v[(b * s.seq + j) * s.width + h * s.headSize + c])
                        }
                        let actual = context[(b * s.seq + i) * s.width + h * s.headSize + c]
                        #expect(abs(Double(actual) - expected) < 1e-5)
                    }
                }
            }
        }
    }

    @Test func backwardWithDropoutMatchesFiniteDifferences() {
        let s = Self.shape
        var data = TestData(seed: 22)
        var q = data.normal(s.batch * s.seq * s.width), k = data.normal(q.count), v = data.normal(q.count)
        let probe = data.normal(q.count)
        let dropout = DropoutMask(probability: 0.2, seed: 3, stream: 9)
        let (_, probabilities) = Self.loss(q, k, v, probe, dropout)
        var dropped = [Float](repeating: 0, count: probabilities.count), dP = dropped
        var dq = [Float](repeating: 0, count: q.count), dk = dq, dv = dq
        Attention.backward(
            contextGradient: probe, query: q, key: k, value: v, probabilities: probabilities, shape: s,
            dropout: dropout, dropped: &dropped, probabilityGradient: &dP, queryGradient: &dq, keyGradient: &dk,
            valueGradient: &dv)
        for i in stride(from: 0, to: q.count, by: 3) {
            let numericQ = centralDifference(&q, i, step: 1e-2) { Self.loss($0, k, v, probe, dropout).0 }
            let numericK = centralDifference(&k, i, step: 1e-2) { Self.loss(q, $0, v, probe, dropout).0 }
            let numericV = centralDifference(&v, i, step: 1e-2) { Self.loss(q, k, $0, probe, dropout).0 }
            #expect(isClose(Double(dq[i]), numericQ, absolute: 2e-3, relative: 1e-2), "dQ[\(i)]")
            #expect(isClose(Double(dk[i]), numericK, absolute: 2e-3, relative: 1e-2), "dK[\(i)]")
            #expect(isClose(Double(dv[i]), numericV, absolute: 2e-3, relative: 1e-2), "dV[\(i)]")
        }
    }
}
