import SeededRandom
import TensorKernels

/// Deterministic test data.
struct TestData {
    var generator: SplitMix64
    init(seed: UInt64) { generator = SplitMix64(afterOneDrawFrom: seed) }
    mutating func normal(_ count: Int, scale: Float = 1) -> [Float] {
        (0..<count).map { _ in Float(generator.nextGaussian()) * scale }
    }
}

/// Central-difference gradient of `loss` with respect to `values[index]`.
func centralDifference(_ values: inout [Float], _ index: Int, step: Float = 1e-2, _ loss: ([Float]) -> Double) -> Double {
    let original = values[index]
    values[index] = original + step
    let plus = loss(values)
    values[index] = original - step
    let minus = loss(values)
    values[index] = original
    return (plus - minus) / (2 * Double(step))
}

/// Σ weights ⊙ values in Double: a scalar loss whose gradient with respect to `values` is `weights`.
func weightedSum(_ values: [Float], _ weights: [Float]) -> Double {
    zip(values, weights).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
}

func isClose(_ a: Double, _ b: Double, absolute: Double, relative: Double) -> Bool {
    abs(a - b) <= absolute + relative * abs(b)
}
