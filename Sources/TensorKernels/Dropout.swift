/// Inverted dropout whose keep/drop decision for element `i` is a hash of (seed, stream, i):
/// reproducible, independent of thread scheduling, and recomputable in the backward pass
/// without storing a mask.
public struct DropoutMask: Sendable {
    public let probability: Float
    public let scale: Float
    private let key: UInt64
    private let threshold: UInt32

    /// `stream` distinguishes dropout sites (layer, position in the layer) within one step.
    public init(probability: Float, seed: UInt64, stream: UInt64) {
        let p = min(max(probability, 0), 0.999_999)
        self.probability = p
        self.scale = p > 0 ? 1 / (1 - p) : 1
        self.key = mix64(seed ^ mix64(stream &* 0xD1B5_4A32_D192_ED03))
        self.threshold = UInt32(min(Double(p) * 4_294_967_296.0, 4_294_967_295.0))
    }

    public var isActive: Bool { probability > 0 }

    /// The factor element `index` is multiplied by: 0 or `scale`.
    @inline(__always)
    public func factor(_ index: Int) -> Float {
        UInt32(truncatingIfNeeded: mix64(key &+ UInt64(index)) >> 32) >= threshold ? scale : 0
    }

    /// `values[i] *= factor(offset + i)`, in place. Used for both directions.
    public func apply(_ values: UnsafeMutablePointer<Float>, count: Int, offset: Int = 0) {
        guard isActive else { return }
        Parallel.forEachRange(count, grain: 32_768) { range in
            for i in range { values[i] *= factor(offset + i) }
        }
    }

    /// `output[i] = input[i] · factor(i)`.
    public func apply(_ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, count: Int) {
        guard isActive else {
            output.update(from: input, count: count)
            return
        }
        Parallel.forEachRange(count, grain: 32_768) { range in
            for i in range { output[i] = input[i] * factor(i) }
        }
    }
}
