import Testing

@testable import SeededRandom

@Suite struct SplitMix64Tests {
    /// The published outputs of Vigna's reference `splitmix64.c` for these seeds.
    @Test(arguments: [
        (UInt64(0), [UInt64(0xE220_A839_7B1D_CDAF), 0x6E78_9E6A_A1B9_65F4, 0x06C4_5D18_8009_454F]),
        (UInt64(1_234_567), [UInt64(6_457_827_717_110_365_317), 3_203_168_211_198_807_973, 9_817_491_932_198_370_423]),
    ])
    func stateStreamIsTheReferenceSequence(seed: UInt64, expected: [UInt64]) {
        var generator = SplitMix64(state: seed)
        #expect((0..<expected.count).map { _ in generator.next() } == expected)
    }

    /// The second stream is the first one minus its first draw, draw for draw.
    @Test(arguments: [UInt64(0), 7, 1_234_567, .max])
    func afterOneDrawIsTheStateStreamShiftedByOne(seed: UInt64) {
        var reference = SplitMix64(state: seed)
        _ = reference.next()
        var shifted = SplitMix64(afterOneDrawFrom: seed)
        for _ in 0..<100 { #expect(shifted.next() == reference.next()) }
        #expect(shifted.state == reference.state)
    }

    @Test func mix64IsTheOutputOfTheNextState() {
        var generator = SplitMix64(state: 42)
        #expect(generator.next() == mix64(42))
    }

    @Test func unitIntervalAndGaussianHaveTheirMoments() {
        var generator = SplitMix64(afterOneDrawFrom: 3)
        let count = 20_000
        let uniforms = (0..<count).map { _ in generator.nextUnitInterval() }
        #expect(uniforms.allSatisfy { $0 > 0 && $0 <= 1 })
        // Mean 1/2 with sd 1/√(12n) ≈ 0.002.
        #expect(abs(uniforms.reduce(0, +) / Double(count) - 0.5) < 0.01)
        let normals = (0..<count).map { _ in generator.nextGaussian() }
        let mean = normals.reduce(0, +) / Double(count)
        let variance = normals.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(count - 1)
        #expect(abs(mean) < 0.04)
        #expect(abs(variance - 1) < 0.05)
    }
}
