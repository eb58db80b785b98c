import Foundation

/// Runs one job per tensor on a few threads, each job writing its tensor at its own
/// offset; stops at the first error and rethrows it.
enum ParallelTensorWriter {
    /// A per-thread buffer reused across jobs.
    final class Scratch {
        private var buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 0, alignment: 64)

        /// A buffer of exactly `count` bytes, valid until the next call.
        func bytes(_ count: Int) -> UnsafeMutableRawBufferPointer {
            if buffer.count < count {
                buffer.deallocate()
                buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 64)
            }
            return UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count])
        }

        deinit { buffer.deallocate() }
    }

    /// Shared progress of the workers. `@unchecked Sendable`: every field is guarded by `lock`,
    /// and the closures are only called while `run` waits for the workers.
    private final class State: @unchecked Sendable {
        let lock = NSLock()
        var next = 0
        var done = 0
        var error: (any Error)?
        let job: (Int, Scratch) throws -> Void
        let progress: ((Int, Int) -> Void)?

        init(job: @escaping (Int, Scratch) throws -> Void, progress: ((Int, Int) -> Void)?) {
            self.job = job
            self.progress = progress
        }
    }

    static func run(
        count: Int,
        threads: Int,
        progress: ((Int, Int) -> Void)?,
        job: @escaping (Int, Scratch) throws -> Void
    ) throws {
        let state = State(job: job, progress: progress)
        let workers = max(1, min(threads, count))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            let scratch = Scratch()
            while true {
                state.lock.lock()
                guard state.error == nil, state.next < count else {
                    state.lock.unlock()
                    return
                }
                let index = state.next
                state.next += 1
                state.lock.unlock()
                do {
                    try state.job(index, scratch)
                    state.lock.lock()
                    state.done += 1
                    state.progress?(state.done, count)
                    state.lock.unlock()
                } catch {
                    state.lock.lock()
                    if state.error == nil { state.error = error }
                    state.lock.unlock()
                    return
                }
            }
        }
        if let error = state.error { throw error }
    }
}
