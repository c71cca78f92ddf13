import CTensorKernels
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Where the matrices of a batched product lie: `outer × inner` products (e.g. sequences × heads), the
/// matrix (o, i) of each operand `o·outer + i·inner` elements from its base.
public struct MatrixBatch: Hashable, Sendable {
    public struct Strides: Hashable, Sendable {
        public var outer: Int, inner: Int
        public init(outer: Int, inner: Int) { self.outer = outer; self.inner = inner }
        func offset(_ o: Int, _ i: Int) -> Int { o * outer + i * inner }
    }
    public var outer: Int, inner: Int
    public var a: Strides, b: Strides, c: Strides
    public init(outer: Int, inner: Int, a: Strides, b: Strides, c: Strides) {
        self.outer = outer; self.inner = inner; self.a = a; self.b = b; self.c = c
    }
    public static let single = MatrixBatch(
        outer: 1, inner: 1, a: .init(outer: 0, inner: 0), b: .init(outer: 0, inner: 0), c: .init(outer: 0, inner: 0))
    var isSingle: Bool { outer == 1 && inner == 1 }
}

/// Row-major products of bf16 matrices with float accumulation and float output:
/// `C[m,n] = alpha · op(A) · op(B)`, or `C += …` with `accumulate`, for each matrix of `batch`. Called from
/// one thread at a time.
public protocol BF16Gemm: AnyObject, Sendable {
    /// The backend, for logs: e.g. `oneDNN 2.6.3 matmul (brg:avx512_core_bf16)`.
    var name: String { get }
    func multiply(
        _ batch: MatrixBatch, transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<UInt16>, lda: Int, b: UnsafePointer<UInt16>, ldb: Int, accumulate: Bool,
        c: UnsafeMutablePointer<Float>, ldc: Int)
}

extension BF16Gemm {
    /// One product, `C (+)= op(A) · op(B)`.
    public func multiply(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, a: UnsafePointer<UInt16>, lda: Int,
        b: UnsafePointer<UInt16>, ldb: Int, accumulate: Bool, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        multiply(
            .single, transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 1, a: a, lda: lda, b: b,
            ldb: ldb, accumulate: accumulate, c: c, ldc: ldc)
    }
}

/// Elements of a row-major operand with `rows` rows of `columns` used columns at leading dimension `ld`.
@inline(__always)
func storedCount(rows: Int, columns: Int, ld: Int) -> Int { rows == 0 ? 0 : (rows - 1) * ld + columns }

/// The bf16 arithmetic without bf16 hardware: widens the bf16 operands (exactly) and runs OpenBLAS sgemm.
/// Products of two bf16 values are exact in float, so this gives what a bf16 kernel with float
/// accumulation gives, up to summation order. It is slower than plain fp32 and exists so that
/// mixed precision can be tested on any CPU (`MLM_ADAPT_BF16_EMULATE=1`); its buffers grow to the
/// largest operands once, then no call allocates.
public final class EmulatedBF16Gemm: BF16Gemm, @unchecked Sendable {
    public let name = "emulated bf16 (bf16-rounded operands widened to float, OpenBLAS sgemm)"
    private var first = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)
    private var second = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)

    public init() {}

    deinit {
        first.deallocate()
        second.deallocate()
    }

    private static func ensure(_ buffer: inout UnsafeMutableBufferPointer<Float>, _ count: Int) {
        guard buffer.count < count else { return }
        buffer.deallocate()
        buffer = .allocate(capacity: count)
    }

    public func multiply(
        _ batch: MatrixBatch, transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<UInt16>, lda: Int, b: UnsafePointer<UInt16>, ldb: Int, accumulate: Bool,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        let aCount = transposeA ? storedCount(rows: k, columns: m, ld: lda) : storedCount(rows: m, columns: k, ld: lda)
        let bCount = transposeB ? storedCount(rows: n, columns: k, ld: ldb) : storedCount(rows: k, columns: n, ld: ldb)
        Self.ensure(&first, aCount)
        Self.ensure(&second, bCount)
        for o in 0..<batch.outer {
            for i in 0..<batch.inner {
                BFloat16.widen(a + batch.a.offset(o, i), into: first.baseAddress!, count: aCount)
                BFloat16.widen(b + batch.b.offset(o, i), into: second.baseAddress!, count: bCount)
                Gemm.multiply(
                    transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                    a: first.baseAddress!, lda: lda, b: second.baseAddress!, ldb: ldb, beta: accumulate ? 1 : 0,
                    c: c + batch.c.offset(o, i), ldc: ldc)
            }
        }
    }
}

/// Why oneDNN cannot run (bf16) here.
public struct OneDNNUnavailable: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(description: String) { self.description = description }
}

/// oneDNN (`libdnnl.so.2`, Debian's `libdnnl-dev`), loaded at run time: the package neither links it nor
/// needs its headers, and runs without it.
public enum OneDNN {
    public static let libraryName = "libdnnl.so.2"

    /// The process's oneDNN, loaded once: its version (`oneDNN 2.6.3`), or why it cannot be loaded.
    public static let loaded: Result<String, OneDNNUnavailable> = {
        if PrecisionEnvironment.isOn(PrecisionEnvironment.disableOneDNN, in: ProcessInfo.processInfo.environment) {
            return .failure(OneDNNUnavailable(description: "oneDNN is disabled by \(PrecisionEnvironment.disableOneDNN)"))
        }
        // Between its parallel regions OpenMP would otherwise spin on the cores our own workers need.
        setenv("OMP_WAIT_POLICY", "PASSIVE", 0)
        var error = [CChar](repeating: 0, count: 512)
        guard mlm_dnnl_load(libraryName, &error, error.count) != 0 else {
            let reason = String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            return .failure(OneDNNUnavailable(description: "oneDNN could not be loaded: \(reason)"))
        }
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        mlm_dnnl_version(&major, &minor, &patch)
        return .success("oneDNN \(major).\(minor).\(patch)")
    }()
}

/// One oneDNN matmul primitive for one shape: `C (+)= alpha · op(A) · op(B)`, row-major, A and B bf16 or
/// f32, C f32, once or for each matrix of a batch. Creating it compiles the kernel (milliseconds); running it
/// allocates nothing.
public final class OneDNNMatmul: @unchecked Sendable {
    public enum Inputs: Sendable { case bf16, f32 }
    /// oneDNN's name for the kernel it picked, e.g. `brg:avx512_core_bf16` or `gemm:jit`.
    public let implementation: String
    private let primitive: OpaquePointer

    public init(
        inputs: Inputs, transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, lda: Int, ldb: Int, ldc: Int,
        accumulate: Bool, alpha: Float = 1, batch: MatrixBatch = .single
    ) throws {
        let version = try OneDNN.loaded.get()
        // A primitive fixes its thread count when it is created, so oneDNN must see ours first.
        mlm_dnnl_set_threads(Int32(Parallel.workerCount))
        var status: Int32 = 0
        let layout = [batch.outer, batch.inner, batch.a.outer, batch.a.inner, batch.b.outer, batch.b.inner, batch.c.outer, batch.c.inner]
        let created = layout.withUnsafeBufferPointer { layout in
            mlm_dnnl_matmul_create(
                inputs == .bf16 ? 1 : 0, transposeA ? 1 : 0, transposeB ? 1 : 0, m, n, k, lda, ldb, ldc, accumulate ? 1 : 0,
                alpha, batch.isSingle ? nil : layout.baseAddress, &status)
        }
        guard let primitive = created else {
            let why = status == 3 ? "unimplemented: no kernel for this CPU" : "status \(status)"
            let count = batch.isSingle ? "" : "\(batch.outer)×\(batch.inner) "
            throw OneDNNUnavailable(description: "\(version) cannot create a \(inputs) matmul \(count)\(m)×\(k)·\(k)×\(n) (\(why))")
        }
        self.primitive = primitive
        implementation = String(cString: mlm_dnnl_matmul_implementation(primitive))
    }

    deinit { mlm_dnnl_matmul_destroy(primitive) }

    /// Runs on the `Parallel.workerCount` it was created at; false when oneDNN reports an error.
    public func run(a: UnsafeRawPointer, b: UnsafeRawPointer, c: UnsafeMutablePointer<Float>) -> Bool {
        mlm_dnnl_set_threads(Int32(Parallel.workerCount))
        return mlm_dnnl_matmul_run(primitive, a, b, c) == 0
    }
}

/// bf16 GEMMs through oneDNN: one primitive per distinct shape, created at first use and kept.
public final class OneDNNBF16Gemm: BF16Gemm, @unchecked Sendable {
    public let version: String
    /// oneDNN's kernel name for the probe product, e.g. `brg:avx512_core_bf16`.
    public let implementation: String
    public var name: String { "\(version) matmul, bf16 in, f32 out (\(implementation))" }

    private struct Shape: Hashable {
        let batch: MatrixBatch
        let transposeA, transposeB, accumulate: Bool
        let m, n, k, lda, ldb, ldc, threads: Int
        let alpha: Float
    }
    private var primitives: [Shape: OneDNNMatmul] = [:]
    private var refused = Set<Shape>()
    private let fallback = EmulatedBF16Gemm()

    /// The process's oneDNN bf16 backend, probed once: a bf16 matmul primitive must be creatable (oneDNN
    /// 2.6 refuses bf16 as unimplemented on CPUs without AVX-512, e.g. AVX2-only ones).
    public static let shared: Result<OneDNNBF16Gemm, OneDNNUnavailable> = Result {
        let version = try OneDNN.loaded.get()
        let probe = try OneDNNMatmul(
            inputs: .bf16, transposeA: false, transposeB: true, m: 64, n: 64, k: 64, lda: 64, ldb: 64, ldc: 64,
            accumulate: false)
        return OneDNNBF16Gemm(version: version, implementation: probe.implementation)
    }.mapError { $0 as? OneDNNUnavailable ?? OneDNNUnavailable(description: "\($0)") }

    private init(version: String, implementation: String) {
        self.version = version
        self.implementation = implementation
    }

    public func multiply(
        _ batch: MatrixBatch, transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<UInt16>, lda: Int, b: UnsafePointer<UInt16>, ldb: Int, accumulate: Bool,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        let shape = Shape(
            batch: batch, transposeA: transposeA, transposeB: transposeB, accumulate: accumulate, m: m, n: n, k: k,
            lda: lda, ldb: ldb, ldc: ldc, threads: Parallel.workerCount, alpha: alpha)
        if let primitive = primitives[shape] ?? create(shape), primitive.run(a: a, b: b, c: c) { return }
        if primitives.removeValue(forKey: shape) != nil { refuse(shape, "its execution failed") }
        fallback.multiply(
            batch, transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b,
            ldb: ldb, accumulate: accumulate, c: c, ldc: ldc)
    }

    private func create(_ shape: Shape) -> OneDNNMatmul? {
        guard !refused.contains(shape) else { return nil }
        do {
            let primitive = try OneDNNMatmul(
                inputs: .bf16, transposeA: shape.transposeA, transposeB: shape.transposeB, m: shape.m, n: shape.n,
                k: shape.k, lda: shape.lda, ldb: shape.ldb, ldc: shape.ldc, accumulate: shape.accumulate,
                alpha: shape.alpha, batch: shape.batch)
            primitives[shape] = primitive
            return primitive
        } catch {
            refuse(shape, "\(error)")
            return nil
        }
    }

    /// A shape oneDNN refuses runs on the emulated path from then on, with one note.
    private func refuse(_ shape: Shape, _ what: String) {
        guard refused.insert(shape).inserted else { return }
        FileHandle.standardError.write(Data(
            "oneDNN bf16 matmul \(shape.m)×\(shape.k)·\(shape.k)×\(shape.n): \(what); using the emulated bf16 GEMM for it\n".utf8))
    }
}
