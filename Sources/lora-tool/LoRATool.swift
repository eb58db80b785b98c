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
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(usageExitCode)
            }
            exit(withError: error)
        }
    }
}

/// Exit status for bad usage (unknown option, missing argument, invalid value).
let usageExitCode: Int32 = 2
