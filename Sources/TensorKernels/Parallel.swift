import CTensorKernels
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The work of one parallel kernel call over a range of indices. Kernels pass small structs of
/// pointers rather than closures: handing a closure to other threads needs `withoutActuallyEscaping`,
/// which heap-allocates on every call, while a struct is passed by pointer and allocates nothing.
public protocol ParallelBody {
    func run(_ range: Range<Int>)
}

/// Splits kernel work into a few large contiguous blocks, one per core, on a persistent thread pool.
/// Unlike `DispatchQueue.concurrentPerform` (which boxes the closure as a block and allocates per call),
/// a parallel call here allocates nothing, so a training step stays allocation-free.
public enum Parallel {
    /// Threads for every TensorKernels kernel, GEMMs included (OpenBLAS itself runs single-threaded and
    /// `Gemm` splits products over these workers); defaults to the active core count.
    nonisolated(unsafe) public static var workerCount = max(1, ProcessInfo.processInfo.activeProcessorCount)

    private static let pool = WorkerPool(threads: max(1, ProcessInfo.processInfo.activeProcessorCount) - 1)

    /// Calls `body` on disjoint ranges covering `0..<count`; a range holds at least `grain` items
    /// (except when `count < grain`), so tiny loops stay on the calling thread. At most `workers`
    /// ranges run at once (default `workerCount`).
    @inline(__always)
    public static func forEachRange<Body: ParallelBody>(
        _ count: Int, grain: Int, workers: Int = workerCount, _ body: Body
    ) {
        guard count > 0 else { return }
        let blocks = max(1, min(workers, count / max(1, grain)))
        if blocks == 1 {
            body.run(0..<count)
            return
        }
        withUnsafePointer(to: body) { pointer in
            pool.run(BlockTask(body: pointer, count: count, blocks: blocks))
        }
    }

    /// Row grain so that one block touches at least ~32K floats.
    @inline(__always)
    public static func rowGrain(columns: Int) -> Int { max(1, 32_768 / max(1, columns)) }
}

/// Task `i` of a job: block `i` of `blocks` equal ranges over `0..<count`. Three words, so it sits in an
/// existential's inline buffer without a heap box.
protocol PoolTask {
    var taskCount: Int { get }
    func run(task: Int)
}

struct BlockTask<Body: ParallelBody>: PoolTask {
    let body: UnsafePointer<Body>
    let count: Int
    let blocks: Int
    var taskCount: Int { blocks }
    func run(task: Int) { body.pointee.run((count * task / blocks)..<(count * (task + 1) / blocks)) }
}

/// A fixed set of threads that run the tasks of one job at a time; the calling thread takes tasks too.
/// A job submitted while another runs (another thread calling in, or a nested call) runs inline.
/// Waiting threads spin briefly on atomic copies of `generation` and `unfinished` before they sleep on the
/// condition variables: kernels follow each other microseconds apart, and a futex wake costs more.
final class WorkerPool: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let finished = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// Atomic copies of `generation` and `unfinished`, written under `mutex`, read while spinning.
    private let published = UnsafeMutablePointer<Int>.allocate(capacity: 2)
    private static let spinRounds = 1_000
    // Guarded by `mutex`.
    private var job: (any PoolTask)?
    private var generation = 0
    private var nextTask = 0
    private var taskCount = 0
    private var unfinished = 0
    private var busy = false

    init(threads: Int) {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wake, nil)
        pthread_cond_init(finished, nil)
        published.initialize(repeating: 0, count: 2)
        for _ in 0..<threads {
            var thread = pthread_t()
            let context = Unmanaged.passRetained(self).toOpaque()
            let status = pthread_create(&thread, nil, { context in
                guard let context else { return nil }
                Unmanaged<WorkerPool>.fromOpaque(context).takeRetainedValue().workerLoop()
                return nil
            }, context)
            if status == 0 { pthread_detach(thread) } else { Unmanaged<WorkerPool>.fromOpaque(context).release() }
        }
    }

    func run(_ task: some PoolTask) {
        let tasks = task.taskCount
        pthread_mutex_lock(mutex)
        if busy {
            pthread_mutex_unlock(mutex)
            for index in 0..<tasks { task.run(task: index) }
            return
        }
        busy = true
        job = task
        taskCount = tasks
        nextTask = 0
        unfinished = tasks
        mlm_atomic_store(published + 1, tasks)
        generation &+= 1
        mlm_atomic_store(published, generation)
        pthread_cond_broadcast(wake)
        pthread_mutex_unlock(mutex)
        takeTasks()
        _ = mlm_spin_wait(published + 1, 0, 1, Self.spinRounds)
        pthread_mutex_lock(mutex)
        while unfinished > 0 { pthread_cond_wait(finished, mutex) }
        job = nil
        busy = false
        pthread_mutex_unlock(mutex)
    }

    private func takeTasks() {
        while true {
            pthread_mutex_lock(mutex)
            guard nextTask < taskCount, let work = job else {
                pthread_mutex_unlock(mutex)
                return
            }
            let task = nextTask
            nextTask += 1
            pthread_mutex_unlock(mutex)
            work.run(task: task)
            pthread_mutex_lock(mutex)
            unfinished -= 1
            mlm_atomic_store(published + 1, unfinished)
            if unfinished == 0 { pthread_cond_signal(finished) }
            pthread_mutex_unlock(mutex)
        }
    }

    private func workerLoop() {
        var seen = 0
        while true {
            _ = mlm_spin_wait(published, seen, 0, Self.spinRounds)
            pthread_mutex_lock(mutex)
            while generation == seen { pthread_cond_wait(wake, mutex) }
            seen = generation
            pthread_mutex_unlock(mutex)
            takeTasks()
        }
    }
}
