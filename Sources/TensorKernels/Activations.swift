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
        Parallel.forEachRange(count, grain: 16_384) { range in
            mlm_gelu_forward(input + range.lowerBound, output + range.lowerBound, range.count)
        }
    }

    /// `inputGradient = outputGradient · GELU'(input)`; may alias `outputGradient`.
    public static func backward(
        outputGradient: UnsafePointer<Float>, input: UnsafePointer<Float>,
        inputGradient: UnsafeMutablePointer<Float>, count: Int
    ) {
        Parallel.forEachRange(count, grain: 16_384) { range in
            mlm_gelu_backward(
                outputGradient + range.lowerBound, input + range.lowerBound, inputGradient + range.lowerBound,
                range.count)
        }
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
