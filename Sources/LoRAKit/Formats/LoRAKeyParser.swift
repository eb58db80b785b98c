/// Splits tensor keys into (module stem, role) and resolves stems to ``ModuleTarget``s,
/// using the data tables of the `KeyMapping+…` files. Pure functions over strings.
enum LoRAKeyParser {
    /// The key with a PEFT adapter name folded away (`lora_A.default_0.weight` → `lora_A.weight`),
    /// and the adapter name found, if any.
    static func foldAdapterName(_ key: String) -> (key: String, adapter: String?) {
        // Most keys name no adapter: skip the split unless a PEFT part can be present.
        guard containsLoRAPart(key) else { return (key, nil) }
        var parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 3 else { return (key, nil) }
        for i in 0..<(parts.count - 2) where PEFTKeyMapping.adapterNamedParts.contains(parts[i]) {
            if parts[i + 2] == "weight" && parts[i + 1] != "weight" {
                let name = parts.remove(at: i + 1)
                return (parts.joined(separator: "."), name)
            }
        }
        // `lora_magnitude_vector.<adapter>` as the last part (no `.weight`).
        if parts.count >= 2, parts[parts.count - 2] == "lora_magnitude_vector", parts.last != "weight" {
            let name = parts.removeLast()
            return (parts.joined(separator: "."), name)
        }
        return (key, nil)
    }

    /// Whether `key` contains `.lora_A`, `.lora_B` or `.lora_m` (the parts that may carry an
    /// adapter name); a plain byte scan, as Foundation's substring search is far slower.
    static func containsLoRAPart(_ key: String) -> Bool {
        let pattern: [UInt8] = Array(".lora_".utf8)
        var key = key
        return key.withUTF8 { bytes in
            guard bytes.count > pattern.count else { return false }
            for i in 0..<(bytes.count - pattern.count) where bytes[i] == pattern[0] {
                var j = 1
                while j < pattern.count && bytes[i + j] == pattern[j] { j += 1 }
                if j == pattern.count, [UInt8(ascii: "A"), UInt8(ascii: "B"), UInt8(ascii: "m")].contains(bytes[i + j]) {
                    return true
                }
            }
            return false
        }
    }

    /// Splits a key by its suffix, or nil when no known suffix matches.
    /// `.weight` alone (IA³) is decided by the caller, which knows the stems with `on_input`.
    static func split(_ key: String) -> ParsedKey? {
        for (suffix, role, style) in PEFTKeyMapping.suffixes where key.hasSuffix(suffix) {
            return ParsedKey(key: key, stem: String(key.dropLast(suffix.count)), role: role, suffixStyle: style)
        }
        for (suffix, role) in KohyaKeyMapping.suffixes where key.hasSuffix(suffix) {
            return ParsedKey(key: key, stem: String(key.dropLast(suffix.count)), role: role, suffixStyle: .kohya)
        }
        return nil
    }

    /// How a stem was spelled, for format detection.
    enum StemStyle: Sendable, Equatable {
        case kohya(sgm: Bool)
        case dotted
        case ldmDotted
    }

    /// Resolves a module stem to its target.
    /// - Returns: the target and the stem's style, or a reason it could not be resolved.
    static func resolve(stem: String, suffixStyle: SuffixStyle, catalog: ModuleCatalog = .shared)
        -> Result<(ModuleTarget, StemStyle), UnresolvedStem>
    {
        for (prefix, component) in KohyaKeyMapping.prefixes where stem.hasPrefix(prefix) {
            let flat = String(stem.dropFirst(prefix.count))
            if component == .unet {
                if let entry = catalog.unetFlattened[flat] {
                    return .success((ModuleTarget(component: .unet, path: entry.path), .kohya(sgm: catalog.sgmFlattened.contains(flat))))
                }
                return .failure(.init(reason: "no Stable Diffusion UNet module is named \"\(flat)\""))
            }
            if let entry = catalog.textEncoderFlattened[flat] {
                return .success((ModuleTarget(component: component, path: entry.path), .kohya(sgm: false)))
            }
            return .failure(.init(reason: "no CLIP text-encoder module is named \"\(flat)\""))
        }
        var rest = stem
        for wrapper in PEFTKeyMapping.wrapperPrefixes where rest.hasPrefix(wrapper) { rest.removeFirst(wrapper.count) }
        for prefix in SGMKeyMapping.dottedPrefixes where rest.hasPrefix(prefix) {
            let ldm = String(rest.dropFirst(prefix.count))
            if let hit = SGMKeyMapping.ldmToDiffusers[ldm] {
                return .success((ModuleTarget(component: .unet, path: hit.path), .ldmDotted))
            }
            return .failure(.init(reason: "no LDM UNet module is named \"\(ldm)\""))
        }
        var component: ModelComponent?
        for (prefix, c) in PEFTKeyMapping.componentPrefixes where rest.hasPrefix(prefix) {
            component = c
            rest.removeFirst(prefix.count)
            break
        }
        let first = rest.split(separator: ".").first.map(String.init) ?? rest
        if component == nil {
            if PEFTKeyMapping.unetRoots.contains(first) {
                component = .unet
            } else if first == "text_model" {
                component = .textEncoder
            } else if SGMKeyMapping.roots.contains(first), let hit = SGMKeyMapping.ldmToDiffusers[rest] {
                return .success((ModuleTarget(component: .unet, path: hit.path), .ldmDotted))
            }
        }
        guard let component else { return .failure(.init(reason: "unknown key prefix")) }
        var parts = rest.split(separator: ".").map(String.init).filter { $0 != "processor" }
        if suffixStyle == .legacyProcessor, let last = parts.last {
            let table = component == .unet ? PEFTKeyMapping.legacyUNetNames : PEFTKeyMapping.legacyTextEncoderNames
            guard let renamed = table[last] else { return .failure(.init(reason: "unknown attention-processor layer \"\(last)\"")) }
            parts.removeLast()
            parts += renamed.split(separator: ".").map(String.init)
        }
        var path = parts.joined(separator: ".")
        if component == .unet {
            if catalog.unet[path] != nil { return .success((ModuleTarget(component: .unet, path: path), .dotted)) }
            if let hit = SGMKeyMapping.ldmToDiffusers[path] {
                return .success((ModuleTarget(component: .unet, path: hit.path), .ldmDotted))
            }
            return .failure(.init(reason: "no Stable Diffusion UNet module is named \"\(path)\""))
        }
        if let p = parts.first, PEFTKeyMapping.textEncoderRootsWithoutTextModel.contains(p) { path = "text_model." + path }
        if catalog.textEncoder[path] != nil { return .success((ModuleTarget(component: component, path: path), .dotted)) }
        return .failure(.init(reason: "no CLIP text-encoder module is named \"\(path)\""))
    }

    struct UnresolvedStem: Error, Sendable {
        var reason: String
    }
}
