/// bf16 copies of the activations one mixed-precision GEMM reads, allocated once for the largest operands:
/// two of `capacity` values, and a third of `thirdCapacity` (mixed attention's context gradient).
public final class BF16Scratch {
    public let capacity: Int, thirdCapacity: Int
    let first, second, third: UnsafeMutablePointer<UInt16>

    public init(capacity: Int, thirdCapacity: Int = 0) {
        self.capacity = max(1, capacity)
        self.thirdCapacity = max(1, thirdCapacity)
        first = .allocate(capacity: self.capacity)
        second = .allocate(capacity: self.capacity)
        third = .allocate(capacity: self.thirdCapacity)
    }

    deinit {
        first.deallocate()
        second.deallocate()
        third.deallocate()
    }

    public var byteCount: Int { (2 * capacity + thirdCapacity) * MemoryLayout<UInt16>.stride }
}

/// A mixed-precision GEMM's activation operand: in float (converted into the scratch at each use), or
/// already in bf16 (written so by the kernel that produced it).
public enum MixedOperand {
    case float(UnsafePointer<Float>)
    case bfloat16(UnsafePointer<UInt16>)

    /// The operand in bf16: itself, or its `count` values converted into `scratch`.
    func inBFloat16(count: Int, scratch: UnsafeMutablePointer<UInt16>) -> UnsafePointer<UInt16> {
        switch self {
        case .bfloat16(let values): return values
        case .float(let values):
            BFloat16.convert(values, into: scratch, count: count)
            return UnsafePointer(scratch)
        }
    }
}

/// `Linear` as PyTorch's CPU autocast runs it: GEMM operands in bf16 (weights converted by the caller
/// once per optimizer step, float activations and output gradients here, per GEMM, into `scratch`), float
/// accumulation and float outputs; bias and bias gradient in float.
public enum MixedLinear {
    public static func forward(
        input: MixedOperand, weight: UnsafePointer<UInt16>, bias: UnsafePointer<Float>?,
        output: UnsafeMutablePointer<Float>, rows: Int, inFeatures: Int, outFeatures: Int,
        scratch: BF16Scratch, gemm: any BF16Gemm
    ) {
        precondition(rows * inFeatures <= scratch.capacity, "BF16Scratch holds \(scratch.capacity), need \(rows * inFeatures)")
        if let bias { Bias.broadcastRows(bias, into: output, rows: rows, columns: outFeatures) }
        gemm.multiply(
            transposeA: false, transposeB: true, m: rows, n: outFeatures, k: inFeatures,
            a: input.inBFloat16(count: rows * inFeatures, scratch: scratch.first), lda: inFeatures, b: weight,
            ldb: inFeatures, accumulate: bias != nil, c: output, ldc: outFeatures)
    }

    /// As `Linear.backward`: `dW += dyᵀ·x` when `weightGradient` is given, `db += Σ dy`, and `dx = dy·W`
    /// (or `+=`) when `inputGradient` is given.
    public static func backward(
        outputGradient: UnsafePointer<Float>, input: MixedOperand, weight: UnsafePointer<UInt16>,
        inputGradient: UnsafeMutablePointer<Float>?, accumulateInputGradient: Bool,
        weightGradient: UnsafeMutablePointer<Float>?, biasGradient: UnsafeMutablePointer<Float>?,
        rows: Int, inFeatures: Int, outFeatures: Int, scratch: BF16Scratch, gemm: any BF16Gemm
    ) {
        precondition(
            rows * max(inFeatures, outFeatures) <= scratch.capacity,
            "BF16Scratch holds \(scratch.capacity), need \(rows * max(inFeatures, outFeatures))")
        if let biasGradient {
            Bias.accumulateColumnSums(outputGradient, rows: rows, columns: outFeatures, into: biasGradient)
        }
        guard weightGradient != nil || inputGradient != nil else { return }
        BFloat16.convert(outputGradient, into: scratch.first, count: rows * outFeatures)
        if let weightGradient {
            gemm.multiply(
                transposeA: true, transposeB: false, m: outFeatures, n: inFeatures, k: rows, a: scratch.first,
                lda: outFeatures, b: input.inBFloat16(count: rows * inFeatures, scratch: scratch.second), ldb: inFeatures,
                accumulate: true, c: weightGradient, ldc: inFeatures)
        }
        if let inputGradient {
            gemm.multiply(
                transposeA: false, transposeB: false, m: rows, n: inFeatures, k: outFeatures, a: scratch.first,
                lda: outFeatures, b: weight, ldb: inFeatures, accumulate: accumulateInputGradient, c: inputGradient,
                ldc: inFeatures)
        }
    }
}
