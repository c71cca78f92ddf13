import Foundation

/// How much faster a dense layer runs in bf16 than in fp32 on this machine, measured: `auto` picks bf16
/// only where it pays. avx512_bf16 alone does not say so: on Intel cores without AMX, `vdpbf16ps` issues
/// on one port where fp32 FMAs issue on two, and oneDNN's bf16 matmul runs at about half of sgemm.
public enum BF16Speed {
    /// The smallest measured speed-up at which `auto` picks bf16 (below it, bf16's extra conversions and
    /// rounding buy nothing).
    public static let autoMinimumSpeedup = 1.2

    /// The shape timed: MiniLM's FFN up-projection over 8 sequences of 128 tokens.
    static let rows = 1024, inFeatures = 384, outFeatures = 1536

    nonisolated(unsafe) private static var measured: [Int: Double] = [:]
    private static let lock = NSLock()

    /// fp32 time ÷ bf16 time of `MixedLinear.forward` against `Linear.forward` (activation conversion
    /// included), the fastest of 5 interleaved runs after one warm-up each, at the current
    /// `Parallel.workerCount`; measured once per thread count and process (about 0.1 s).
    public static func speedup(of gemm: any BF16Gemm) -> Double {
        lock.lock()
        defer { lock.unlock() }
        if let known = measured[Parallel.workerCount] { return known }
        let value = measure(gemm)
        measured[Parallel.workerCount] = value
        return value
    }

    private static func measure(_ gemm: any BF16Gemm) -> Double {
        var random = UInt32(0x9E37_79B9)
        func values(_ count: Int) -> [Float] {
            (0..<count).map { _ in
                random = random &* 1_664_525 &+ 1_013_904_223
                return Float(Int32(bitPattern: random >> 8) % 2001 - 1000) / 1000
            }
        }
        let input = values(rows * inFeatures), weight = values(outFeatures * inFeatures), bias = values(outFeatures)
        var weight16 = [UInt16](repeating: 0, count: weight.count)
        BFloat16.convert(weight, into: &weight16, count: weight.count)
        var output = [Float](repeating: 0, count: rows * outFeatures)
        let scratch = BF16Scratch(capacity: rows * inFeatures)
        func runFP32() {
            Linear.forward(
                input: input, weight: weight, bias: bias, output: &output, rows: rows, inFeatures: inFeatures,
                outFeatures: outFeatures)
        }
        func runBF16() {
            MixedLinear.forward(
                input: input, weight: weight16, bias: bias, output: &output, rows: rows, inFeatures: inFeatures,
                outFeatures: outFeatures, scratch: scratch, gemm: gemm)
        }
        func seconds(_ body: () -> Void) -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            return Double(DispatchTime.now().uptimeNanoseconds - start)
        }
        runFP32()
        runBF16()
        // Interleaved, so that a burst of load elsewhere slows both alike; the fastest of each counts.
        var fp32 = Double.infinity, bf16 = Double.infinity
        for _ in 0..<5 {
            fp32 = min(fp32, seconds(runFP32))
            bf16 = min(bf16, seconds(runBF16))
        }
        return fp32 / max(bf16, 1)
    }
}
