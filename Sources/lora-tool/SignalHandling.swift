import Dispatch
import Foundation
import LoRAKit

/// Ctrl-C (SIGINT), SIGTERM and SIGHUP stop the tool cleanly: the temporary files and folders of a
/// write in progress are removed (``PendingOutputs``), nothing is renamed into place, and the tool exits
/// with 128 + the signal number (130, 143, 129), as shells report a process killed by that signal.
enum SignalHandling {
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []

    static func install() {
        for (signal, name) in [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM"), (SIGHUP, "SIGHUP")] {
            // The default action would end the process at once; the dispatch source sees the signal instead.
            Foundation.signal(signal, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signal, queue: .global(qos: .userInteractive))
            source.setEventHandler {
                PendingOutputs.abandonAll()
                if isatty(STDERR_FILENO) != 0 { writeStandardError("\r\u{1B}[K") }
                printError("stopped by \(name); no partial output was left")
                ErrorReport.emit(kind: "interrupted", exitCode: 128 + signal)
                _exit(128 + signal)
            }
            source.resume()
            sources.append(source)
        }
    }
}
