import Foundation

/// How a run that was asked for `--json` reports a failure: besides the one line on stderr, one JSON object on
/// stdout, so a program reading the report always gets an object:
///
/// ```
/// {"error": {"kind": "bad_input", "exit_code": 1, "message": "…", "type": "PipelineError.modelFile",
///            "causes": ["PipelineError.modelFile", "ModelBundleError.…"]}}
/// ```
///
/// `kind` is `usage` (exit 2), `bad_input` (exit 1) or `interrupted` (128 + the signal); `type` and `causes` name
/// the library error and the errors it wraps (`Type.case`), when the failure came from one.
enum ErrorReport {
    nonisolated(unsafe) private(set) static var json = false
    nonisolated(unsafe) private static var message: String?
    nonisolated(unsafe) private static var causes: [String] = []
    private static let lock = NSLock()

    /// Turns JSON error reports on when `--json` is among the options (before any `--`).
    static func configure(arguments: [String]) {
        json = arguments.prefix(while: { $0 != "--" }).contains("--json")
    }

    /// Keeps the first error of the run (the one that stops it) and the library error behind it.
    static func record(_ line: String, error: (any Error)?) {
        lock.lock()
        defer { lock.unlock() }
        guard message == nil else { return }
        message = line
        causes = error.map(chain) ?? []
    }

    /// Writes the JSON object on stdout when `--json` was given; `fallback` is the message when none was recorded.
    static func emit(kind: String, exitCode: Int32, fallback: String? = nil) {
        guard json else { return }
        lock.lock()
        let text = message ?? fallback ?? "failed"
        let names = causes
        lock.unlock()
        var object: [String: Any] = ["kind": kind, "exit_code": Int(exitCode), "message": text]
        if let first = names.first {
            object["type"] = first
            object["causes"] = names
        }
        guard let data = try? JSONSerialization.data(withJSONObject: ["error": object],
                                                     options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) else { return }
        // A failing stdout is ignored: the stderr line has said it already.
        writeStandardOutputQuietly(String(decoding: data, as: UTF8.self) + "\n")
    }

    /// `Type.case` of `error` and of each error wrapped in its payload (`PipelineError.modelFile` →
    /// `ModelBundleError.…` → `SafetensorsError.…`).
    static func chain(_ error: any Error) -> [String] {
        var names: [String] = []
        var current: Any? = error
        while let value = current, names.count < 8 {
            let typeName = String(describing: type(of: value))
            let mirror = Mirror(reflecting: value)
            guard mirror.displayStyle == .enum, let child = mirror.children.first, let label = child.label else {
                names.append(typeName)
                break
            }
            names.append("\(typeName).\(label)")
            if child.value is any Error {
                current = child.value
            } else {
                current = Mirror(reflecting: child.value).children.first(where: { $0.value is any Error })?.value
            }
        }
        return names
    }
}
