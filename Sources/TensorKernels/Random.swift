#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// SplitMix64 finaliser: a strong 64-bit mix, used both as a sequential generator and as a
/// counter-based hash (so dropout masks are a pure function of (seed, stream, index)).
@inlinable @inline(__always)
public func mix64(_ value: UInt64) -> UInt64 {
    var z = value &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// Small deterministic generator for weight initialisation.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return mix64(state)
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

