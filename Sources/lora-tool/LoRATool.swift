import ArgumentParser
import Foundation

@main
struct LoRATool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lora-tool",
        abstract: "Inspect, merge and use LoRA files for Stable Diffusion models.",
        subcommands: [
            ConvertCommand.self,
            ExtractCommand.self,
            Inspect.self,
            ListCommand.self,
            MergeCommand.self,
            ResizeCommand.self,
            SchedulersCommand.self,
            ScheduleCommand.self,
        ]
    )

    /// Runs the command; usage errors exit with status 2, bad input with 1.
    static func main() {
        SignalHandling.install()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                // --help and --version go to stdout, checked like every other report.
                do { if !message.isEmpty { try emit(message + "\n") } } catch { Foundation.exit(1) }
                Foundation.exit(0)
            }
            if code == .validationFailure {
                writeStandardError(message + "\n")
                Foundation.exit(usageExitCode)
            }
            exit(withError: error)
        }
    }
}

/// Exit status for bad usage (unknown option, missing argument, invalid value).
let usageExitCode: Int32 = 2
