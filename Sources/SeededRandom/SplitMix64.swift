#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// SplitMix64 (Steele, Lea & Flood; Vigna's reference `splitmix64.c`): the project's one seeded
/// generator. One UInt64 of state, so a corpus cursor can store it exactly, and the same stream on
/// every platform.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    /// Added to the state before every draw (2^64 / φ).
    public static let increment: UInt64 = 0x9E37_79B9_7F4A_7C15

    public var state: UInt64

    /// The reference stream: the first draw is `mix64(state)`. Corpus order, shuffles, masking
    /// seeds and the benchmarks' subsamples use this one.
    public init(state: UInt64) { self.state = state }

    /// The stream of `SplitMix64(state: seed)` after its first draw: the first draw is
    /// `mix64(seed + increment)`. Weight initialisation, test data and the fine-tuning order use
    /// this one; it is kept so their existing seeds give the same values.
    public init(afterOneDrawFrom seed: UInt64) { state = seed &+ Self.increment }

    @inlinable @inline(__always)
    public mutating func next() -> UInt64 {
        let value = mix64(state)
        state &+= Self.increment
        return value
    }

    /// Uniform in (0, 1].
    public mutating func nextUnitInterval() -> Double {
        Double((next() >> 11) + 1) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Standard normal (Box–Muller).
    public mutating func nextGaussian() -> Double {
        let u = nextUnitInterval(), v = nextUnitInterval()
        return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * v)
    }
}

/// The SplitMix64 output function of `value + increment`: a strong 64-bit mix, used both by the
/// generator and as a counter-based hash (dropout masks are a pure function of (seed, stream,
/// index); `CTensorKernels` has the same function in C).
@inlinable @inline(__always)
public func mix64(_ value: UInt64) -> UInt64 {
    var z = value &+ SplitMix64.increment
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}
