import Foundation
import LoRAKit

/// A one-line progress display on stderr, shown only when stderr is a terminal.
final class ProgressLine: @unchecked Sendable {
    private let lock = NSLock()
    private var last = ContinuousClock.now

    static func stderrIfTerminal() -> ProgressLine? {
        isatty(STDERR_FILENO) != 0 ? ProgressLine() : nil
    }

    func update(_ p: MergeProgress) {
        lock.withLock {
            let now = ContinuousClock.now
            guard p.tensorsDone == p.tensorCount || now - last > .milliseconds(100) else { return }
            last = now
            let percent = p.tensorCount > 0 ? 100 * p.tensorsDone / p.tensorCount : 100
            writeStandardError("\r\u{1B}[K\(p.file): \(p.tensorsDone)/\(p.tensorCount) tensors (\(percent)%)")
        }
    }

    func finish() {
        writeStandardError("\r\u{1B}[K")
    }

    /// Clears a progress line left on a terminal stderr (before an error message).
    static func clear() {
        if isatty(STDERR_FILENO) != 0 { writeStandardError("\r\u{1B}[K") }
    }
}
