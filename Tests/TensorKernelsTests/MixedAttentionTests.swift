import Foundation
import Testing

@testable import TensorKernels

/// The bf16 backends on batched, strided products (attention's layout), and bf16 attention against fp32.
@Suite struct BatchedBF16GemmTests {
    /// 2 × 3 products of op(A)[m,k]·op(B)[k,n] whose matrices interleave as attention heads do.
    static func check(_ gemm: any BF16Gemm, transposeA: Bool, transposeB: Bool, accumulate: Bool) {
        let outer = 2, inner = 3, m = 9, n = 7, k = 11, alpha: Float = 0.375
        let aRows = transposeA ? k : m, aColumns = transposeA ? m : k
        let bRows = transposeB ? n : k, bColumns = transposeB ? k : n
        // Heads side by side in a row: leading dimension inner·columns + padding, one outer block after another.
        let lda = inner * aColumns + 2, ldb = inner * bColumns + 1, ldc = inner * n + 3
        let batch = MatrixBatch(
            outer: outer, inner: inner, a: .init(outer: aRows * lda, inner: aColumns),
            b: .init(outer: bRows * ldb, inner: bColumns), c: .init(outer: m * ldc, inner: n))
        var data = TestData(seed: 41)
        let a = bf16Rounded(data.normal(outer * aRows * lda)), b = bf16Rounded(data.normal(outer * bRows * ldb))
        var a16 = [UInt16](repeating: 0, count: a.count), b16 = [UInt16](repeating: 0, count: b.count)
        BFloat16.convert(a, into: &a16, count: a.count)
        BFloat16.convert(b, into: &b16, count: b.count)
        let start = data.normal(outer * m * ldc)
        var c = start
        gemm.multiply(
            batch, transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a16, lda: lda,
            b: b16, ldb: ldb, accumulate: accumulate, c: &c, ldc: ldc)
        var expected = start.map(Double.init), written = [Bool](repeating: false, count: start.count)
        for o in 0..<outer {
            for h in 0..<inner {
                let aBase = batch.a.offset(o, h), bBase = batch.b.offset(o, h), cBase = batch.c.offset(o, h)
                for i in 0..<m {
                    for j in 0..<n {
                        var sum = 0.0
                        for p in 0..<k {
                            let x = transposeA ? a[aBase + p * lda + i] : a[aBase + i * lda + p]
                            let y = transposeB ? b[bBase + j * ldb + p] : b[bBase + p * ldb + j]
                            sum += Double(x) * Double(y)
                        }
                        let index = cBase + i * ldc + j
                        expected[index] = Double(alpha) * sum + (accumulate ? Double(start[index]) : 0)
                        written[index] = true
                    }
                }
            }
        }
        var worst = 0.0
        for index in 0..<c.count {
            if written[index] {
                worst = max(worst, abs(Double(c[index]) - expected[index]))
            } else {
                #expect(c[index] == start[index], "\(gemm.name): element \(index) outside every product written")
            }
        }
        #expect(worst <= 1e-4, "\(gemm.name) tA \(transposeA) tB \(transposeB) acc \(accumulate): max |Δ| \(worst)")
    }

    @Test(arguments: BF16GemmTests.shapes) func emulatedMatchesDoubleReference(_ shape: (Bool, Bool, Bool)) {
        Self.check(EmulatedBF16Gemm(), transposeA: shape.0, transposeB: shape.1, accumulate: shape.2)
    }

    @Test(.enabled(if: BF16Backends.oneDNN != nil, "\(BF16Backends.oneDNNSkipReason)"), arguments: BF16GemmTests.shapes)
    func oneDNNMatchesDoubleReference(_ shape: (Bool, Bool, Bool)) throws {
        Self.check(try #require(BF16Backends.oneDNN), transposeA: shape.0, transposeB: shape.1, accumulate: shape.2)
    }
}

@Suite struct MixedAttentionTests {
    static let shape = Attention.Shape(batch: 2, heads: 3, seq: 16, headSize: 8, qkvStride: 72)
    /// The second sequence ends in five padding keys.
    static let keyMask: [UInt8] = [UInt8](repeating: 1, count: 16) + [UInt8](repeating: 1, count: 11) + [UInt8](repeating: 0, count: 5)
    static let dropout = DropoutMask(probability: 0.1, seed: 5, stream: 2)

    struct Outputs {
        var probabilities: [Float], context: [Float], qkvGradient: [Float]
    }

    static func run(_ qkv: [Float], _ contextGradient: [Float], gemm: (any BF16Gemm)?) -> Outputs {
        let s = shape, area = s.pairs * s.seq * s.seq
        var probabilities = [Float](repeating: 0, count: area), dropped = probabilities, dP = probabilities
        var context = [Float](repeating: 0, count: s.batch * s.seq * s.width)
        var qkvGradient = [Float](repeating: .nan, count: qkv.count)
        if let gemm {
            let needs = MixedAttention.scratchNeeds(batch: s.batch, seq: s.seq, heads: s.heads, width: s.width)
            let scratch = BF16Scratch(capacity: needs.operands, thirdCapacity: needs.context)
            MixedAttention.forward(
                qkv: qkv, keyMask: keyMask, shape: s, dropout: dropout, probabilities: &probabilities, context: &context,
                scratch: scratch, gemm: gemm)
            MixedAttention.backward(
                contextGradient: contextGradient, qkv: qkv, probabilities: probabilities, shape: s, dropout: dropout,
                probabilityGradient: &dP, qkvGradient: &qkvGradient, scratch: scratch, gemm: gemm)
        } else {
            qkv.withUnsafeBufferPointer { qkv in
                let q = qkv.baseAddress!
                Attention.forward(
                    query: q, key: q + s.width, value: q + 2 * s.width, keyMask: keyMask, shape: s, dropout: dropout,
                    probabilities: &probabilities, dropped: &dropped, context: &context)
                qkvGradient.withUnsafeMutableBufferPointer { g in
                    let g = g.baseAddress!
                    Attention.backward(
                        contextGradient: contextGradient, query: q, key: q + s.width, value: q + 2 * s.width,
                        probabilities: probabilities, shape: s, dropout: dropout, dropped: &dropped,
                        probabilityGradient: &dP, queryGradient: g, keyGradient: g + s.width, valueGradient: g + 2 * s.width)
                }
            }
        }
        return Outputs(probabilities: probabilities, context: context, qkvGradient: qkvGradient)
    }

    static func relativeL2(_ a: [Float], _ b: [Float]) -> Double {
        let difference = zip(a, b).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
        return (difference / b.reduce(0.0) { $0 + Double($1) * Double($1) }).squareRoot()
    }

    /// bf16 operands cost about 2⁻⁹ relative per element; fp32 is the reference. Padding keys get no weight
    /// and every Q, K, V gradient element is written.
    static func checkAgainstFloat(_ gemm: any BF16Gemm) {
        let s = shape
        var data = TestData(seed: 43)
        let qkv = data.normal(s.batch * s.seq * s.qkvStride, scale: 1.5), dC = data.normal(s.batch * s.seq * s.width)
        let mixed = run(qkv, dC, gemm: gemm), float = run(qkv, dC, gemm: nil)
        #expect(relativeL2(mixed.probabilities, float.probabilities) < 1e-2, "\(gemm.name): probabilities")
        #expect(relativeL2(mixed.context, float.context) < 1e-2, "\(gemm.name): context")
        #expect(!mixed.qkvGradient.contains { $0.isNaN }, "\(gemm.name): a Q/K/V gradient element left unwritten")
        for (block, name) in ["query", "key", "value"].enumerated() {
            var a: [Float] = [], b: [Float] = []
            for row in 0..<(s.batch * s.seq) {
                let start = row * s.qkvStride + block * s.width
                a += mixed.qkvGradient[start..<start + s.width]
                b += float.qkvGradient[start..<start + s.width]
            }
            #expect(relativeL2(a, b) < 2e-2, "\(gemm.name): \(name) gradient")
        }
        for pair in s.heads..<(2 * s.heads) {
            for row in 0..<s.seq {
                for key in 11..<s.seq {
                    #expect(mixed.probabilities[(pair * s.seq + row) * s.seq + key] == 0, "padding key weighted")
                }
            }
        }
    }

    /// Dropout straight to bf16 is the float dropout, rounded: the same elements dropped, the same values.
    @Test func dropoutIntoBFloat16IsRoundedFloatDropout() {
        var data = TestData(seed: 44)
        let values = data.normal(10_007), mask = DropoutMask(probability: 0.3, seed: 9, stream: 4, firstIndex: 5)
        var float = [Float](repeating: 0, count: values.count), bits = [UInt16](repeating: 0, count: values.count)
        mask.applySerial(values, into: &float, count: values.count, first: 3)
        mask.applySerial(values, intoBFloat16: &bits, count: values.count, first: 3)
        var widened = [Float](repeating: 0, count: values.count)
        BFloat16.widen(bits, into: &widened, count: bits.count)
        #expect(widened == bf16Rounded(float))
        #expect(float.filter { $0 == 0 }.count > 2_500, "about 30% dropped")
    }

    @Test func emulatedIsCloseToFloatAttention() { Self.checkAgainstFloat(EmulatedBF16Gemm()) }

    @Test(.enabled(if: BF16Backends.oneDNN != nil, "\(BF16Backends.oneDNNSkipReason)"))
    func oneDNNIsCloseToFloatAttention() throws { Self.checkAgainstFloat(try #require(BF16Backends.oneDNN)) }
}
