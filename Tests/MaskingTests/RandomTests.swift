import Testing

@testable import Masking

@Test(arguments: [0.01, 0.15, 0.5, 0.77, 1.0])
func bernoulliBitsHaveProbabilityP(probability: Double) {
    let coins = BernoulliBits(probability: probability)
    var rng = Xoshiro256StarStar(seed: 11)
    let draws = 4_000
    var ones = 0
    var perPosition = [Int](repeating: 0, count: 64)
    for _ in 0..<draws {
        let bits = coins.draw(&rng)
        ones += bits.nonzeroBitCount
        for position in 0..<64 where bits >> UInt64(position) & 1 == 1 { perPosition[position] += 1 }
    }
    let total = Double(draws * 64)
    let sigma = (probability * (1 - probability) / total).squareRoot()
    #expect(abs(Double(ones) / total - probability) <= 4 * sigma + 1e-6)
    // Every bit position, not just the total, has rate p.
    let positionSigma = (probability * (1 - probability) / Double(draws)).squareRoot()
    for count in perPosition {
        #expect(abs(Double(count) / Double(draws) - probability) <= 5 * positionSigma + 1e-6)
    }
}

@Test func batchGeneratorsDifferInEveryKeyPart() {
    func first(_ seed: UInt64, _ epoch: Int, _ batch: Int) -> UInt64 {
        var rng = Xoshiro256StarStar(seed: seed, epoch: epoch, batchIndex: batch)
        return rng.next()
    }
    let base = first(1, 2, 3)
    #expect(first(1, 2, 3) == base)
    #expect(Set([base, first(2, 2, 3), first(1, 3, 3), first(1, 2, 4), first(1, 3, 2), first(3, 2, 1)]).count == 6)
}
