import ArgumentParser
import Foundation
import LoRAKit

/// Exit status for bad input files (bad usage exits 2 through ArgumentParser).
let badInputExitCode = ExitCode(1)

/// Writes a one-line message to stderr.
func printError(_ message: String) {
    FileHandle.standardError.write(Data(("lora-tool: " + message + "\n").utf8))
}

/// Opens a safetensors file, or prints the reason and exits with status 1.
func openOrExit(_ path: String) throws -> SafetensorsFile {
    do {
        return try SafetensorsFile(path: path)
    } catch {
        printError("\(path): \(error)")
        throw badInputExitCode
    }
}

/// Prints a JSON object on stdout (sorted keys, pretty).
func printJSON(_ object: Any) throws {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    FileHandle.standardOutput.write(data)
    FileHandle.standardOutput.write(Data("\n".utf8))
}
