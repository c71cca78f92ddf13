import CTensorKernels

/// Vectorised `exp` and Gaussian CDF/density (C loops with AVX-512/AVX2 clones; libm's `expf` and `erff`
/// are scalar calls). The erf/erfc polynomials were fitted for this project by
/// `Scripts/codegen/fit_fastmath.py`; accuracy is checked against Double references in `FastMathTests`.
public enum FastMath {
    /// `output[i] = e^input[i]`, relative error < 3e-7 on [-87, 88]; inputs are clamped to that range.
    public static func exp(_ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, count: Int) {
        mlm_exp(input, output, count)
    }

    /// Φ(x) and φ(x) of the standard normal. In the tails Φ comes from erfc, so it keeps its relative
    /// accuracy where `0.5·(1 + erf)` would cancel.
    public static func gaussian(
        _ input: UnsafePointer<Float>, cdf: UnsafeMutablePointer<Float>, density: UnsafeMutablePointer<Float>,
        count: Int
    ) {
        mlm_gaussian(input, cdf, density, count)
    }
}
