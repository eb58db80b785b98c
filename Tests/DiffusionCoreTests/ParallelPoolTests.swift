import Foundation
import Testing
import CDiffusionKernels
@testable import DiffusionCore

/// The runtime's parallel-for on the spinning helper pool: every chunk runs exactly once with its own range,
/// nested and concurrent calls fall back without deadlock, and the helpers keep working after they slept.
@Suite("Parallel pool")
struct ParallelPoolTests {
    /// Counts, per chunk, how often it ran and checks the range it was given.
    private final class ChunkLog: @unchecked Sendable {
        let counts: UnsafeMutablePointer<Int>
        let size: Int
        let lock = NSLock()
        var wrongRanges = 0
        init(_ size: Int) {
            self.size = size
            counts = .allocate(capacity: size)
            counts.initialize(repeating: 0, count: size)
        }
        deinit { counts.deallocate() }
    }

    private func runLogged(count: Int, chunks: Int) -> ChunkLog {
        let log = ChunkLog(chunks)
        Parallel.forEachChunk(count, chunks: chunks) { c, r in
            // Each chunk writes only its own slot; the range must be the one the documented split gives.
            log.counts[c] += 1
            let lo = count * c / chunks, hi = count * (c + 1) / chunks
            if r != lo..<hi { log.lock.withLock { log.wrongRanges += 1 } }
        }
        return log
    }

    @Test("every chunk runs once, with its own range, over many jobs of many sizes")
    func chunksRunOnce() {
        guard Parallel.workerCount > 1 else { return }
        for job in 0..<3000 {
            let chunks = 1 + job % 37, count = chunks + (job * 7) % 100
            let log = runLogged(count: count, chunks: chunks)
            for c in 0..<chunks where log.counts[c] != 1 {
                Issue.record("job \(job): chunk \(c) of \(chunks) ran \(log.counts[c]) times")
                return
            }
            #expect(log.wrongRanges == 0)
        }
        #expect(dk_pool_helper_count() >= 1)
    }

    @Test("the chunks are shared with a helper thread")
    func helpersTakePart() {
        guard Parallel.workerCount > 1 else { return }
        let threads = LockedValue(Set<String>())
        // Long enough chunks that a polling helper claims some of them on any run.
        // Up to 200 jobs (a loaded machine may keep a helper off its processor for a while); stop at two threads.
        for _ in 0..<200 where threads.read({ $0.count }) < 2 {
            Parallel.forEachChunk(64, chunks: 64) { _, _ in
                let started = DispatchTime.now().uptimeNanoseconds
                while DispatchTime.now().uptimeNanoseconds - started < 200_000 {}
                let id = "\(pthread_self())"
                _ = threads.withLock { $0.insert(id) }
            }
        }
        #expect(threads.read { $0.count } >= 2)
    }

    @Test("a parallel-for inside a chunk and parallel-fors from several threads finish, each chunk once")
    func nestedAndConcurrent() {
        let outer = 8, inner = 16
        let total = LockedValue(0)
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            for _ in 0..<50 {
                Parallel.forEachChunk(outer, chunks: outer) { _, _ in
                    Parallel.forEachChunk(inner, chunks: inner) { _, r in total.withLock { $0 += r.count } }
                }
            }
        }
        #expect(total.read { $0 } == 4 * 50 * outer * inner)
    }

    @Test("helpers that slept wake for the next job")
    func wakeAfterSleep() async throws {
        guard Parallel.workerCount > 1 else { return }
        let spin = Parallel.helperSpinMicroseconds
        defer { Parallel.helperSpinMicroseconds = spin }
        for spinTime in [0, 100] {
            Parallel.helperSpinMicroseconds = spinTime
            for _ in 0..<30 {
                try await Task.sleep(nanoseconds: 300_000)
                let log = runLogged(count: 1000, chunks: 8)
                #expect((0..<8).allSatisfy { log.counts[$0] == 1 })
            }
        }
        // With no polling a helper sleeps after every job, so a chunk it runs proves it was woken (the caller alone
        // would otherwise run every chunk, and the counts above would still hold). Chunks of 300 µs leave it time to
        // wake; up to 100 jobs, as a loaded machine may keep it off its processor for a while.
        Parallel.helperSpinMicroseconds = 0
        var woken = false
        for _ in 0..<100 where !woken {
            try await Task.sleep(nanoseconds: 300_000)
            let caller = pthread_self()
            let others = LockedValue(0)
            Parallel.forEachChunk(8, chunks: 8) { _, _ in
                let started = DispatchTime.now().uptimeNanoseconds
                while DispatchTime.now().uptimeNanoseconds - started < 300_000 {}
                let name = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
                let isHelper = name.trimmingCharacters(in: .whitespacesAndNewlines) == "lorakit-pool"
                if pthread_equal(pthread_self(), caller) == 0, isHelper { others.withLock { $0 += 1 } }
            }
            woken = others.read { $0 } > 0
        }
        #expect(woken, "no chunk ran on a pool helper woken from its sleep")
    }

    @Test("chunk counts the pool cannot take run through the fallback")
    func fallbackChunkCounts() {
        let log = runLogged(count: 70_000, chunks: 70_000)
        #expect((0..<70_000).allSatisfy { log.counts[$0] == 1 })
        #expect(dk_pool_run(0, 2, { _, _ in }, nil) == 0)
        #expect(dk_pool_run(4, 1, { _, _ in }, nil) == 0)
    }
}
