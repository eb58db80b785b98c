#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The temporary files and folders of the writes in progress in this process.
///
/// Every output LoRAKit writes is built under a temporary name next to its destination and
/// renamed into place when complete. A process that is asked to stop (SIGINT, SIGTERM) calls
/// ``abandonAll()`` from its signal handling: the temporary files and folders are removed, and a
/// rename into place that has not happened yet never happens, so neither debris nor a half-made
/// output is left behind. A rename into place and ``abandonAll()`` never interleave.
///
/// LoRAKit installs no signal handler itself; `lora-tool` does (a `DispatchSource` per signal).
public enum PendingOutputs {
    private final class State: @unchecked Sendable {
        let lock = NSLock()
        var paths: [Int: String] = [:]
        var next = 0
        var abandoned = false
    }

    private static let state = State()

    /// Records `path` (a file or folder) as temporary; nil when ``abandonAll()`` has run.
    package static func register(_ path: String) -> Int? {
        state.lock.withLock {
            guard !state.abandoned else { return nil }
            state.next += 1
            state.paths[state.next] = path
            return state.next
        }
    }

    /// Runs `create` (which makes a temporary file and returns its path, or nil on failure) and records
    /// the path, both while ``abandonAll()`` cannot run, so no file is ever made without being recorded.
    /// Returns nil without calling `create` when ``abandonAll()`` has run.
    static func create(_ create: () -> String?) -> (token: Int, path: String?)? {
        state.lock.withLock {
            guard !state.abandoned else { return nil }
            let path = create()
            state.next += 1
            if let path { state.paths[state.next] = path }
            return (state.next, path)
        }
    }

    /// Forgets a path recorded by ``register(_:)`` (it was renamed into place or removed).
    package static func unregister(_ token: Int?) {
        guard let token else { return }
        state.lock.withLock { _ = state.paths.removeValue(forKey: token) }
    }

    /// Runs `body` (the renames that publish an output) and forgets `token`, unless ``abandonAll()``
    /// ran first; returns false then, with nothing done.
    package static func publish(_ token: Int?, _ body: () throws -> Void) rethrows -> Bool {
        state.lock.lock()
        defer { state.lock.unlock() }
        guard !state.abandoned else { return false }
        try body()
        if let token { state.paths.removeValue(forKey: token) }
        return true
    }

    /// Whether ``abandonAll()`` has run.
    public static var isAbandoned: Bool { state.lock.withLock { state.abandoned } }

    /// Removes every temporary file and folder of the writes in progress, and makes those writes
    /// (and any started later) fail instead of renaming their output into place.
    /// Safe to call from any thread, more than once.
    public static func abandonAll() {
        state.lock.withLock {
            state.abandoned = true
            for path in state.paths.values { remove(path) }
            state.paths.removeAll()
        }
    }

    /// Removes a file, or a folder with everything in it, without following symbolic links.
    private static func remove(_ path: String) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            try? FileManager.default.removeItem(atPath: path)
        } else {
            unlink(path)
        }
    }
}
