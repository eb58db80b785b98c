import COpenBLAS
import Foundation

/// The one owner of OpenBLAS's thread count, a process-wide setting that several tasks of one process
/// (a merge, a generation) would otherwise overwrite under each other.
///
/// The rule: a task that wants a particular count runs inside ``withThreads(_:_:)`` (a lease). While
/// leases are held, OpenBLAS runs with the **largest** count any of them asked for, so a task asking
/// for fewer threads (a merge patching tensors in parallel, each product single-threaded) never slows
/// a task that asked for more (a generation). Inside a parallel region (``withParallelRegion(_:)``: the
/// caller's own worker threads issue GEMMs at once, e.g. tiled attention or Winograd tiles), OpenBLAS runs on
/// one thread, since those workers already fill the cores. With no lease held, the default applies
/// (``LinearAlgebraSettings/setThreadCount(_:)``, else OpenBLAS's own start-up count). The count
/// changes only when a lease starts or ends, under one lock; nothing else in LoRAKit or DiffusionCore
/// calls `openblas_set_num_threads`.
package enum BLASThreads {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var leases: [Int: Int] = [:]
    nonisolated(unsafe) private static var nextLease = 0
    nonisolated(unsafe) private static var regions = 0
    nonisolated(unsafe) private static var defaultCount: Int?
    nonisolated(unsafe) private static var startup: Int?

    /// The count OpenBLAS uses now.
    package static var current: Int { Int(openblas_get_num_threads()) }

    /// Sets the count used when no lease is held (0 or less: OpenBLAS's start-up count).
    package static func setDefault(_ n: Int) {
        lock.withLock {
            captureStartup()
            defaultCount = n > 0 ? n : nil
            apply()
        }
    }

    /// Runs `body` with OpenBLAS using at least `threads` threads, or exactly `threads` when no other lease
    /// asks for more (see the type's rule). Leases nest and may be held from several threads at once.
    package static func withThreads<R, E: Error>(_ threads: Int, _ body: () throws(E) -> R) throws(E) -> R {
        let id = lock.withLock { () -> Int in
            captureStartup()
            nextLease += 1
            leases[nextLease] = max(1, threads)
            apply()
            return nextLease
        }
        defer {
            lock.withLock {
                leases[id] = nil
                apply()
            }
        }
        return try body()
    }

    /// Runs `body` with OpenBLAS on one thread, for GEMMs issued from several of the caller's worker threads
    /// at once. Regions nest and may overlap across threads.
    package static func withParallelRegion<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        lock.withLock {
            captureStartup()
            regions += 1
            apply()
        }
        defer {
            lock.withLock {
                regions -= 1
                apply()
            }
        }
        return try body()
    }

    /// The count the rule gives now (for tests and reports).
    package static var wanted: Int {
        lock.withLock { captureStartup(); return target }
    }

    private static var target: Int {
        rule(leases: Array(leases.values), regions: regions, defaultCount: defaultCount, startup: startup ?? 1)
    }

    /// The rule: 1 inside a parallel region; else the largest lease; else the default; else the start-up count.
    package static func rule(leases: [Int], regions: Int, defaultCount: Int?, startup: Int) -> Int {
        if regions > 0 { return 1 }
        return leases.max() ?? defaultCount ?? startup
    }

    private static func captureStartup() {
        if startup == nil { startup = Int(openblas_get_num_threads()) }
    }

    private static func apply() {
        let n = target
        if Int(openblas_get_num_threads()) != n, let v = Int32(exactly: n) { openblas_set_num_threads(v) }
    }
}
