import Foundation
@testable import Model
@testable import Optimization

/// Reads `Tests/Fixtures/training/golden.json`, written by `Scripts/fixtures/training/generate.py`.
struct Golden: Decodable {
    struct AdamWCase: Decodable {
        struct Step: Decodable {
            let lr: Double
            let gradients: [String: [Float]]
            let parameters: [String: [Float]]
            let exp_avg: [String: [Float]]
            let exp_avg_sq: [String: [Float]]
        }
        let shapes: [String: [Int]]
        let frozen: [String]
        let weight_decay: Double
        let initial: [String: [Float]]
        let steps: [Step]
    }
    struct ClippingCase: Decodable {
        let max_norm: Double
        let gradients: [String: [Float]]
        let norm: Double
        let clipped: [String: [Float]]
    }
    struct ScheduleCase: Decodable {
        let kind: String
        let warmup: Int
        let total: Int
        let rates: [Double]
    }
    struct WarmupRatioCase: Decodable {
        let total: Int
        let ratio: Double
        let steps: Int
    }
    let adamw: AdamWCase
    let clipping: ClippingCase
    let schedules: [ScheduleCase]
    let warmup_ratio: [WarmupRatioCase]

    static let shared: Golden = {
        let url = fixturesDirectory.appendingPathComponent("training/golden.json")
        do {
            return try JSONDecoder().decode(Golden.self, from: Data(contentsOf: url))
        } catch {
            fatalError("cannot read \(url.path): \(error) — run Scripts/fixtures/training/generate.py")
        }
    }()
}

let fixturesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures")

/// An arena holding named tensors in a fixed order, with 16-float alignment like `ParameterLayout`.
struct TestArena {
    let tensors: [ParameterTensor]
    let count: Int

    init(shapes: [(String, [Int])]) {
        var offset = 0
        var list: [ParameterTensor] = []
        for (name, shape) in shapes {
            list.append(ParameterTensor(name: name, shape: shape, offset: offset))
            offset += (shape.reduce(1, *) + 15) / 16 * 16
        }
        tensors = list
        count = offset
    }

    func tensor(_ name: String) -> ParameterTensor { tensors.first { $0.name == name }! }

    func write(_ values: [String: [Float]], into buffer: UnsafeMutableBufferPointer<Float>) {
        for (name, v) in values {
            let t = tensor(name)
            for i in 0..<v.count { buffer[t.offset + i] = v[i] }
        }
    }

    func read(_ name: String, from buffer: UnsafeMutableBufferPointer<Float>) -> [Float] {
        let t = tensor(name)
        return Array(buffer[t.offset..<t.offset + t.count])
    }
}

/// Largest error relative to each expected value; values far below the tensor's scale (results
/// of cancellation) are compared relative to 1% of that scale instead.
func maxRelativeError(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    let floor = max(1e-6, 0.01 * (b.map { abs($0) }.max() ?? 0))
    var worst: Float = 0
    for (x, y) in zip(a, b) {
        worst = max(worst, abs(x - y) / max(floor, abs(y)))
    }
    return worst
}
