import CTensorKernels

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// GELU with the exact error function, as HF `hidden_act: "gelu"`: `x · Φ(x)` (Φ accurate to float
/// precision, not the tanh approximation).
public enum GELU {
    public static func forward(_ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, count: Int) {
        Parallel.forEachRange(count, grain: 16_384, GELUForward(input: input, output: output))
    }

    /// A dense layer's bias and GELU in one pass: `preActivation[r, j] += bias[j]` (kept for the backward
    /// pass), then `output = GELU(preActivation)`.
    public static func forwardAddingBias(
        _ bias: UnsafePointer<Float>, to preActivation: UnsafeMutablePointer<Float>,
        into output: UnsafeMutablePointer<Float>, rows: Int, columns: Int
    ) {
        forwardAddingBias(bias, to: preActivation, output: .float(output), rows: rows, columns: columns)
    }

    /// As `forwardAddingBias(_:to:into:rows:columns:)`, the output rounded to bf16 (a mixed-precision GEMM's
    /// operand) and stored only so.
    public static func forwardAddingBias(
        _ bias: UnsafePointer<Float>, to preActivation: UnsafeMutablePointer<Float>,
        intoBFloat16 output: UnsafeMutablePointer<UInt16>, rows: Int, columns: Int
    ) {
        forwardAddingBias(bias, to: preActivation, output: .bfloat16(output), rows: rows, columns: columns)
    }

    private static func forwardAddingBias(
        _ bias: UnsafePointer<Float>, to preActivation: UnsafeMutablePointer<Float>, output: BiasGELUForward.Output,
        rows: Int, columns: Int
    ) {
        Parallel.forEachRange(
            rows, grain: max(1, 16_384 / max(1, columns)),
            BiasGELUForward(bias: bias, preActivation: preActivation, output: output, columns: columns))
    }

    /// `inputGradient = outputGradient · GELU'(input)`; may alias `outputGradient`.
    public static func backward(
        outputGradient: UnsafePointer<Float>, input: UnsafePointer<Float>,
        inputGradient: UnsafeMutablePointer<Float>, count: Int
    ) {
        Parallel.forEachRange(
            count, grain: 16_384,
            GELUBackward(outputGradient: outputGradient, input: input, inputGradient: inputGradient))
    }
}

private struct GELUForward: ParallelBody {
    let input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>
    func run(_ r: Range<Int>) { mlm_gelu_forward(input + r.lowerBound, output + r.lowerBound, r.count) }
}

private struct BiasGELUForward: ParallelBody {
    enum Output {
        case float(UnsafeMutablePointer<Float>)
        case bfloat16(UnsafeMutablePointer<UInt16>)
    }
    let bias: UnsafePointer<Float>, preActivation: UnsafeMutablePointer<Float>, output: Output
    let columns: Int
    func run(_ r: Range<Int>) {
        let first = r.lowerBound * columns
        switch output {
        case .float(let y): mlm_bias_gelu_forward(preActivation + first, bias, y + first, r.count, columns)
        case .bfloat16(let y): mlm_bias_gelu_forward_bf16(preActivation + first, bias, y + first, r.count, columns)
        }
    }
}

private struct GELUBackward: ParallelBody {
    let outputGradient: UnsafePointer<Float>, input: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>
    func run(_ r: Range<Int>) {
        mlm_gelu_backward(outputGradient + r.lowerBound, input + r.lowerBound, inputGradient + r.lowerBound, r.count)
    }
}

/// Hyperbolic tangent (the BERT pooler activation).
public enum Tanh {
    public static func forward(_ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { output[i] = tanhf(input[i]) }
    }

    /// `inputGradient = outputGradient · (1 − y²)` from the saved output `y`.
    public static func backward(
        outputGradient: UnsafePointer<Float>, output: UnsafePointer<Float>,
        inputGradient: UnsafeMutablePointer<Float>, count: Int
    ) {
        for i in 0..<count { inputGradient[i] = outputGradient[i] * (1 - output[i] * output[i]) }
    }
}
