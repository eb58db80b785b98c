import ArgumentParser
import Foundation
import LoRAKit

/// Exit status for bad input files (bad usage exits 2 through ArgumentParser).
let badInputExitCode = ExitCode(1)

/// Writes a one-line message to stderr. A failing stderr is ignored: there is nowhere left to say so.
/// The first error of a run, and the library `error` behind it, is what a `--json` run reports on stdout
/// (``ErrorReport``).
func printError(_ message: String, _ error: (any Error)? = nil) {
    ErrorReport.record(message, error: error)
    writeStandardError("lora-tool: " + message + "\n")
}

/// Writes a one-line note to stderr (not an error: the run goes on).
func printNote(_ message: String) {
    writeStandardError("lora-tool: note: " + message + "\n")
}

/// Writes `text` to stderr as it is (progress lines), ignoring failures.
func writeStandardError(_ text: String) {
    _ = writeAll(STDERR_FILENO, Array(text.utf8))
}

/// Writes `text` to stdout, ignoring failures (the error object of a failed `--json` run).
func writeStandardOutputQuietly(_ text: String) {
    _ = writeAll(STDOUT_FILENO, Array(text.utf8))
}

/// Writes `text` to stdout; when stdout cannot take it (a full disk, a closed file), prints one line
/// on stderr and exits with status 1.
func emit(_ text: String) throws {
    if let err = writeAll(STDOUT_FILENO, Array(text.utf8)) {
        printError("cannot write to standard output: \(String(cString: strerror(err)))")
        throw badInputExitCode
    }
}

/// Writes every byte to `fd`; returns errno on failure.
private func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Int32? {
    bytes.withUnsafeBytes { raw -> Int32? in
        guard var p = raw.baseAddress else { return nil }
        var remaining = raw.count
        while remaining > 0 {
            let n = write(fd, p, remaining)
            if n < 0 {
                if errno == EINTR { continue }
                return errno
            }
            remaining -= n
            p += n
        }
        return nil
    }
}

/// Opens a safetensors file, or prints the reason and exits with status 1.
func openOrExit(_ path: String) throws -> SafetensorsFile {
    do {
        return try SafetensorsFile(path: path)
    } catch {
        printError("\(path): \(error)", error)
        throw badInputExitCode
    }
}

/// Prints a JSON object on stdout (sorted keys, pretty).
func printJSON(_ object: Any) throws {
    let data: Data
    do {
        data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    } catch {
        printError("cannot encode the report as JSON: \(error)")
        throw badInputExitCode
    }
    try emit(String(decoding: data, as: UTF8.self) + "\n")
}

/// A Codable value as a JSON object for a `--json` report, its keys in snake case as every key of the reports.
/// A value that cannot be encoded stops the run with one line on stderr and, under `--json`, the JSON error
/// object (``ErrorReport``) — never a report with an empty object in its place.
func jsonObject<T: Encodable>(_ value: T, configure: (JSONEncoder) -> Void = { _ in }) throws -> Any {
    let encoder = JSONEncoder()
    encoder.keyEncodingStrategy = .convertToSnakeCase
    configure(encoder)
    do { return try JSONSerialization.jsonObject(with: encoder.encode(value)) } catch {
        printError("cannot encode the report as JSON: \(error)", error)
        throw badInputExitCode
    }
}

/// Prints an Encodable value as JSON on stdout (sorted keys, pretty).
func printJSON<T: Encodable>(encoding value: T, configure: (JSONEncoder) -> Void = { _ in }) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    configure(encoder)
    let data: Data
    do { data = try encoder.encode(value) } catch {
        printError("cannot encode the report as JSON: \(error)")
        throw badInputExitCode
    }
    try emit(String(decoding: data, as: UTF8.self) + "\n")
}

/// Refuses an output path that is empty or only white space (it would name the current folder).
func validateOutputPath(_ path: String?, option: String = "--output") throws {
    if let path, path.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
        throw ValidationError("\(option) must name a file or folder, got \"\(path)\"")
    }
}

/// The line printed for a library error; every "output exists" reads the same, whichever command met it.
func describe(_ error: Error) -> String {
    if let path = existingOutput(error) { return "\(path) exists; pass --force to replace it" }
    switch error {
    case MergeError.mixedBaseModels, RankToolsError.mixedBaseModels: return "\(error); pass --allow-base-mismatch to merge them anyway"
    case MergeError.baseModelMismatch: return "\(error); pass --allow-base-mismatch to apply it anyway"
    case MergeError.nothingToMerge(let skipped): return "\(error)" + skipped.map { "\n  skipped \($0.module): \($0.reason)" }.joined()
    default: return "\(error)"
    }
}

private func existingOutput(_ error: Error) -> String? {
    func fromSafetensors(_ e: SafetensorsError) -> String? {
        if case .outputExists(let path) = e { return path }
        return nil
    }
    switch error {
    case let e as SafetensorsError: return fromSafetensors(e)
    case MergeError.safetensors(let s), RankToolsError.safetensors(let s): return fromSafetensors(s)
    default: return nil
    }
}

/// Refuses a PNG output whose name says another format (`out.jpg` would hold PNG bytes); no extension is fine.
func validatePNGName(_ path: String?, option: String) throws {
    guard let path else { return }
    let ext = URL(fileURLWithPath: path).pathExtension
    if !ext.isEmpty, ext.lowercased() != "png" {
        throw ValidationError("\(option) \(path): generate writes PNG files (with their A1111 and InvokeAI metadata); name it .png")
    }
}

/// Refuses a count option that is zero or negative, naming it and the value.
func validatePositive(_ value: Int?, _ option: String) throws {
    if let value, value <= 0 { throw ValidationError("\(option) must be a positive whole number, got \(value)") }
}

/// A note on stderr when `--rank` asked for more than any layer holds: each module got at most its
/// full rank, and the metadata records the largest rank written.
func noteRankCap(requested: Int, written: Int, option: String) {
    guard written > 0, requested > written else { return }
    printNote("\(option) \(requested) is above the full rank of every module; each got at most its full rank "
               + "(largest written: \(written), also recorded in the metadata)")
}
