import Foundation
import Testing

@testable import TensorKernels

@Suite struct FastMathTests {
    @Test func expIsAccurateToAFewUlpsOverItsRange() {
        var worst = 0.0
        var x: Float = -87
        while x <= 88 {
            let expected = Foundation.exp(Double(x))
            worst = max(worst, abs(Double(FastMath.exp(x)) - expected) / expected)
            x += 0.0137
        }
        #expect(worst < 3e-7, "worst relative error \(worst)")
        #expect(FastMath.exp(0) == 1)
        #expect(FastMath.exp(-Float.infinity) < 1e-37)
    }

    @Test func gaussianCDFKeepsRelativeAccuracyInBothTails() {
        var worstCDF = 0.0, worstDensity = 0.0
        var x: Float = -12
        while x <= 12 {
            let v = Double(x)
            let cdf = 0.5 * erfc(-v / 2.0.squareRoot())
            let density = Foundation.exp(-0.5 * v * v) / (2 * Double.pi).squareRoot()
            let (c, d) = FastMath.gaussianCDFAndDensity(x)
            // Relative error over its conditioning: float x²/2 alone carries ~x²·6e-8 relative error.
            let conditioning = 1 + v * v
            worstCDF = max(worstCDF, abs(Double(c) - cdf) / max(cdf, 1e-30) / conditioning)
            worstDensity = max(worstDensity, abs(Double(d) - density) / max(density, 1e-30) / conditioning)
            x += 0.00731
        }
        #expect(worstCDF < 1e-6, "Φ worst relative error \(worstCDF)")
        #expect(worstDensity < 1e-6, "φ worst relative error \(worstDensity)")
    }
}
