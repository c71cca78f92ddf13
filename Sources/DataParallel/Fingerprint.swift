/// 64-bit FNV-1a fingerprints, to check cheaply that ranks hold the same settings and weights.
public enum Fingerprint {
    static let offsetBasis: UInt64 = 0xCBF2_9CE4_8422_2325
    static let prime: UInt64 = 0x0000_0100_0000_01B3

    public static func of(_ text: String) -> UInt64 {
        var hash = offsetBasis
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* prime }
        return hash
    }

    /// Of the bit patterns of `values`, two floats per step (FNV over 64-bit words rather than bytes).
    public static func of(_ values: UnsafeBufferPointer<Float>) -> UInt64 {
        var hash = offsetBasis
        guard let base = values.baseAddress else { return hash }
        let pairs = values.count / 2
        base.withMemoryRebound(to: UInt32.self, capacity: values.count) { bits in
            for i in 0..<pairs {
                hash = (hash ^ (UInt64(bits[2 * i]) | UInt64(bits[2 * i + 1]) << 32)) &* prime
            }
            if values.count % 2 == 1 { hash = (hash ^ UInt64(bits[values.count - 1])) &* prime }
        }
        return hash
    }
}
