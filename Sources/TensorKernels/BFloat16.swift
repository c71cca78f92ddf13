import CTensorKernels

/// bfloat16 storage: the top 16 bits of a float (8-bit exponent, 7-bit mantissa).
public enum BFloat16 {
    /// Round-to-nearest-even, as PyTorch's `.to(torch.bfloat16)` does; NaN stays NaN.
    public static func convert(_ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<UInt16>, count: Int) {
        Parallel.forEachRange(count, grain: 65_536, ToBFloat16(input: input, output: output))
    }

    /// Exact widening back to float.
    public static func widen(_ input: UnsafePointer<UInt16>, into output: UnsafeMutablePointer<Float>, count: Int) {
        Parallel.forEachRange(count, grain: 65_536, FromBFloat16(input: input, output: output))
    }
}

private struct ToBFloat16: ParallelBody {
    let input: UnsafePointer<Float>, output: UnsafeMutablePointer<UInt16>
    func run(_ r: Range<Int>) { mlm_float_to_bf16(input + r.lowerBound, output + r.lowerBound, r.count) }
}

private struct FromBFloat16: ParallelBody {
    let input: UnsafePointer<UInt16>, output: UnsafeMutablePointer<Float>
    func run(_ r: Range<Int>) { mlm_bf16_to_float(input + r.lowerBound, output + r.lowerBound, r.count) }
}
