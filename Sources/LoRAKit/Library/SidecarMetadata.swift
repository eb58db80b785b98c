import Foundation

/// The `<stem>.json` file UIs keep next to a LoRA: A1111's user metadata
/// (`"activation text"`, `"preferred weight"`, `"sd version"`, `"description"`, `"notes"`),
/// InvokeAI's `"trigger_phrases"`, Civitai helpers' `"trainedWords"` / `"trigger words"`.
public struct LoRASidecar: Sendable, Hashable, Codable {
    /// Trigger words / activation text, split on commas, in the order written.
    public var triggerWords: [String]
    /// The weight the user prefers (A1111 `"preferred weight"`), when set and non-zero.
    public var preferredWeight: Float?
    /// The model family written by the user (A1111 `"sd version"`: `SD1`, `SDXL`, `Unknown`…), as written.
    public var baseModelHint: String?
    /// Free text: `"description"`.
    public var description: String?
    /// Free text: `"notes"`.
    public var notes: String?

    /// Creates a sidecar record.
    public init(triggerWords: [String] = [], preferredWeight: Float? = nil, baseModelHint: String? = nil,
                description: String? = nil, notes: String? = nil) {
        self.triggerWords = triggerWords
        self.preferredWeight = preferredWeight
        self.baseModelHint = baseModelHint
        self.description = description
        self.notes = notes
    }

    /// Sidecars larger than this are ignored (a real one is a few hundred bytes).
    static let maximumSize = 1 << 20

    /// Keys holding trigger words, in the order they are read.
    static let triggerKeys = ["activation text", "activation_text", "trigger words", "trigger_words", "triggerWords",
                              "trigger_phrases", "trainedWords", "trained_words"]

    /// The A1111 / Civitai sidecar `<stem>.json` next to the LoRA file at `url`, when there is a useful one.
    public static func beside(_ url: URL) -> LoRASidecar? {
        read(path: url.deletingPathExtension().appendingPathExtension("json").path)
    }

    /// Reads and parses the sidecar at `path`; nil when it is missing, too large, not JSON or holds nothing useful.
    static func read(path: String) -> LoRASidecar? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let data = try? handle.read(upToCount: maximumSize + 1), data.count <= maximumSize else { return nil }
        return parse(data)
    }

    /// Parses sidecar JSON; nil when it is not a JSON object or holds nothing useful.
    static func parse(_ data: Data) -> LoRASidecar? {
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return nil }
        var out = LoRASidecar()
        var seen = Set<String>()
        for key in triggerKeys {
            for word in words(object[key]) where seen.insert(word.lowercased()).inserted {
                out.triggerWords.append(word)
            }
        }
        if let w = number(object["preferred weight"] ?? object["preferred_weight"]), w != 0, w.isFinite { out.preferredWeight = w }
        out.baseModelHint = text(object["sd version"] ?? object["sd_version"] ?? object["base_model"] ?? object["baseModel"])
        out.description = text(object["description"])
        out.notes = text(object["notes"])
        return out == LoRASidecar() ? nil : out
    }

    /// Comma-separated text, or an array of texts, as a list of trimmed non-empty words.
    private static func words(_ value: Any?) -> [String] {
        let parts: [String]
        if let s = value as? String {
            parts = s.split(separator: ",").map(String.init)
        } else if let array = value as? [Any] {
            parts = array.compactMap { $0 as? String }.flatMap { $0.split(separator: ",").map(String.init) }
        } else {
            parts = []
        }
        return parts.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    }

    private static func text(_ value: Any?) -> String? {
        guard let s = (value as? String)?.trimmingCharacters(in: .whitespacesAndNewlines), !s.isEmpty else { return nil }
        return s
    }

    private static func number(_ value: Any?) -> Float? {
        if let s = value as? String { return Float(s.trimmingCharacters(in: .whitespaces)) }
        return (value as? NSNumber)?.floatValue
    }
}
