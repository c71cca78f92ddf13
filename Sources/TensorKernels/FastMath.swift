/// Branch-free float `exp` and Gaussian CDF written so loops over them auto-vectorise (libm's `expf`
/// and `erff` are opaque calls). Coefficients were fitted for this project (see `erfcScaled`); accuracy
/// is checked against Double references in `FastMathTests`.
public enum FastMath {
    /// `e^x` with relative error below 2e-7 for x in [-87, 88]; inputs are clamped to that range
    /// (so `exp(-∞)` gives ~1e-38 rather than 0, harmless where it is summed with larger terms).
    @inline(__always)
    public static func exp(_ x: Float) -> Float {
        let clamped = min(max(x, -87.0), 88.0)
        // Round x·log2(e) to an integer n with the 1.5·2²³ trick; n sits in the low mantissa bits.
        let shifted = clamped * 1.442_695_04 + 12_582_912.0
        let n = shifted - 12_582_912.0
        let r = (clamped - n * 0.693_145_751_953_125) - n * 1.428_606_765_330_187_045e-6
        var p: Float = 1.0 / 5040
        p = p * r + 1.0 / 720
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        let exponent = (shifted.bitPattern &- 0x4B40_0000 &+ 127) << 23
        return p * Float(bitPattern: exponent)
    }

    /// `erfc(a)·e^(a²)` for a ≥ 1, as a degree-12 polynomial in 1/a (Chebyshev fit on a ∈ [1, 10],
    /// relative error < 3e-7 in float).
    @inline(__always)
    static func erfcScaled(_ a: Float) -> Float {
        let t = 1 / min(max(a, 1), 10)
        var p: Float = 0.050_889_395_649_152_16
        p = p * t - 0.324_257_214_223_965_7
        p = p * t + 0.865_004_272_066_999_7
        p = p * t - 1.169_185_284_375_531
        p = p * t + 0.597_163_154_030_224_1
        p = p * t + 0.574_010_016_504_631_9
        p = p * t - 1.256_036_956_254_298_3
        p = p * t + 0.908_267_581_143_267_1
        p = p * t - 0.116_894_097_230_817_15
        p = p * t - 0.263_882_757_097_033_8
        p = p * t - 0.001_780_754_572_624_932_6
        p = p * t + 0.564_288_600_993_146_6
        p = p * t - 2.377_884_242_343_864e-6
        return p
    }

    /// `erf(z)/z` for |z| ≤ 1 as a degree-6 polynomial in z² (least-squares fit, error < 2e-7).
    @inline(__always)
    static func erfOverZ(_ u: Float) -> Float {
        var p: Float = 8.006_266_462_589_332e-5
        p = p * u - 0.000_805_359_221_771_461_5
        p = p * u + 0.005_192_942_539_053_312
        p = p * u - 0.026_856_062_907_705_463
        p = p * u + 0.112_836_345_082_658_76
        p = p * u - 0.376_126_297_590_864_8
        p = p * u + 1.128_379_166_232_252_7
        return p
    }

    /// Φ(x), the standard normal CDF, and φ(x), its density. In the tails Φ comes from erfc, so it
    /// keeps its relative accuracy where `0.5·(1 + erf)` would cancel.
    @inline(__always)
    public static func gaussianCDFAndDensity(_ x: Float) -> (cdf: Float, density: Float) {
        let z = x * 0.707_106_781_186_547_5
        let u = z * z
        let e = exp(-u)
        let a = abs(z)
        let central = 0.5 + 0.5 * z * erfOverZ(u)
        let tail = 0.5 * e * erfcScaled(a)  // = 0.5·erfc(|z|)
        let cdf = a < 1 ? central : (z > 0 ? 1 - tail : tail)
        return (cdf, e * 0.398_942_280_401_432_7)
    }
}
