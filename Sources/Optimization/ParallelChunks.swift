import Dispatch

/// Splits `0..<count` into fixed-size chunks and runs them on up to `threads` workers.
/// The chunking does not depend on the thread count, so per-chunk reductions that are
/// summed in chunk order give bitwise-identical results at any thread count.
struct ParallelChunks: Sendable {
    let count: Int
    let chunkSize: Int

    init(count: Int, chunkSize: Int = 1 << 15) {
        self.count = count
        self.chunkSize = max(1, chunkSize)
    }

    var chunkCount: Int { (count + chunkSize - 1) / chunkSize }

    func range(ofChunk chunk: Int) -> Range<Int> {
        let start = chunk * chunkSize
        return start..<min(count, start + chunkSize)
    }

    /// Calls `body(chunkIndex, range)` for every chunk; workers take chunks round-robin.
    func run(threads: Int, _ body: (Int, Range<Int>) -> Void) {
        let chunks = chunkCount
        guard chunks > 0 else { return }
        let workers = max(1, min(threads, chunks))
        if workers == 1 {
            for c in 0..<chunks { body(c, range(ofChunk: c)) }
            return
        }
        withoutActuallyEscaping(body) { body in
            let box = UncheckedSendableBox(body)
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                var c = worker
                while c < chunks {
                    box.value(c, range(ofChunk: c))
                    c += workers
                }
            }
        }
    }
}

/// Carries a non-Sendable closure into `concurrentPerform`; callers guarantee that the
/// workers touch disjoint memory.
struct UncheckedSendableBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
