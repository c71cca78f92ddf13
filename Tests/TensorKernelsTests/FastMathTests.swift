import Foundation
import Testing

@testable import TensorKernels

@Suite struct FastMathTests {
    @Test func expIsAccurateToAFewUlpsOverItsRange() {
        let xs = stride(from: Float(-87), through: 88, by: 0.0137).map { $0 } + [0, -Float.infinity]
        var ys = [Float](repeating: 0, count: xs.count)
        FastMath.exp(xs, into: &ys, count: xs.count)
        var worst = 0.0
        for (x, y) in zip(xs, ys).dropLast(2) {
            let expected = Foundation.exp(Double(x))
            worst = max(worst, abs(Double(y) - expected) / expected)
        }
        #expect(worst < 3e-7, "worst relative error \(worst)")
        #expect(ys[ys.count - 2] == 1)
        #expect(ys[ys.count - 1] < 1e-37)
    }

    @Test func gaussianCDFKeepsRelativeAccuracyInBothTails() {
        let xs = stride(from: Float(-12), through: 12, by: 0.00731).map { $0 }
        var cdfs = [Float](repeating: 0, count: xs.count), densities = cdfs
        FastMath.gaussian(xs, cdf: &cdfs, density: &densities, count: xs.count)
        var worstCDF = 0.0, worstDensity = 0.0
        for (i, x) in xs.enumerated() {
            let v = Double(x)
            let cdf = 0.5 * erfc(-v / 2.0.squareRoot())
            let density = Foundation.exp(-0.5 * v * v) / (2 * Double.pi).squareRoot()
            let c = cdfs[i], d = densities[i]
            // Relative error over its conditioning: float x²/2 alone carries ~x²·6e-8 relative error.
            let conditioning = 1 + v * v
            worstCDF = max(worstCDF, abs(Double(c) - cdf) / max(cdf, 1e-30) / conditioning)
            worstDensity = max(worstDensity, abs(Double(d) - density) / max(density, 1e-30) / conditioning)
        }
        #expect(worstCDF < 1e-6, "Φ worst relative error \(worstCDF)")
        #expect(worstDensity < 1e-6, "φ worst relative error \(worstDensity)")
    }
}
