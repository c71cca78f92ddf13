import Foundation

/// Splits elementwise work into a few large contiguous blocks, one per core.
public enum Parallel {
    /// Number of workers for non-BLAS kernels; defaults to the active core count.
    nonisolated(unsafe) public static var workerCount = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Calls `body` on disjoint ranges covering `0..<count`; a range holds at least `grain` items
    /// (except when `count < grain`), so tiny loops stay on the calling thread.
    @inline(__always)
    public static func forEachRange(_ count: Int, grain: Int, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let blocks = min(workerCount, max(1, count / max(1, grain)))
        if blocks == 1 {
            body(0..<count)
            return
        }
        // The kernels' closures capture raw pointers to disjoint ranges, which is safe but not
        // expressible as Sendable; the closure does not escape concurrentPerform.
        withoutActuallyEscaping(body) { body in
            let shared = unsafeBitCast(body, to: (@Sendable (Range<Int>) -> Void).self)
            DispatchQueue.concurrentPerform(iterations: blocks) { block in
                shared((count * block / blocks)..<(count * (block + 1) / blocks))
            }
        }
    }

    /// Row grain so that one block touches at least ~32K floats.
    @inline(__always)
    public static func rowGrain(columns: Int) -> Int { max(1, 32_768 / max(1, columns)) }
}
