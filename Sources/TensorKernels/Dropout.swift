import CTensorKernels
import SeededRandom

/// Inverted dropout whose keep/drop decision for element `i` is a hash of (seed, stream, i):
/// reproducible, independent of thread scheduling, and recomputable in the backward pass
/// without storing a mask.
public struct DropoutMask: Sendable {
    public let probability: Float
    public let scale: Float
    let key: UInt64
    /// Keep when a 16-bit uniform is at least this: one 64-bit hash decides four consecutive elements.
    let threshold: UInt32
    /// Element i here is element `firstIndex + i` of the whole batch: a data-parallel rank holding the
    /// rows from r on draws the decisions one process holding every row draws for them.
    public let firstIndex: Int

    /// `stream` distinguishes dropout sites (layer, position in the layer) within one step.
    public init(probability: Float, seed: UInt64, stream: UInt64, firstIndex: Int = 0) {
        let p = min(max(probability, 0), 0.999)
        self.probability = p
        self.scale = p > 0 ? 1 / (1 - p) : 1
        self.key = mix64(seed ^ mix64(stream &* 0xD1B5_4A32_D192_ED03))
        self.threshold = UInt32((Double(p) * 65_536).rounded())
        self.firstIndex = firstIndex
    }

    public var isActive: Bool { probability > 0 }

    /// The factor element `index` is multiplied by: 0 or `scale`.
    @inline(__always)
    public func factor(_ index: Int) -> Float {
        let index = firstIndex + index
        let bits = mix64(key &+ UInt64(index >> 2)) >> (UInt64(index & 3) << 4)
        return UInt32(truncatingIfNeeded: bits & 0xFFFF) >= threshold ? scale : 0
    }

    /// `output[j] = input[j] · factor(first + j)` for `j < count`, on the calling thread; may alias.
    @inline(__always)
    public func applySerial(
        _ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, count: Int, first: Int
    ) {
        mlm_dropout(input, output, count, firstIndex + first, key, threshold, scale)
    }

    /// `output[j] = bf16(input[j] · factor(first + j))` for `j < count`, on the calling thread.
    @inline(__always)
    public func applySerial(
        _ input: UnsafePointer<Float>, intoBFloat16 output: UnsafeMutablePointer<UInt16>, count: Int, first: Int
    ) {
        mlm_dropout_to_bf16(input, output, count, firstIndex + first, key, threshold, scale)
    }

    /// `values[i] *= factor(offset + i)`, in place. Used for both directions.
    public func apply(_ values: UnsafeMutablePointer<Float>, count: Int, offset: Int = 0) {
        guard isActive else { return }
        Parallel.forEachRange(count, grain: 32_768, DropoutRange(mask: self, input: values, output: values, first: offset))
    }

    /// `output[i] = input[i] · factor(i)`.
    public func apply(_ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, count: Int) {
        guard isActive else {
            output.update(from: input, count: count)
            return
        }
        Parallel.forEachRange(count, grain: 32_768, DropoutRange(mask: self, input: input, output: output, first: 0))
    }
}

private struct DropoutRange: ParallelBody {
    let mask: DropoutMask, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, first: Int
    func run(_ r: Range<Int>) {
        mask.applySerial(input + r.lowerBound, into: output + r.lowerBound, count: r.count, first: first + r.lowerBound)
    }
}
