import Testing

@testable import TensorKernels

/// These tests pass whichever OpenBLAS kernel runs; CI and the model helper run them both ways:
/// `OPENBLAS_CORETYPE=PRESCOTT swift test --filter TensorKernelsTests` and `OPENBLAS_CORETYPE=SKYLAKEX ...`.
@Suite struct GemmTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float, beta: Float
        var testDescription: String { "A\(transposeA ? "ᵀ" : "")·B\(transposeB ? "ᵀ" : "") \(m)×\(n)×\(k) α\(alpha) β\(beta)" }
    }

    static let cases: [Case] = [
        Case(transposeA: false, transposeB: false, m: 7, n: 5, k: 3, alpha: 1, beta: 0),
        Case(transposeA: false, transposeB: true, m: 33, n: 17, k: 65, alpha: 0.5, beta: 1),
        Case(transposeA: true, transposeB: false, m: 64, n: 48, k: 130, alpha: 1, beta: 1),
        Case(transposeA: true, transposeB: true, m: 5, n: 9, k: 12, alpha: -2, beta: 0.25),
        Case(transposeA: false, transposeB: true, m: 256, n: 192, k: 96, alpha: 1, beta: 0),
    ]

    /// Reference `C = α·op(A)·op(B) + β·C` in Double.
    static func reference(_ c: Case, _ a: [Float], _ b: [Float], _ c0: [Float]) -> [Double] {
        var out = [Double](repeating: 0, count: c.m * c.n)
        for i in 0..<c.m {
            for j in 0..<c.n {
                var sum = 0.0
                for p in 0..<c.k {
                    let x = c.transposeA ? a[p * c.m + i] : a[i * c.k + p]
                    let y = c.transposeB ? b[j * c.k + p] : b[p * c.n + j]
                    sum += Double(x) * Double(y)
                }
                out[i * c.n + j] = Double(c.alpha) * sum + Double(c.beta) * Double(c0[i * c.n + j])
            }
        }
        return out
    }

    @Test(arguments: cases) func multiplyMatchesDoubleReference(_ c: Case) {
        var data = TestData(seed: 11)
        let a = data.normal(c.m * c.k), b = data.normal(c.k * c.n)
        var out = data.normal(c.m * c.n)
        let expected = Self.reference(c, a, b, out)
        Gemm.multiply(
            transposeA: c.transposeA, transposeB: c.transposeB, m: c.m, n: c.n, k: c.k, alpha: c.alpha,
            a: a, lda: c.transposeA ? c.m : c.k, b: b, ldb: c.transposeB ? c.k : c.n, beta: c.beta,
            c: &out, ldc: c.n)
        let worst = zip(out, expected).map { abs(Double($0) - $1) }.max() ?? 0
        #expect(worst <= 1e-4 * Double(c.k), "max error \(worst) with kernel \(OpenBLASRuntime.coreName)")
    }

    /// Strided per-head products inside `[rows, heads·d]` matrices, as attention uses them.
    @Test func batchedHeadsMatchPerHeadReference() {
        let heads = 3, d = 4, s = 5, width = heads * d
        var data = TestData(seed: 5)
        let q = data.normal(s * width), k = data.normal(s * width)
        var scores = [Float](repeating: 0, count: heads * s * s)
        Gemm.multiplyBatched(
            count: heads, transposeA: false, transposeB: true, m: s, n: s, k: d, alpha: 0.5, a: q, lda: width,
            strideA: d, b: k, ldb: width, strideB: d, beta: 0, c: &scores, ldc: s, strideC: s * s)
        for h in 0..<heads {
            for i in 0..<s {
                for j in 0..<s {
                    var sum: Float = 0
                    for p in 0..<d { sum += q[i * width + h * d + p] * k[j * width + h * d + p] }
                    #expect(abs(scores[h * s * s + i * s + j] - 0.5 * sum) <= 1e-5)
                }
            }
        }
    }

    @Test func linearBackwardMatchesFiniteDifferences() {
        let rows = 4, inFeatures = 5, outFeatures = 3
        var data = TestData(seed: 9)
        var x = data.normal(rows * inFeatures), w = data.normal(outFeatures * inFeatures)
        var bias = data.normal(outFeatures)
        let probe = data.normal(rows * outFeatures)
        func loss(_ x: [Float], _ w: [Float], _ bias: [Float]) -> Double {
            var y = [Float](repeating: 0, count: rows * outFeatures)
            Linear.forward(input: x, weight: w, bias: bias, output: &y, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures)
            return weightedSum(y, probe)
        }
        var dx = [Float](repeating: 0, count: x.count), dw = [Float](repeating: 1, count: w.count)
        var db = [Float](repeating: 1, count: bias.count)
        Linear.backward(
            outputGradient: probe, input: x, weight: w, inputGradient: &dx, accumulateInputGradient: false,
            weightGradient: &dw, biasGradient: &db, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures)
        for i in x.indices {
            let numeric = centralDifference(&x, i) { loss($0, w, bias) }
            #expect(isClose(Double(dx[i]), numeric, absolute: 1e-3, relative: 1e-3))
        }
        // Weight and bias gradients accumulate onto the initial 1s.
        for i in w.indices {
            let numeric = centralDifference(&w, i) { loss(x, $0, bias) }
            #expect(isClose(Double(dw[i] - 1), numeric, absolute: 1e-3, relative: 1e-3))
        }
        for i in bias.indices {
            let numeric = centralDifference(&bias, i) { loss(x, w, $0) }
            #expect(isClose(Double(db[i] - 1), numeric, absolute: 1e-3, relative: 1e-3))
        }
    }

    @Test func columnSumsSplitAcrossWorkersMatchSerialSums() {
        let rows = 300, columns = 1000
        var data = TestData(seed: 2)
        let matrix = data.normal(rows * columns)
        var sums = [Float](repeating: 0.5, count: columns)
        Bias.accumulateColumnSums(matrix, rows: rows, columns: columns, into: &sums)
        for j in stride(from: 0, to: columns, by: 37) {
            var expected = 0.5
            for r in 0..<rows { expected += Double(matrix[r * columns + j]) }
            #expect(abs(Double(sums[j]) - expected) <= 1e-3)
        }
    }
}

@Suite struct OpenBLASRuntimeTests {
    static let sapphireRapids: Set<String> = ["avx2", "fma", "avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl", "avx512_bf16"]

    @Test func picksTheWidestKernelTheFlagsAllow() {
        #expect(OpenBLASRuntime.bestCore(cpuFlags: Self.sapphireRapids) == "SKYLAKEX")
        #expect(OpenBLASRuntime.bestCore(cpuFlags: ["avx2", "fma", "avx"]) == "HASWELL")
        #expect(OpenBLASRuntime.bestCore(cpuFlags: ["sse3", "ssse3"]) == nil)
        #expect(OpenBLASRuntime.cpuFlags(cpuinfo: "processor : 0\nflags\t\t: fpu avx2 fma\nbugs : x\n") == ["fpu", "avx2", "fma"])
        #expect(OpenBLASRuntime.cpuFlags(cpuinfo: "processor : 0\nbugs : x\n").isEmpty)
    }

    @Test func readsTheVendorOfTheFirstProcessor() {
        #expect(OpenBLASRuntime.cpuVendor(cpuinfo: "processor\t: 0\nvendor_id\t: GenuineIntel\nflags : avx2\n") == "GenuineIntel")
        #expect(OpenBLASRuntime.cpuVendor(cpuinfo: "processor : 0\nflags : avx2\n") == "")
        #expect(ProcText.field("MemTotal", in: "MemFree: 1 kB\nMemTotal:       24683612 kB\n") == "24683612 kB")
    }

    struct DecisionCase: Sendable {
        let core: String
        let environment: [String: String]
        let reexec: String?
    }

    @Test(arguments: [
        DecisionCase(core: "Prescott", environment: [:], reexec: "SKYLAKEX"),
        DecisionCase(core: "Haswell", environment: [:], reexec: "SKYLAKEX"),
        DecisionCase(core: "SkylakeX", environment: [:], reexec: nil),
        DecisionCase(core: "Cooperlake", environment: [:], reexec: nil),
        DecisionCase(core: "Prescott", environment: ["OPENBLAS_CORETYPE": "PRESCOTT"], reexec: nil),
        DecisionCase(core: "Prescott", environment: ["MLM_ADAPT_NO_BLAS_REEXEC": "1"], reexec: nil),
    ])
    func reexecutesOnlyWhenOpenBLASChoseAnOlderKernelOnItsOwn(_ c: DecisionCase) {
        let decision = OpenBLASRuntime.decide(currentCore: c.core, environment: c.environment, cpuFlags: Self.sapphireRapids)
        if let core = c.reexec {
            #expect(decision == .reexec(coreType: core))
        } else if case .reexec = decision {
            Issue.record("unexpected re-exec for \(c.core) with \(c.environment)")
        }
    }

    @Test func reportsTheRunningKernelAndSetsThreads() {
        #expect(OpenBLASRuntime.coreName != "unknown")
        let before = Parallel.workerCount
        OpenBLASRuntime.setThreads(1)
        #expect(Parallel.workerCount == 1 && OpenBLASRuntime.threads == 1)
        OpenBLASRuntime.setThreads(before)
        #expect(Parallel.workerCount == before && OpenBLASRuntime.threads == 1)
    }
}
