import SeededRandom

extension SplitMix64 {
    /// Streams for different purposes and epochs, from one user seed.
    init(seed: UInt64, stream: UInt64, epoch: Int) {
        var mixer = SplitMix64(state: seed ^ (stream &* Self.increment))
        _ = mixer.next()
        self.init(state: mixer.next() ^ UInt64(truncatingIfNeeded: epoch) &* 0xD1B5_4A32_D192_ED03)
    }

    /// Uniform in 0..<bound (multiply-shift; the bias is below 2^-50 for our sizes).
    mutating func below(_ bound: Int) -> Int {
        Int(UInt64(bound).multipliedFullWidth(by: next()).high)
    }
}
