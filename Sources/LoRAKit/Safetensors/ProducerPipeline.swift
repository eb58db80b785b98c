import Foundation

/// Runs the writer's producers ahead of the writing, on one or more background
/// threads, so computing tensors overlaps writing earlier ones. Results come back
/// in file order; at most `lookahead` results wait at any time.
final class ProducerPipeline: @unchecked Sendable {
    typealias Job = (index: Int, byteCount: Int, fill: @Sendable (UnsafeMutableRawBufferPointer) throws -> Void)

    private let condition = NSCondition()
    private var ready: [Int: Result<UnsafeMutableRawBufferPointer, any Error>] = [:]
    private var nextJob = 0
    private var inFlight = 0
    private var cancelled = false
    private var running = 0
    private let lookahead: Int
    private let workers: Int
    private let jobs: [Job]
    /// Buffers handed back by the consumer, reused so large tensors do not fault in fresh pages each time.
    private var pool: [UnsafeMutableRawBufferPointer] = []

    init(jobs: [Job], workers: Int = 1, lookahead: Int? = nil) {
        self.jobs = jobs
        self.workers = max(1, workers)
        self.lookahead = max(self.workers + 1, lookahead ?? 0)
    }

    /// Starts the background threads.
    func start() {
        condition.lock()
        running = workers
        condition.unlock()
        for _ in 0..<workers {
            let thread = Thread { [self] in self.run() }
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    private func run() {
        while true {
            condition.lock()
            while inFlight >= lookahead && !cancelled { condition.wait() }
            guard !cancelled, nextJob < jobs.count else {
                running -= 1
                condition.broadcast()
                condition.unlock()
                return
            }
            let job = jobs[nextJob]
            nextJob += 1
            inFlight += 1
            let buffer = obtainBufferLocked(job.byteCount)
            condition.unlock()

            let result: Result<UnsafeMutableRawBufferPointer, any Error>
            do {
                try job.fill(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<job.byteCount]))
                result = .success(buffer)
            } catch {
                result = .failure(error)
            }
            condition.lock()
            if case .failure = result { pool.append(buffer) }
            ready[job.index] = result
            condition.broadcast()
            condition.unlock()
        }
    }

    /// The bytes of job `index`, waiting for them if needed; give them back with ``done(_:)``.
    func take(_ index: Int) throws -> UnsafeMutableRawBufferPointer {
        condition.lock()
        defer { condition.unlock() }
        while ready[index] == nil { condition.wait() }
        let result = ready.removeValue(forKey: index)!
        if case .failure = result { inFlight -= 1; condition.broadcast() }
        return try result.get()
    }

    /// Returns a buffer from ``take(_:)`` and lets the next job start.
    func done(_ buffer: UnsafeMutableRawBufferPointer) {
        condition.lock()
        inFlight -= 1
        pool.append(buffer)
        condition.broadcast()
        condition.unlock()
    }

    private func obtainBufferLocked(_ count: Int) -> UnsafeMutableRawBufferPointer {
        if let i = pool.firstIndex(where: { $0.count >= count }) { return pool.remove(at: i) }
        if pool.count >= workers { pool.removeFirst().deallocate() }
        return UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 64)
    }

    /// Stops the background threads after their current jobs and frees what they computed.
    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        while running > 0 { condition.wait() }
        for (_, result) in ready { if case .success(let b) = result { b.deallocate() } }
        ready.removeAll()
        condition.unlock()
    }

    deinit {
        for b in pool { b.deallocate() }
    }
}
