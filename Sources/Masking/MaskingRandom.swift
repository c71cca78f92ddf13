import SeededRandom

/// xoshiro256**: small, fast, and good enough for sampling masks. One is seeded per batch.
public struct Xoshiro256StarStar: RandomNumberGenerator, Sendable {
    private var s0, s1, s2, s3: UInt64

    public init(seed: UInt64) {
        var mixer = SplitMix64(state: seed)
        s0 = mixer.next()
        s1 = mixer.next()
        s2 = mixer.next()
        s3 = mixer.next()
    }

    /// The generator for one batch: a hash of (seed, epoch, batchIndex), so a resumed run draws the
    /// same masks without replaying earlier batches.
    public init(seed: UInt64, epoch: Int, batchIndex: Int) {
        var mixer = SplitMix64(state: seed)
        mixer.state = mixer.next() ^ UInt64(bitPattern: Int64(epoch))
        mixer.state = mixer.next() ^ UInt64(bitPattern: Int64(batchIndex))
        self.init(seed: mixer.next())
    }

    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// Uniform in `0..<bound` by multiply-high (Lemire); the bias is below bound / 2^64.
    @inline(__always)
    mutating func below(_ bound: Int) -> Int {
        Int(truncatingIfNeeded: next().multipliedFullWidth(by: UInt64(bound)).high)
    }

    /// Uniform 53-bit value, compared against `probabilityThreshold` values.
    @inline(__always)
    mutating func unit53() -> UInt64 { next() >> 11 }
}

/// `unit53() < probabilityThreshold(p)` happens with probability p (exactly 0 and 1 at the ends).
func probabilityThreshold(_ p: Double) -> UInt64 {
    UInt64((min(max(p, 0), 1) * 9_007_199_254_740_992).rounded())
}

/// 64 independent Bernoulli(p) bits at once, for p rounded to 20 binary digits (error below 1e-6).
/// Each bit compares a uniform binary fraction with p digit by digit, from the last digit up:
/// where p's digit is 1 the bit is `random | below`, where it is 0, `random & below`.
struct BernoulliBits {
    static let precision = 20
    private let digits: UInt64
    private let lowestDigit: Int

    init(probability: Double) {
        let scaled = (min(max(probability, 0), 1) * Double(1 << Self.precision)).rounded()
        digits = UInt64(scaled)
        lowestDigit = digits == 0 ? Self.precision : digits.trailingZeroBitCount
    }

    @inline(__always)
    func draw(_ rng: inout Xoshiro256StarStar) -> UInt64 {
        if digits >= 1 << Self.precision { return ~0 }
        var bits: UInt64 = 0
        var digit = lowestDigit
        while digit < Self.precision {
            let random = rng.next()
            bits = digits >> UInt64(digit) & 1 == 1 ? random | bits : random & bits
            digit += 1
        }
        return bits
    }
}
