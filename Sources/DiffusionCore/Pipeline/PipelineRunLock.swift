import Foundation

/// Serialises the work of one pipeline that reads or changes its LoRA state (runs, LoRA-set changes): callers
/// are served one at a time in arrival order. The thread holding it may take it again (a run applies its LoRA
/// set through the same entry points a caller uses). A waiter whose `isCancelled` turns true leaves the queue
/// within ``pollInterval`` without ever holding the lock.
final class PipelineRunLock: @unchecked Sendable {
    /// How often a waiter asks whether it was cancelled.
    static let pollInterval: TimeInterval = 0.01

    private let condition = NSCondition()
    private var owner: pthread_t?
    private var depth = 0
    private var queue: [UInt64] = []
    private var nextTicket: UInt64 = 0

    /// Callers waiting now (not counting the holder).
    var waiting: Int {
        condition.lock()
        defer { condition.unlock() }
        return queue.count
    }

    /// Waits for the lock; false (without it) when `isCancelled` said so first. `isCancelled` is called without
    /// any lock held, so it may do anything.
    func acquire(isCancelled: () -> Bool) -> Bool {
        let me = pthread_self()
        condition.lock()
        if let owner, pthread_equal(owner, me) != 0 {
            depth += 1
            condition.unlock()
            return true
        }
        let ticket = nextTicket
        nextTicket += 1
        queue.append(ticket)
        while owner != nil || queue.first != ticket {
            _ = condition.wait(until: Date(timeIntervalSinceNow: Self.pollInterval))
            if owner == nil && queue.first == ticket { break }
            condition.unlock()
            let cancelled = isCancelled()
            condition.lock()
            if cancelled {
                queue.removeAll { $0 == ticket }
                condition.broadcast()
                condition.unlock()
                return false
            }
        }
        queue.removeFirst()
        owner = me
        depth = 1
        condition.unlock()
        return true
    }

    /// Gives back one hold of the lock; the next waiter is served when the last hold is given back.
    func release() {
        condition.lock()
        depth -= 1
        if depth == 0 {
            owner = nil
            condition.broadcast()
        }
        condition.unlock()
    }
}
