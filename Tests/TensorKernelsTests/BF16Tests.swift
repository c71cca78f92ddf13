import Foundation
import Testing

@testable import TensorKernels

/// The bf16 backends this machine can run: always the emulated one, and oneDNN where it runs bf16.
enum BF16Backends {
    static var oneDNN: OneDNNBF16Gemm? { try? OneDNNBF16Gemm.shared.get() }
    static var oneDNNSkipReason: String {
        switch OneDNNBF16Gemm.shared {
        case .success: return "oneDNN runs bf16"
        case .failure(let error): return "skipped: \(error.description)"
        }
    }
    static let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    static var cpuFlags: Set<String> { OpenBLASRuntime.cpuFlags(cpuinfo: cpuinfo) }
    static var cpuVendor: String { OpenBLASRuntime.cpuVendor(cpuinfo: cpuinfo) }
}

func bf16Rounded(_ values: [Float]) -> [Float] {
    var bits = [UInt16](repeating: 0, count: values.count), widened = values
    BFloat16.convert(values, into: &bits, count: values.count)
    BFloat16.widen(bits, into: &widened, count: values.count)
    return widened
}

@Suite struct BFloat16ConversionTests {
    @Test func roundsToNearestEvenAndKeepsSpecialValues() {
        let cases: [(Float, UInt16)] = [
            (1, 0x3F80), (-2, 0xC000), (0, 0), (-0.0, 0x8000),
            (1 + 0x1p-8, 0x3F80),  // halfway, to the even neighbour below
            (1 + 3 * 0x1p-8, 0x3F82),  // halfway, to the even neighbour above
            (1 + 0x1p-8 + 0x1p-20, 0x3F81),  // just above halfway
            (.infinity, 0x7F80), (-.infinity, 0xFF80), (Float.greatestFiniteMagnitude, 0x7F80),
        ]
        var out = [UInt16](repeating: 0, count: cases.count)
        BFloat16.convert(cases.map(\.0), into: &out, count: cases.count)
        for (index, (value, expected)) in cases.enumerated() {
            #expect(out[index] == expected, "\(value) → \(String(out[index], radix: 16)), expected \(String(expected, radix: 16))")
        }
        var nan = [UInt16](repeating: 0, count: 2)
        BFloat16.convert([Float.nan, -Float.nan], into: &nan, count: 2)
        var back = [Float](repeating: 0, count: 2)
        BFloat16.widen(nan, into: &back, count: 2)
        #expect(back.allSatisfy { $0.isNaN })
    }

    /// Each result is a nearest bf16 value, and widening then converting again is the identity.
    @Test func convertsToANearestValueAndRoundTrips() {
        var data = TestData(seed: 31)
        let values = data.normal(50_000, scale: 40) + data.normal(1_000, scale: 1e-30)
        let rounded = bf16Rounded(values)
        for (x, r) in zip(values, rounded) {
            let ulp = Float(bitPattern: (r.bitPattern & 0x7F80_0000)) * 0x1p-7
            #expect(abs(x - r) <= ulp / 2 || ulp == 0, "\(x) → \(r)")
        }
        #expect(bf16Rounded(rounded) == rounded)
    }
}

@Suite struct BF16GemmTests {
    /// Double-precision product of the same bf16 operands.
    static func reference(
        _ tA: Bool, _ tB: Bool, m: Int, n: Int, k: Int, a: [Float], lda: Int, b: [Float], ldb: Int
    ) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k {
                    let x = tA ? a[p * lda + i] : a[i * lda + p], y = tB ? b[j * ldb + p] : b[p * ldb + j]
                    sum += Double(x) * Double(y)
                }
                c[i * n + j] = sum
            }
        }
        return c
    }

    static let shapes: [(Bool, Bool, Bool)] = [
        (false, false, false), (false, true, false), (true, false, true), (true, true, true), (false, true, true),
    ]

    static func check(_ gemm: any BF16Gemm, transposeA: Bool, transposeB: Bool, accumulate: Bool) {
        let m = 37, n = 29, k = 70
        var data = TestData(seed: 7)
        let lda = (transposeA ? m : k) + 3, ldb = (transposeB ? k : n) + 5
        let a = bf16Rounded(data.normal((transposeA ? k : m) * lda)), b = bf16Rounded(data.normal((transposeB ? n : k) * ldb))
        var a16 = [UInt16](repeating: 0, count: a.count), b16 = [UInt16](repeating: 0, count: b.count)
        BFloat16.convert(a, into: &a16, count: a.count)
        BFloat16.convert(b, into: &b16, count: b.count)
        let start = data.normal(m * n)
        var c = start
        gemm.multiply(
            transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, a: a16, lda: lda, b: b16, ldb: ldb,
            accumulate: accumulate, c: &c, ldc: n)
        let expected = reference(transposeA, transposeB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb)
        var worst = 0.0
        for i in 0..<(m * n) {
            let target = expected[i] + (accumulate ? Double(start[i]) : 0)
            worst = max(worst, abs(Double(c[i]) - target))
        }
        // Exact products, float accumulation over k = 70 terms of size ~1: a few ulps of ~10.
        #expect(worst <= 1e-4, "\(gemm.name) tA \(transposeA) tB \(transposeB) acc \(accumulate): max |Δ| \(worst)")
    }

    @Test(arguments: shapes) func emulatedMatchesDoubleReference(_ shape: (Bool, Bool, Bool)) {
        Self.check(EmulatedBF16Gemm(), transposeA: shape.0, transposeB: shape.1, accumulate: shape.2)
    }

    @Test(.enabled(if: BF16Backends.oneDNN != nil, "\(BF16Backends.oneDNNSkipReason)"), arguments: shapes)
    func oneDNNMatchesDoubleReference(_ shape: (Bool, Bool, Bool)) throws {
        let gemm = try #require(BF16Backends.oneDNN)
        Self.check(gemm, transposeA: shape.0, transposeB: shape.1, accumulate: shape.2)
        print("oneDNN bf16: \(gemm.name)")
    }

    /// A CPU with avx512_bf16 or AMX and oneDNN installed must get a bf16 primitive: otherwise `auto` would
    /// silently stay fp32 where bf16 is the point.
    @Test func oneDNNProbeSucceedsWhereTheCPUHasBF16() {
        let loads = (try? OneDNN.loaded.get()) != nil
        let capable = !BF16Backends.cpuFlags.isDisjoint(with: Precision.bf16CPUFlags)
        switch OneDNNBF16Gemm.shared {
        case .success(let gemm):
            #expect(loads)
            #expect(!gemm.implementation.isEmpty)
        case .failure(let error):
            #expect(!(loads && capable), "bf16 CPU with oneDNN installed, yet: \(error)")
            print("oneDNN on this machine: \(error)")
        }
    }
}

@Suite struct MixedLinearTests {
    /// bf16 Linear (emulated) equals the fp32 Linear fed the bf16-rounded operands, for every output.
    /// The same with the activation given in float (converted per call) or already in bf16.
    @Test(arguments: [false, true]) func forwardAndBackwardEqualFloatLinearOnRoundedOperands(bfloat16Input: Bool) {
        let rows = 13, inFeatures = 24, outFeatures = 18
        var data = TestData(seed: 8)
        let x = data.normal(rows * inFeatures), w = data.normal(outFeatures * inFeatures)
        let bias = data.normal(outFeatures), dy = data.normal(rows * outFeatures)
        var w16 = [UInt16](repeating: 0, count: w.count), x16 = [UInt16](repeating: 0, count: x.count)
        BFloat16.convert(w, into: &w16, count: w.count)
        BFloat16.convert(x, into: &x16, count: x.count)
        let scratch = BF16Scratch(capacity: rows * max(inFeatures, outFeatures))
        let gemm = EmulatedBF16Gemm()
        var y = [Float](repeating: 0, count: rows * outFeatures), yRef = y
        var dx = data.normal(rows * inFeatures), dxRef = dx
        var dw = data.normal(w.count), dwRef = dw
        var db = [Float](repeating: 0, count: outFeatures), dbRef = db
        x.withUnsafeBufferPointer { x in
            x16.withUnsafeBufferPointer { x16 in
                let input: MixedOperand = bfloat16Input ? .bfloat16(x16.baseAddress!) : .float(x.baseAddress!)
                MixedLinear.forward(
                    input: input, weight: w16, bias: bias, output: &y, rows: rows, inFeatures: inFeatures,
                    outFeatures: outFeatures, scratch: scratch, gemm: gemm)
                MixedLinear.backward(
                    outputGradient: dy, input: input, weight: w16, inputGradient: &dx, accumulateInputGradient: true,
                    weightGradient: &dw, biasGradient: &db, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures,
                    scratch: scratch, gemm: gemm)
            }
        }
        Linear.forward(
            input: bf16Rounded(x), weight: bf16Rounded(w), bias: bias, output: &yRef, rows: rows, inFeatures: inFeatures,
            outFeatures: outFeatures)
        #expect(maxDifference(y, yRef) <= 1e-5)
        Linear.backward(
            outputGradient: bf16Rounded(dy), input: bf16Rounded(x), weight: bf16Rounded(w), inputGradient: &dxRef,
            accumulateInputGradient: true, weightGradient: &dwRef, biasGradient: nil, rows: rows,
            inFeatures: inFeatures, outFeatures: outFeatures)
        Bias.accumulateColumnSums(dy, rows: rows, columns: outFeatures, into: &dbRef)
        #expect(maxDifference(dx, dxRef) <= 1e-5)
        #expect(maxDifference(dw, dwRef) <= 1e-5)
        #expect(db == dbRef, "the bias gradient stays fp32")
    }

    func maxDifference(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) }.max() ?? 0 }
}

@Suite struct PrecisionResolutionTests {
    static let bf16CPU: Set<String> = ["avx2", "avx512f", "avx512_bf16"]
    static let avx2CPU: Set<String> = ["avx2", "fma"]
    static func working() -> Result<any BF16Gemm, OneDNNUnavailable> { .success(EmulatedBF16Gemm()) }
    static func refusing() -> Result<any BF16Gemm, OneDNNUnavailable> {
        .failure(OneDNNUnavailable(description: "oneDNN 2.6.3 cannot create a bf16 matmul (unimplemented)"))
    }

    @Test func fp32NeverTouchesOneDNN() throws {
        let resolved = try Precision.resolve(
            requested: .fp32, environment: [:], cpuFlags: Self.bf16CPU, cpuVendor: "AuthenticAMD",
            oneDNN: {
                Issue.record("oneDNN consulted for fp32")
                return Self.working()
            })
        #expect(resolved.precision == .fp32 && resolved.bf16Gemm == nil)
        #expect(resolved.logLine.hasPrefix("precision: fp32 (requested); GEMM backend: OpenBLAS sgemm"))
    }

    @Test func autoPicksBF16OnlyWithCPUSupportAndAWorkingOneDNN() throws {
        let yes = try Precision.resolve(requested: .auto, environment: [:], cpuFlags: Self.bf16CPU, cpuVendor: "AuthenticAMD", oneDNN: Self.working)
        #expect(yes.precision == .bf16 && yes.bf16Gemm != nil && yes.reason == "auto")
        let amx = try Precision.resolve(
            requested: .auto, environment: [:], cpuFlags: ["amx_bf16", "amx_tile"], cpuVendor: "AuthenticAMD", oneDNN: Self.working)
        #expect(amx.precision == .bf16)

        let noCPU = try Precision.resolve(
            requested: .auto, environment: [:], cpuFlags: Self.avx2CPU, cpuVendor: "AuthenticAMD",
            oneDNN: {
                Issue.record("oneDNN consulted on a CPU without bf16")
                return Self.working()
            })
        #expect(noCPU.precision == .fp32 && noCPU.reason.contains("neither avx512_bf16 nor AMX"))
        let refused = try Precision.resolve(requested: .auto, environment: [:], cpuFlags: Self.bf16CPU, cpuVendor: "AuthenticAMD", oneDNN: Self.refusing)
        #expect(refused.precision == .fp32 && refused.reason.contains("unimplemented"))
        let disabled = try Precision.resolve(
            requested: .auto, environment: [PrecisionEnvironment.disableOneDNN: "1"], cpuFlags: Self.bf16CPU, cpuVendor: "AuthenticAMD",
            oneDNN: Self.working)
        #expect(disabled.precision == .fp32 && disabled.reason.contains(PrecisionEnvironment.disableOneDNN))
    }

    /// avx512_bf16 without the speed (Intel cores without AMX run bf16 at about 0.7× of sgemm): `auto`
    /// stays fp32 there, never loading oneDNN, and says why; AMX, or AMD's avx512_bf16, takes bf16; an
    /// explicit bf16 still runs.
    @Test func autoStaysFP32OnIntelWithoutAMX() throws {
        let intel = try Precision.resolve(
            requested: .auto, environment: [:], cpuFlags: Self.bf16CPU, cpuVendor: "GenuineIntel",
            oneDNN: {
                Issue.record("oneDNN consulted where auto stays fp32")
                return Self.working()
            })
        #expect(intel.precision == .fp32 && intel.bf16Gemm == nil)
        #expect(intel.reason.contains("avx512_bf16 but no AMX") && intel.reason.contains("--precision bf16 forces it"))
        let amx = try Precision.resolve(
            requested: .auto, environment: [:], cpuFlags: Self.bf16CPU.union(["amx_bf16", "amx_tile"]),
            cpuVendor: "GenuineIntel", oneDNN: Self.working)
        #expect(amx.precision == .bf16)
        let forced = try Precision.resolve(
            requested: .bf16, environment: [:], cpuFlags: Self.bf16CPU, cpuVendor: "GenuineIntel", oneDNN: Self.working)
        #expect(forced.precision == .bf16 && forced.reason == "requested")
    }

    @Test func explicitBF16ThatCannotRunIsAnErrorWithTheReason() throws {
        #expect(throws: PrecisionError.bf16Unavailable(reason: "this CPU has neither avx512_bf16 nor AMX (amx_bf16)")) {
            try Precision.resolve(requested: .bf16, environment: [:], cpuFlags: Self.avx2CPU, cpuVendor: "AuthenticAMD", oneDNN: Self.working)
        }
        do {
            _ = try Precision.resolve(requested: .bf16, environment: [:], cpuFlags: Self.bf16CPU, cpuVendor: "AuthenticAMD", oneDNN: Self.refusing)
            Issue.record("no error")
        } catch let error as PrecisionError {
            #expect(error.description.contains("--precision bf16 is not available here: oneDNN 2.6.3 cannot create"))
            #expect(error.description.contains("--precision fp32"))
        }
        let emulated = try Precision.resolve(
            requested: .bf16, environment: [PrecisionEnvironment.emulateBF16: "1"], cpuFlags: Self.avx2CPU, cpuVendor: "AuthenticAMD",
            oneDNN: Self.refusing)
        #expect(emulated.precision == .bf16 && emulated.bf16Gemm is EmulatedBF16Gemm)
        #expect(emulated.logLine.contains("emulated"))
        let autoIgnoresEmulation = try Precision.resolve(
            requested: .auto, environment: [PrecisionEnvironment.emulateBF16: "1"], cpuFlags: Self.avx2CPU, cpuVendor: "AuthenticAMD",
            oneDNN: Self.refusing)
        #expect(autoIgnoresEmulation.precision == .fp32)
    }

    /// This machine, as the CLI sees it.
    @Test func resolvesOnThisMachine() throws {
        let auto = try Precision.resolve(requested: .auto)
        print("this machine: \(auto.logLine)")
        let bf16Runs = BF16Backends.oneDNN != nil && !BF16Backends.cpuFlags.isDisjoint(with: Precision.bf16CPUFlags)
        if bf16Runs {
            let pays = Precision.bf16Slowdown(cpuFlags: BF16Backends.cpuFlags, cpuVendor: BF16Backends.cpuVendor) == nil
            #expect(auto.precision == (pays ? .bf16 : .fp32))
            #expect(try Precision.resolve(requested: .bf16).oneDNNImplementation != nil)
        } else {
            #expect(auto.precision == .fp32)
            #expect(throws: PrecisionError.self) { try Precision.resolve(requested: .bf16) }
        }
    }
}

/// The oneDNN binding (loading, descriptors, primitive creation, execution) exercised through an f32
/// matmul, which oneDNN runs on every x86-64 CPU: so the glue is tested even where bf16 is refused.
@Suite struct OneDNNBindingTests {
    static var loadNote: String {
        if case .failure(let error) = OneDNN.loaded { return "skipped: \(error)" }
        return "oneDNN loads"
    }

    @Test(.enabled(if: (try? OneDNN.loaded.get()) != nil, "\(loadNote)"), arguments: BF16GemmTests.shapes)
    func float32MatmulMatchesOpenBLAS(_ shape: (Bool, Bool, Bool)) throws {
        let (transposeA, transposeB, accumulate) = shape
        let m = 33, n = 21, k = 50
        let lda = (transposeA ? m : k) + 2, ldb = (transposeB ? k : n) + 3, ldc = n + 4
        var data = TestData(seed: 9)
        let a = data.normal((transposeA ? k : m) * lda), b = data.normal((transposeB ? n : k) * ldb)
        let start = data.normal(m * ldc)
        var c = start, expected = start
        let matmul = try OneDNNMatmul(
            inputs: .f32, transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, lda: lda, ldb: ldb, ldc: ldc,
            accumulate: accumulate)
        #expect(a.withUnsafeBytes { a in b.withUnsafeBytes { b in matmul.run(a: a.baseAddress!, b: b.baseAddress!, c: &c) } })
        Gemm.multiplySerial(
            transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb,
            beta: accumulate ? 1 : 0, c: &expected, ldc: ldc)
        var worst: Float = 0
        for i in 0..<m { for j in 0..<n { worst = max(worst, abs(c[i * ldc + j] - expected[i * ldc + j])) } }
        #expect(worst <= 1e-4, "max |Δ| \(worst) (\(matmul.implementation))")
        for i in 0..<m { for j in n..<ldc { #expect(c[i * ldc + j] == start[i * ldc + j], "padding column written") } }
        print("oneDNN f32 matmul: \(matmul.implementation)")
    }
}
