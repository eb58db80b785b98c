import Foundation

/// Runs the writer's producers one or two tensors ahead on a background thread, so
/// computing a tensor overlaps writing the previous one. Results come back in order.
final class ProducerPipeline: @unchecked Sendable {
    typealias Job = (index: Int, byteCount: Int, fill: @Sendable (UnsafeMutableRawBufferPointer) throws -> Void)

    private let condition = NSCondition()
    private var ready: [Int: Result<UnsafeMutableRawBufferPointer, any Error>] = [:]
    private var inFlight = 0
    private var cancelled = false
    private let lookahead: Int
    private let jobs: [Job]
    private var finished = false
    /// Buffers handed back by the consumer, reused so large tensors do not fault in fresh pages each time.
    private var pool: [UnsafeMutableRawBufferPointer] = []

    init(jobs: [Job], lookahead: Int = 2) {
        self.jobs = jobs
        self.lookahead = max(1, lookahead)
    }

    /// Starts computing in the background.
    func start() {
        let thread = Thread { [self] in self.run() }
        thread.stackSize = 8 << 20
        thread.start()
    }

    private func run() {
        for job in jobs {
            condition.lock()
            while inFlight >= lookahead && !cancelled { condition.wait() }
            if cancelled { condition.unlock(); break }
            inFlight += 1
            condition.unlock()

            let buffer = obtainBuffer(job.byteCount)
            let result: Result<UnsafeMutableRawBufferPointer, any Error>
            do {
                try job.fill(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<job.byteCount]))
                result = .success(buffer)
            } catch {
                recycle(buffer)
                result = .failure(error)
            }
            condition.lock()
            ready[job.index] = result
            condition.broadcast()
            condition.unlock()
        }
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// The bytes of job `index`, waiting for them if needed; the caller deallocates them
    /// with ``done(_:)``.
    func take(_ index: Int) throws -> UnsafeMutableRawBufferPointer {
        condition.lock()
        defer { condition.unlock() }
        while ready[index] == nil { condition.wait() }
        let result = ready.removeValue(forKey: index)!
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

    private func obtainBuffer(_ count: Int) -> UnsafeMutableRawBufferPointer {
        condition.lock()
        defer { condition.unlock() }
        if let i = pool.firstIndex(where: { $0.count >= count }) { return pool.remove(at: i) }
        if !pool.isEmpty { pool.removeFirst().deallocate() }
        return UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 64)
    }

    private func recycle(_ buffer: UnsafeMutableRawBufferPointer) {
        condition.lock()
        pool.append(buffer)
        condition.unlock()
    }

    deinit {
        for b in pool { b.deallocate() }
    }

    /// Stops the background thread after its current job and frees what it computed.
    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        while !finished { condition.wait() }
        for (_, result) in ready { if case .success(let b) = result { b.deallocate() } }
        ready.removeAll()
        condition.unlock()
    }
}
