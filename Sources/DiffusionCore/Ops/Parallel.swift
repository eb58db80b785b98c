import Dispatch
import Foundation
import Synchronization
import CDiffusionKernels
import COpenBLAS
import LoRAKit

/// The one parallel-for of the runtime: splits a range into contiguous chunks and runs them on the calling
/// thread and the helper threads of a small spinning pool (`dk_pool.c`), at most one chunk per core at a time;
/// on Dispatch's workers (`concurrentPerform`) when the pool is busy with another job.
///
/// GEMMs are issued from one thread and use OpenBLAS's own threads; element-wise work and per-row kernels go
/// through here. Work that calls GEMMs inside its chunks (tiled attention) runs them with OpenBLAS held to one
/// thread (``Parallel/withSingleThreadedBLAS(_:)``), so the two thread pools never oversubscribe the cores.
package enum Parallel {
    /// The number of worker threads used (the active processor count unless set).
    package static var workerCount: Int {
        get { configuredWorkers.withLock { $0 } }
        set { configuredWorkers.withLock { $0 = Swift.max(1, newValue) } }
    }

    private static let configuredWorkers = LockedValue(ProcessInfo.processInfo.activeProcessorCount)

    /// Runs `body` over `0..<count` in chunks of at least `grain` items; serially when one chunk suffices.
    package static func forEach(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        forEachChunk(count, chunks: chunkCount(count, grain: grain)) { _, range in body(range) }
    }

    /// How many chunks ``forEach(_:grain:_:)`` splits `count` items into: up to four per worker, so a core
    /// slowed by other work hands its share to the others.
    package static func chunkCount(_ count: Int, grain: Int = 1) -> Int {
        guard count > 0 else { return 0 }
        let g = Swift.max(grain, 1)
        return Swift.max(1, Swift.min((count + g - 1) / g, workerCount * 4))
    }

    /// Runs `body(chunkIndex, range)` for `chunks` contiguous chunks of `0..<count` (chunk indices are
    /// `0..<chunks`, so a caller can give each chunk its own slice of one scratch buffer).
    package static func forEachChunk(_ count: Int, chunks: Int, _ body: (Int, Range<Int>) -> Void) {
        guard count > 0, chunks > 0 else { return }
        let workers = workerCount
        // The chunks write disjoint parts of their outputs; the job only carries the closure across threads.
        withoutActuallyEscaping(body) { body in
            var job = PoolJob(count: count, chunks: chunks, body: body)
            if chunks == 1 || workers <= 1 {
                for c in 0..<chunks { job.run(c) }
                return
            }
            if usesSpinningPool { keepBLASWorkersBesideHelpers() }
            let ranInPool = usesSpinningPool && withUnsafeMutablePointer(to: &job) { job in
                dk_pool_run(chunks, workers, { context, chunk in
                    guard let job = context?.assumingMemoryBound(to: PoolJob.self) else { return }
                    job.pointee.run(chunk)
                }, job) == 1
            }
            if ranInPool { return }
            // The pool is busy (a nested call from inside a chunk, or a job of another thread) or unavailable.
            let box = UncheckedSendableBox(job)
            DispatchQueue.concurrentPerform(iterations: chunks) { c in box.value.run(c) }
        }
    }

    /// Whether ``forEachChunk(_:chunks:_:)`` runs its chunks on the spinning helper threads of `dk_pool.c` (the
    /// default) rather than on Dispatch's workers: Dispatch wakes its second worker tens to hundreds of
    /// microseconds late, which costs a pass of a fraction of a millisecond most of its gain
    /// (`ops-bench --no-pool`; Docs/benchmarks.md).
    nonisolated(unsafe) package static var usesSpinningPool = true

    /// How long an idle helper thread polls for the next job before it sleeps (microseconds; `ops-bench
    /// --pool-spin-us`). While polling it yields its core to any other runnable thread after the first 50 µs.
    package static var helperSpinMicroseconds: Int {
        get { dk_pool_spin_microseconds() }
        set { dk_pool_set_spin_microseconds(newValue) }
    }

    /// Whether the pool's helpers and OpenBLAS's worker threads keep to one processor each (helper and OpenBLAS
    /// worker `i` both on the `(i + 2)`-th processor the process may use), leaving the calling thread the one free
    /// to move. Left free, the scheduler often places a helper woken by the caller on the caller's own processor,
    /// where it waits behind the caller while another processor idles, and a pass runs on one core. The two
    /// pools never compute at once (a GEMM and a parallel-for alternate), and each yields its processor while
    /// idle. Set before the first parallel-for (`ops-bench --no-pin`); helpers keep the placement they started
    /// with.
    package static var pinsWorkerThreads: Bool {
        get { dk_pool_pinning() == 1 }
        set { dk_pool_set_pinning(newValue ? 1 : 0) }
    }

    private static let blasWorkersPlaced = Atomic<Bool>(false)

    /// Gives OpenBLAS's worker `i` the processor of pool helper `i`, once (when OpenBLAS runs more than one thread).
    private static func keepBLASWorkersBesideHelpers() {
        guard !blasWorkersPlaced.load(ordering: .acquiring), pinsWorkerThreads else { return }
        let threads = Int(openblas_get_num_threads())
        guard threads > 1, blasWorkersPlaced.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
        else { return }
        var set = cpu_set_t()
        for worker in 0..<(threads - 1) where dk_pool_worker_cpu(worker, &set, UInt(MemoryLayout<cpu_set_t>.size)) == 1 {
            _ = openblas_setaffinity(Int32(worker), MemoryLayout<cpu_set_t>.size, &set)
        }
    }

    /// Runs `body` with OpenBLAS limited to one thread (restored afterwards), for GEMMs issued from
    /// several worker threads at once. The thread count's one owner is LoRAKit's `BLASThreads`.
    package static func withSingleThreadedBLAS<R>(_ body: () throws -> R) rethrows -> R {
        try BLASThreads.withParallelRegion { () throws -> R in try body() }
    }
}

/// A value guarded by a lock.
final class LockedValue<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
    func read<R>(_ body: (Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(value)
    }
}

/// One parallel-for job: chunk `c` of `0..<count` is `count * c / chunks ..< count * (c + 1) / chunks`.
private struct PoolJob {
    let count: Int, chunks: Int
    let body: (Int, Range<Int>) -> Void
    func run(_ chunk: Int) {
        let lo = count * chunk / chunks, hi = count * (chunk + 1) / chunks
        if lo < hi { body(chunk, lo..<hi) }
    }
}

/// Carries a value the compiler cannot prove Sendable into Dispatch's worker threads; each use site keeps the
/// work of different threads on disjoint memory.
struct UncheckedSendableBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
