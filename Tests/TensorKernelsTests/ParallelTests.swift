import Foundation
import Testing

@testable import TensorKernels

@Suite struct ParallelTests {
    /// Every index is visited exactly once, also with several callers at once and with nested calls
    /// (both run inline while the pool is busy).
    @Test func rangesCoverEveryIndexOnceUnderConcurrentAndNestedCalls() {
        let callers = 4, count = 100_000
        let hits = UnsafeMutablePointer<Int32>.allocate(capacity: callers * count)
        defer { hits.deallocate() }
        hits.initialize(repeating: 0, count: callers * count)
        let shared = UnsafeMutableSendablePointer(hits)
        DispatchQueue.concurrentPerform(iterations: callers) { caller in
            Parallel.forEachRange(count, grain: 1000, Outer(base: shared.pointer + caller * count))
        }
        #expect((0..<(callers * count)).allSatisfy { hits[$0] == 1 })
    }
}

/// Counts each index of its block through a nested parallel call.
private struct Outer: ParallelBody {
    let base: UnsafeMutablePointer<Int32>
    func run(_ range: Range<Int>) {
        Parallel.forEachRange(range.count, grain: 100, Inner(base: base + range.lowerBound))
    }
}

private struct Inner: ParallelBody {
    let base: UnsafeMutablePointer<Int32>
    func run(_ range: Range<Int>) { for i in range { base[i] += 1 } }
}

struct UnsafeMutableSendablePointer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Int32>
    init(_ pointer: UnsafeMutablePointer<Int32>) { self.pointer = pointer }
}
