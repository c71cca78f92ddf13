#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// GELU with the exact error function, as HF `hidden_act: "gelu"`: `x · Φ(x)`.
public enum GELU {
    public static func forward(_ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, count: Int) {
        Parallel.forEachRange(count, grain: 16_384) { range in
            for i in range {
                let x = input[i]
                output[i] = 0.5 * x * (1 + erff(x * 0.707_106_781_186_547_5))
            }
        }
    }

    /// `inputGradient = outputGradient · GELU'(input)`; may alias `outputGradient`.
    public static func backward(
        outputGradient: UnsafePointer<Float>, input: UnsafePointer<Float>,
        inputGradient: UnsafeMutablePointer<Float>, count: Int
    ) {
        Parallel.forEachRange(count, grain: 16_384) { range in
            for i in range {
                let x = input[i]
                let cdf = 0.5 * (1 + erff(x * 0.707_106_781_186_547_5))
                let pdf = expf(-0.5 * x * x) * 0.398_942_280_401_432_7
                inputGradient[i] = outputGradient[i] * (cdf + x * pdf)
            }
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
