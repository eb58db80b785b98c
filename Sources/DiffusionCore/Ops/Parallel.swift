import Dispatch
import Foundation
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
        if chunks == 1 || workerCount <= 1 {
            for c in 0..<chunks {
                let lo = count * c / chunks, hi = count * (c + 1) / chunks
                if lo < hi { body(c, lo..<hi) }
            }
            return
        }
        // The chunks write disjoint parts of their outputs; the job only carries the closure across threads.
        withoutActuallyEscaping(body) { body in
            var job = PoolJob(count: count, chunks: chunks, body: body)
            let ranInPool = usesSpinningPool && withUnsafeMutablePointer(to: &job) { job in
                dk_pool_run(chunks, workerCount, { context, chunk in
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
