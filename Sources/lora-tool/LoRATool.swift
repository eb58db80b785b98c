import ArgumentParser
import Foundation

@main
struct LoRATool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lora-tool",
        abstract: "Inspect, merge and use LoRA files for Stable Diffusion models.",
        version: loraToolVersion,
        subcommands: [
            ConvertCommand.self,
            ExtractCommand.self,
            GenerateCommand.self,
            Inspect.self,
            ListCommand.self,
            MergeCommand.self,
            PromptCommand.self,
            ResizeCommand.self,
            SchedulersCommand.self,
            ScheduleCommand.self,
        ]
    )

    /// Runs the command; usage errors exit with status 2, bad input with 1.
    static func main() {
        SignalHandling.install()
        let arguments = Array(CommandLine.arguments.dropFirst())
        ErrorReport.configure(arguments: arguments)
        if arguments.first == "help", arguments.count > 1,
           !configuration.subcommands.contains(where: { $0._commandName == arguments[1] }) {
            let names = configuration.subcommands.map { $0._commandName }.joined(separator: ", ")
            writeStandardError("Error: no command \"\(arguments[1])\" (commands: \(names))\nUsage: lora-tool help <subcommand>\n")
            Foundation.exit(usageExitCode)
        }
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
                ErrorReport.emit(kind: "usage", exitCode: usageExitCode, fallback: self.message(for: error))
                Foundation.exit(usageExitCode)
            }
            ErrorReport.emit(kind: "bad_input", exitCode: code.rawValue, fallback: message)
            exit(withError: error)
        }
    }
}

/// The version `lora-tool --version` prints.
let loraToolVersion = "0.1.0"

/// Exit status for bad usage (unknown option, missing argument, invalid value).
let usageExitCode: Int32 = 2
