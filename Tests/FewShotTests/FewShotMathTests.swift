import Classification
import Foundation
import SeededRandom
import Testing

@testable import FewShot

@Suite struct PairGenerationTests {
    @Test(arguments: [(labels: [0, 0, 1, 1, 2, 2], iterations: 20), (labels: [0, 1, 0, 1, 1, 0, 0, 1], iterations: 3),
                      (labels: [0, 0, 0, 1, 1], iterations: 1)])
    func countsKindsAndBalance(labels raw: [Int], iterations: Int) throws {
        let labels = raw.map(Int32.init)
        let pairs = try ContrastivePairs.generate(labels: labels, iterations: iterations, seed: 9)
        let n = labels.count
        #expect(pairs.count == 2 * iterations * n)
        // Interleaved positive, negative, …; each target matches the classes.
        for (k, pair) in pairs.enumerated() {
            #expect(pair.target == (k % 2 == 0 ? 1 : 0))
            #expect((labels[pair.first] == labels[pair.second]) == (pair.target == 1))
            #expect(pair.first <= pair.second)
        }
        // Every combination of a kind occurs, each as often as any other of its kind give or take one
        // (setfit cycles through its shuffled list of unique pairs).
        var counts: [[Int]: Int] = [:]
        for pair in pairs { counts[[pair.first, pair.second], default: 0] += 1 }
        for same in [true, false] {
            let all = (0..<n).flatMap { i in (i..<n).map { [i, $0] } }.filter { (labels[$0[0]] == labels[$0[1]]) == same }
            let seen = all.map { counts[$0, default: 0] }
            let quota = iterations * n
            if quota >= all.count { #expect(seen.min()! >= 1) }
            #expect(seen.max()! - seen.min()! <= 1)
            #expect(seen.reduce(0, +) == quota)
        }
    }

    @Test func seededAndDifferentAcrossSeeds() throws {
        let labels: [Int32] = [0, 0, 1, 1, 2, 2, 0, 1]
        let a = try ContrastivePairs.generate(labels: labels, iterations: 2, seed: 1)
        #expect(try a == ContrastivePairs.generate(labels: labels, iterations: 2, seed: 1))
        #expect(try a != ContrastivePairs.generate(labels: labels, iterations: 2, seed: 2))
    }

    /// `--num-iterations` sizes the pair list: one no memory holds is refused by name, before any pair is made.
    @Test(arguments: [1_000_000_000_000, Int.max]) func iterationsNoMemoryHoldsAreRefused(iterations: Int) {
        #expect {
            _ = try ContrastivePairs.generate(labels: [0, 1, 0, 1], iterations: iterations, seed: 1)
        } throws: { error in
            "\(error)".contains("--num-iterations \(iterations) × 4 train examples") && "\(error)".contains("lower --num-iterations")
        }
    }

    @Test func largeSetsDrawOnlyWhatTheQuotaNeeds() throws {
        // 3,000 examples: 4.5 million combinations, of which only 2 · 3,000 are drawn.
        let labels = (0..<3000).map { Int32($0 % 3) }
        let pairs = try ContrastivePairs.generate(labels: labels, iterations: 1, seed: 5)
        #expect(pairs.count == 6000)
        #expect(Set(pairs.map { [$0.first, $0.second] }).count == 6000)
    }

    @Test func combinationIndexing() {
        let n = 7
        var k = 0
        for i in 0..<n { for j in i..<n { #expect(ContrastivePairs.combination(k, n: n) == (i, j)); k += 1 } }
    }

    @Test func samplingLikeSetFitAndItsErrors() throws {
        let examples = (0..<30).map { TextExample(text: "text \($0)", label: ["a", "b", "c"][$0 % 3], line: $0 + 2) }
        let sample = try FewShotData.sample(examples, perClass: 4, seed: 3, path: "train.tsv")
        #expect(sample.count == 12)
        for label in ["a", "b", "c"] { #expect(sample.count { $0.label == label } == 4) }
        #expect(sample.map(\.line) == sample.map(\.line).sorted())
        #expect(try FewShotData.sample(examples, perClass: 4, seed: 3, path: "x") == sample)
        #expect(try FewShotData.sample(examples, perClass: 4, seed: 4, path: "x") != sample)
        #expect(throws: FewShotError("train.tsv: --samples-per-class 11 is larger than class 'a', which has 10 examples")) {
            try FewShotData.sample(examples, perClass: 11, seed: 3, path: "train.tsv")
        }
    }
}

@Suite struct CosineSimilarityLossTests {
    @Test func gradientMatchesFiniteDifferences() {
        var generator = SplitMix64(state: 4)
        let p = 3, h = 5
        var embeddings = (0..<(2 * p * h)).map { _ in Float(generator.nextGaussian()) }
        let targets: [Float] = [1, 0, 1]
        var gradient = [Float](repeating: 0, count: embeddings.count)
        func loss(_ e: [Float]) -> Double {
            var scratch = [Float](repeating: 0, count: e.count)
            return e.withUnsafeBufferPointer { CosineSimilarityLoss.lossAndGradient(embeddings: $0.baseAddress!, targets: targets, dimension: h, gradient: &scratch) }
        }
        let value = embeddings.withUnsafeBufferPointer {
            CosineSimilarityLoss.lossAndGradient(embeddings: $0.baseAddress!, targets: targets, dimension: h, gradient: &gradient)
        }
        // The loss by its definition: mean (cos − target)².
        var expected = 0.0
        func dot(_ a: Int, _ b: Int) -> Double {
            (0..<h).reduce(0.0) { $0 + Double(embeddings[a * h + $1]) * Double(embeddings[b * h + $1]) }
        }
        for pair in 0..<p {
            let cos = dot(pair, p + pair) / (dot(pair, pair) * dot(p + pair, p + pair)).squareRoot()
            let error = cos - Double(targets[pair])
            expected += error * error / Double(p)
        }
        #expect(abs(value - expected) < 1e-6)
        let step: Float = 1e-2
        for i in embeddings.indices {
            let saved = embeddings[i]
            embeddings[i] = saved + step
            let plus = loss(embeddings)
            embeddings[i] = saved - step
            let minus = loss(embeddings)
            embeddings[i] = saved
            let numeric = (plus - minus) / Double(2 * step)
            #expect(abs(numeric - Double(gradient[i])) < 2e-4 + 1e-3 * abs(numeric), "component \(i): \(numeric) vs \(gradient[i])")
        }
    }
}

@Suite struct LogisticRegressionTests {
    @Test(arguments: ["binary", "multiclass"])
    func matchesScikitLearn(name: String) throws {
        let golden = try Fixtures.json("logistic.json")
        let cases = try #require(golden["cases"] as? [[String: Any]])
        let data = try #require(cases.first { $0["name"] as? String == name })
        let classes = try #require(data["classes"] as? Int), d = try #require(data["dimension"] as? Int)
        let features = try #require(data["features"] as? [Double]).map(Float.init)
        let labels = try #require(data["labels"] as? [Int]).map(Int32.init)
        let model = try LogisticRegression.fit(features: features, labels: labels, classes: classes, dimension: d)
        #expect(model.converged)
        let coef = try #require(data["coef"] as? [Double]), intercept = try #require(data["intercept"] as? [Double])
        #expect(model.coefficients.count == coef.count)
        for (ours, theirs) in zip(model.coefficients, coef) { #expect(abs(ours - theirs) < 1e-5 * max(1, abs(theirs)), "\(ours) vs \(theirs)") }
        // Multinomial intercepts are defined up to a common shift (unpenalised): compare them centred.
        let shift = classes == 2 ? 0 : intercept.reduce(0, +) / Double(classes)
        #expect(abs(model.intercepts.reduce(0, +)) < 1e-9 || classes == 2)
        for (ours, theirs) in zip(model.intercepts, intercept) { #expect(abs(ours - (theirs - shift)) < 1e-5 * max(1, abs(theirs))) }
        let probabilities = try #require(data["probabilities"] as? [Double])
        features.withUnsafeBufferPointer { x in
            for row in 0..<labels.count {
                let p = model.probabilities(x.baseAddress! + row * d)
                for c in 0..<classes { #expect(abs(p[c] - probabilities[row * classes + c]) < 1e-6) }
            }
        }
        // The softmax form stored in a checkpoint gives the same probabilities.
        let (w, b) = model.softmaxWeights
        for row in 0..<labels.count {
            let logits: [Double] = (0..<classes).map { c in
                var z = Double(b[c])
                for i in 0..<d { z += Double(w[c * d + i]) * Double(features[row * d + i]) }
                return z
            }
            let top = logits.max()!
            let sum = logits.map { exp($0 - top) }.reduce(0, +)
            for c in 0..<classes { #expect(abs(exp(logits[c] - top) / sum - probabilities[row * classes + c]) < 1e-5) }
        }
    }
}
