import Foundation
import Testing
@testable import Checkpoint
@testable import Training

/// MaskPredictor against transformers' fill-mask pipeline (golden from Scripts/fixtures/training/fill_mask.py).
@Suite struct FillMaskTests {
    struct Case: Decodable {
        struct Prediction: Decodable {
            let token: String
            let id: Int32
            let score: Double
        }
        let text: String
        let predictions: [[Prediction]]
    }

    @Test func matchesTransformersPipelineOnAnHFFolder() throws {
        let cases = try JSONDecoder().decode(
            [Case].self, from: Data(contentsOf: fixturesDirectory.appendingPathComponent("training/fill_mask.json")))
        let prepared = try ModelLoading.prepare(
            CheckpointReference.resolve(fixturesDirectory.appendingPathComponent("checkpoint/tiny-mlm")), heads: .maskedLM)
        let predictor = MaskPredictor(prepared: prepared)
        for c in cases {
            let got = try predictor.predict(c.text, topK: 5)
            try #require(got.count == c.predictions.count, "\(c.text)")
            for (ours, theirs) in zip(got, c.predictions) {
                #expect(ours.map(\.id) == theirs.map(\.id), "\(c.text)")
                #expect(ours.map(\.token) == theirs.map(\.token))
                for (o, t) in zip(ours, theirs) {
                    #expect(abs(o.probability - t.score) < 1e-5, "\(c.text): \(o.token) \(o.probability) vs \(t.score)")
                }
            }
        }
    }
}
