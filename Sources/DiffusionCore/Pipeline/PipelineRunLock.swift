import Foundation

/// Serialises the work of one pipeline that reads or changes its LoRA state (runs, LoRA-set changes): callers
/// are served one at a time in arrival order. The thread holding it cannot take it again: such a call can only
/// come from the holder's own callbacks (a run's `onEvent` or `isCancelled`), and would otherwise change the
/// state under the running job or wait for itself, so it is refused at once. A waiter whose `isCancelled` turns
/// true leaves the queue within ``pollInterval`` without ever holding the lock.
final class PipelineRunLock: @unchecked Sendable {
    /// How often a waiter asks whether it was cancelled.
    static let pollInterval: TimeInterval = 0.01

    /// How a call to ``acquire(isCancelled:)`` ended.
    enum Acquisition: Equatable {
        /// The caller holds the lock and must ``release()`` it.
        case acquired
        /// `isCancelled` said so while the caller waited; the lock is not held.
        case cancelled
        /// The calling thread holds the lock already (a call from inside the holder's own work); nothing changed.
        case heldByCaller
    }

    private let condition = NSCondition()
    private var owner: pthread_t?
    private var queue: [UInt64] = []
    private var nextTicket: UInt64 = 0

    /// Callers waiting now (not counting the holder).
    var waiting: Int {
        condition.lock()
        defer { condition.unlock() }
        return queue.count
    }

    /// Waits for the lock. `isCancelled` is called without any lock held, so it may do anything.
    func acquire(isCancelled: () -> Bool) -> Acquisition {
        let me = pthread_self()
        condition.lock()
        if let owner, pthread_equal(owner, me) != 0 {
            condition.unlock()
            return .heldByCaller
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
                return .cancelled
            }
        }
        queue.removeFirst()
        owner = me
        condition.unlock()
        return .acquired
    }

    /// Gives the lock back; the next waiter is served.
    func release() {
        condition.lock()
        owner = nil
        condition.broadcast()
        condition.unlock()
    }
}
