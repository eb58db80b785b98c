import Dispatch
import Foundation
import COpenBLAS
import LoRAKit

/// The one parallel-for of the runtime: splits a range into contiguous chunks and runs them on Dispatch's
/// worker threads (`concurrentPerform`), at most one chunk per core at a time.
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
        // The chunks write disjoint parts of their outputs; the box only carries the closure across threads.
        withoutActuallyEscaping(body) { body in
            let box = UncheckedSendableBox(body)
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let lo = count * c / chunks, hi = count * (c + 1) / chunks
                if lo < hi { box.value(c, lo..<hi) }
            }
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

/// Carries a value the compiler cannot prove Sendable into Dispatch's worker threads; each use site keeps the
/// work of different threads on disjoint memory.
struct UncheckedSendableBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
