import Foundation

/// The PEFT configuration diffusers stores as JSON under the `lora_adapter_metadata`
/// header key: `<component>.r`, `<component>.lora_alpha`, `<component>.alpha_pattern`,
/// `<component>.rank_pattern`, `<component>.use_rslora`, `<component>.use_dora`.
struct AdapterMetadata: Sendable {
    struct Component: Sendable {
        var rank: Int?
        var alpha: Float?
        var alphaPattern: [String: Float] = [:]
        var rankPattern: [String: Int] = [:]
        var useRSLoRA = false
    }

    var components: [ModelComponent: Component] = [:]

    /// Parses the metadata value; nil when absent or not a JSON object.
    init?(metadata: [String: String]) {
        guard let raw = metadata[PEFTKeyMapping.metadataKey],
              let object = try? JSONSerialization.jsonObject(with: Data(raw.utf8)) as? [String: Any] else { return nil }
        for (key, value) in object {
            guard let dot = key.firstIndex(of: ".") else { continue }
            let prefix = String(key[..<dot]), field = String(key[key.index(after: dot)...])
            guard let component = ModelComponent(rawValue: prefix) else { continue }
            var c = components[component] ?? Component()
            switch field {
            case "r": c.rank = (value as? NSNumber)?.intValue
            case "lora_alpha": c.alpha = (value as? NSNumber)?.floatValue
            case "use_rslora": c.useRSLoRA = (value as? Bool) ?? ((value as? NSNumber)?.boolValue ?? false)
            case "alpha_pattern":
                for (k, v) in (value as? [String: Any]) ?? [:] { if let n = v as? NSNumber { c.alphaPattern[k] = n.floatValue } }
            case "rank_pattern":
                for (k, v) in (value as? [String: Any]) ?? [:] { if let n = v as? NSNumber { c.rankPattern[k] = n.intValue } }
            default: break
            }
            components[component] = c
        }
    }

    /// The alpha PEFT would use for `target`: the longest matching `alpha_pattern` key, else `lora_alpha`.
    /// A pattern key matches a module name equal to it or ending in `.` + it (with and without `text_model.`).
    func alpha(for target: ModuleTarget) -> (alpha: Float?, rsLoRA: Bool) {
        guard let c = components[target.component] else { return (nil, false) }
        let names = [target.path, target.path.hasPrefix("text_model.") ? String(target.path.dropFirst("text_model.".count)) : target.path]
        let match = c.alphaPattern.keys
            .filter { key in names.contains { $0 == key || $0.hasSuffix("." + key) || Self.regexMatches(key, $0) } }
            .max { $0.count < $1.count }
        return (match.flatMap { c.alphaPattern[$0] } ?? c.alpha, c.useRSLoRA)
    }

    /// PEFT's `(.*\.)?key$` match, for keys that are regular expressions.
    static func regexMatches(_ key: String, _ name: String) -> Bool {
        guard key.contains(where: { "*+?[]()|^$\\".contains($0) }),
              let re = try? NSRegularExpression(pattern: "^(.*\\.)?(\(key))$") else { return false }
        return re.firstMatch(in: name, range: NSRange(name.startIndex..., in: name)) != nil
    }
}
