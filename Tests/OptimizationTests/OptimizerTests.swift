import Foundation
import Testing
@testable import Model
@testable import Optimization

@Suite struct AdamWTests {
    let golden = Golden.shared.adamw

    func makeArena() -> TestArena {
        TestArena(shapes: golden.shapes.keys.sorted().map { ($0, golden.shapes[$0]!) })
    }

    @Test(arguments: [1, 2])
    func matchesTorchAdamW(threads: Int) throws {
        let arena = makeArena()
        let spans = TrainableSpans(tensors: arena.tensors.filter { !golden.frozen.contains($0.name) }, chunkSize: 4)
        let optimizer = try AdamW(spans: spans, settings: AdamWSettings(weightDecay: golden.weight_decay), threads: threads)
        let params = UnsafeMutableBufferPointer<Float>.allocate(capacity: arena.count)
        let grads = UnsafeMutableBufferPointer<Float>.allocate(capacity: arena.count)
        defer { params.deallocate(); grads.deallocate() }
        params.initialize(repeating: 0)
        arena.write(golden.initial, into: params)

        for (index, step) in golden.steps.enumerated() {
            // Frozen tensors get a gradient in the arena; the optimiser must ignore it.
            grads.initialize(repeating: 7)
            arena.write(step.gradients, into: grads)
            optimizer.update(parameters: params, gradients: UnsafeBufferPointer(grads), learningRate: step.lr)
            #expect(optimizer.stepCount == index + 1)
            for (name, expected) in step.parameters {
                let got = arena.read(name, from: params)
                #expect(maxRelativeError(got, expected) < 2e-6, "step \(index + 1) \(name)")
            }
            for (name, expected) in step.exp_avg {
                let moments = try #require(optimizer.moments(of: name))
                #expect(maxRelativeError(Array(moments.first), expected) < 2e-6, "exp_avg \(name)")
                #expect(maxRelativeError(Array(moments.second), step.exp_avg_sq[name]!) < 2e-6, "exp_avg_sq \(name)")
            }
        }
        // The frozen tensor is untouched and has no optimiser state.
        for name in golden.frozen {
            #expect(arena.read(name, from: params) == golden.initial[name]!)
            #expect(optimizer.moments(of: name) == nil)
        }
        #expect(spans.elementCount == arena.tensors.filter { !golden.frozen.contains($0.name) }.map(\.count).reduce(0, +))
    }

    @Test func noDecayOnBiasAndLayerNorm() throws {
        let arena = TestArena(shapes: [("a.weight", [4]), ("a.bias", [4]), ("a.LayerNorm.weight", [4])])
        let spans = TrainableSpans(tensors: arena.tensors)
        let optimizer = try AdamW(spans: spans, settings: AdamWSettings(weightDecay: 0.5))
        let params = UnsafeMutableBufferPointer<Float>.allocate(capacity: arena.count)
        let grads = UnsafeMutableBufferPointer<Float>.allocate(capacity: arena.count)
        defer { params.deallocate(); grads.deallocate() }
        params.initialize(repeating: 1)
        grads.initialize(repeating: 0)
        // With zero gradients only the decay moves a parameter: p ← p·(1 − lr·wd).
        optimizer.update(parameters: params, gradients: UnsafeBufferPointer(grads), learningRate: 0.1)
        #expect(arena.read("a.weight", from: params) == [Float](repeating: Float(1 - 0.1 * 0.5), count: 4))
        #expect(arena.read("a.bias", from: params) == [1, 1, 1, 1])
        #expect(arena.read("a.LayerNorm.weight", from: params) == [1, 1, 1, 1])
    }
}

@Suite struct ClippingTests {
    let golden = Golden.shared.clipping

    @Test(arguments: [1, 2])
    func matchesTorchClipGradNorm(threads: Int) {
        let names = golden.gradients.keys.sorted()
        let arena = TestArena(shapes: names.map { ($0, [golden.gradients[$0]!.count]) })
        let spans = TrainableSpans(tensors: arena.tensors, chunkSize: 3)
        let grads = UnsafeMutableBufferPointer<Float>.allocate(capacity: arena.count)
        defer { grads.deallocate() }
        grads.initialize(repeating: 0)
        arena.write(golden.gradients, into: grads)
        let clipping = GradientClipping.factor(
            of: UnsafeBufferPointer(grads), spans: spans, maxNorm: golden.max_norm, threads: threads)
        #expect(abs(clipping.norm - golden.norm) / golden.norm < 1e-6)
        #expect(clipping.factor < 1, "the golden gradient exceeds max_norm")
        for name in names {
            let scaled = arena.read(name, from: grads).map { $0 * clipping.factor }
            #expect(maxRelativeError(scaled, golden.clipped[name]!) < 1e-5, "\(name)")
        }
        // Within the limit the factor is exactly 1.
        let loose = GradientClipping.factor(
            of: UnsafeBufferPointer(grads), spans: spans, maxNorm: 2 * golden.norm, threads: threads)
        #expect(loose.factor == 1)
        #expect(GradientClipping.factor(of: UnsafeBufferPointer(grads), spans: spans, maxNorm: nil, threads: threads).factor == 1)
    }

    /// The optimizer applying clipping's factor as it reads each gradient gives, bit for bit, the step on
    /// gradients scaled in place first (torch's clip_grad_norm_ then step), and leaves the gradients as they were.
    @Test func scaledUpdateEqualsUpdateOnClippedGradients() throws {
        let arena = TestArena(shapes: [("a.weight", [1000]), ("a.bias", [37])])
        let spans = TrainableSpans(tensors: arena.tensors, chunkSize: 64)
        let fused = try AdamW(spans: spans), separate = try AdamW(spans: spans)
        let p1 = UnsafeMutableBufferPointer<Float>.allocate(capacity: arena.count)
        let p2 = UnsafeMutableBufferPointer<Float>.allocate(capacity: arena.count)
        let grads = UnsafeMutableBufferPointer<Float>.allocate(capacity: arena.count)
        let clipped = UnsafeMutableBufferPointer<Float>.allocate(capacity: arena.count)
        defer { p1.deallocate(); p2.deallocate(); grads.deallocate(); clipped.deallocate() }
        for i in 0..<arena.count { p1[i] = cos(Float(i)); p2[i] = p1[i] }
        for step in 1...3 {
            for i in 0..<arena.count { grads[i] = 3 * sin(Float(i * step)) }
            let clipping = GradientClipping.factor(of: UnsafeBufferPointer(grads), spans: spans, maxNorm: 1, threads: 2)
            #expect(clipping.factor < 1)
            let before = Array(grads)
            fused.update(parameters: p1, gradients: UnsafeBufferPointer(grads), gradientScale: clipping.factor, learningRate: 1e-2)
            #expect(Array(grads) == before, "the gradients are left unscaled")
            _ = clipped.initialize(from: grads)
            GradientClipping.scale(clipped, by: clipping.factor, spans: spans, threads: 2)
            separate.update(parameters: p2, gradients: UnsafeBufferPointer(clipped), learningRate: 1e-2)
            #expect(Array(p1) == Array(p2), "step \(step)")
        }
    }

    @Test func normIsIndependentOfThreadCount() {
        let arena = TestArena(shapes: [("w", [100_003])])
        let spans = TrainableSpans(tensors: arena.tensors, chunkSize: 1000)
        let grads = UnsafeMutableBufferPointer<Float>.allocate(capacity: arena.count)
        defer { grads.deallocate() }
        for i in 0..<arena.count { grads[i] = sin(Float(i)) }
        let one = GradientClipping.globalNorm(of: UnsafeBufferPointer(grads), spans: spans, threads: 1)
        let two = GradientClipping.globalNorm(of: UnsafeBufferPointer(grads), spans: spans, threads: 2)
        #expect(one == two)
        let exact = (0..<100_003).reduce(0.0) { $0 + Double(sin(Float($1)) * sin(Float($1))) }.squareRoot()
        #expect(abs(one - exact) / exact < 1e-6)
    }
}

@Suite struct ScheduleTests {
    @Test(arguments: Golden.shared.schedules.indices)
    func matchesTransformers(index: Int) throws {
        let golden = Golden.shared.schedules[index]
        let kind = try #require(ScheduleKind(rawValue: golden.kind))
        let schedule = LearningRateSchedule(kind: kind, peakRate: 1, warmupSteps: golden.warmup, totalSteps: golden.total)
        for (step, expected) in golden.rates.enumerated() {
            #expect(abs(schedule.rate(atStep: step) - expected) < 1e-12,
                    "\(golden.kind) warmup \(golden.warmup) total \(golden.total) step \(step)")
        }
    }

    @Test func warmupRatioRoundsUpAsTransformers() {
        for c in Golden.shared.warmup_ratio {
            #expect(Warmup.ratio(c.ratio).steps(totalSteps: c.total) == c.steps)
        }
    }

    @Test(arguments: [
        ("0.06", Warmup.ratio(0.06)), ("0", Warmup.ratio(0)), ("100", Warmup.steps(100)), ("1", Warmup.steps(1)),
    ])
    func parsesWarmup(text: String, expected: Warmup) {
        #expect(Warmup(parsing: text) == expected)
    }

    @Test(arguments: ["-1", "1.5", "abc", "nan", ""])
    func rejectsBadWarmup(text: String) {
        #expect(Warmup(parsing: text) == nil)
    }
}
