import Dispatch

/// Wall-clock time per kind of work in a model's forward pass (convolutions, GEMMs, attention, norms, layout
/// changes, weight widening), for the model benchmarks' `--profile` table. Off unless a benchmark turns it on;
/// when off, a measured region costs one flag check.
///
/// Times are exclusive: a region measured inside another (the weight widening inside a linear layer) is
/// subtracted from the outer one. Regions are opened and closed on the thread that runs the forward pass (the
/// ops' worker threads never measure), so one stack of open regions suffices.
package enum LayerTiming {
    nonisolated(unsafe) package static var isEnabled = false

    private struct Open {
        var kind: String
        var start: UInt64
        var nested: UInt64 = 0
    }

    private struct State {
        var totals: [String: (nanoseconds: UInt64, calls: Int)] = [:]
        var stack: [Open] = []
    }

    private static let state = LockedValue(State())

    /// Runs `body`, adding its time (less that of regions measured inside it) to `kind()`.
    @inline(__always)
    package static func measure<R>(_ kind: @autoclosure () -> String, _ body: () throws -> R) rethrows -> R {
        guard isEnabled else { return try body() }
        let name = kind()
        state.withLock { $0.stack.append(Open(kind: name, start: DispatchTime.now().uptimeNanoseconds)) }
        defer {
            let end = DispatchTime.now().uptimeNanoseconds
            state.withLock { s in
                guard let open = s.stack.popLast() else { return }
                let total = end - open.start
                let own = total - min(total, open.nested)
                s.totals[open.kind, default: (0, 0)].nanoseconds += own
                s.totals[open.kind, default: (0, 0)].calls += 1
                if !s.stack.isEmpty { s.stack[s.stack.count - 1].nested += total }
            }
        }
        return try body()
    }

    /// The totals so far, largest first: kind, seconds, calls.
    package static func report() -> [(kind: String, seconds: Double, calls: Int)] {
        state.withLock { s in
            s.totals.map { (kind: $0.key, seconds: Double($0.value.nanoseconds) / 1e9, calls: $0.value.calls) }
                .sorted { $0.seconds > $1.seconds }
        }
    }

    /// Forgets the totals (after a warm-up call).
    package static func reset() {
        state.withLock { $0.totals = [:] }
    }
}
