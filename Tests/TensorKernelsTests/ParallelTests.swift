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
            let base = shared.pointer + caller * count
            Parallel.forEachRange(count, grain: 1000) { outer in
                // A nested call over this block's own indices.
                Parallel.forEachRange(outer.count, grain: 100) { inner in
                    for i in inner { base[outer.lowerBound + i] += 1 }
                }
            }
        }
        #expect((0..<(callers * count)).allSatisfy { hits[$0] == 1 })
    }
}

struct UnsafeMutableSendablePointer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Int32>
    init(_ pointer: UnsafeMutablePointer<Int32>) { self.pointer = pointer }
}
