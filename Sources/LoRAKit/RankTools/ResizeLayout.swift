import Foundation

/// Where a resized module's new rank and scale are recorded, in the layout of the format its keys are in,
/// so the written file describes its own tensors:
/// - kohya / LyCORIS keys: a `<stem>.alpha` tensor (kohya's resize writes one for every module);
/// - an `.alpha` tensor the input already had (any spelling): that tensor, updated;
/// - PEFT keys (`lora_A` / `lora_B`) with a `lora_adapter_metadata` config: `r`, `lora_alpha`, `rank_pattern`,
///   `alpha_pattern` of that config, rewritten for the new ranks; no `.alpha` tensors;
/// - cloneofsimo keys (`unet:N:down`): the `unet:N:rank` metadata; the format has no alpha;
/// - other spellings without an alpha (PEFT without config, diffusers LoRACompatible, old attention
///   processors): nothing; their scale is 1.
/// Where the layout cannot hold a scale other than 1, the scale is folded into the up factor.
enum ResizeLayout {
    enum ScaleStorage: Equatable {
        case alphaTensor(name: String)
        case peftConfig
        case cloneofsimoRank(metadataKey: String)
        case implicit
    }

    static func storage(for module: LoRAModule, down: TensorView, stem: String, hasPEFTConfig: Bool) -> ScaleStorage {
        if let alpha = module.tensors[.alpha] { return .alphaTensor(name: alpha.name) }
        if let c = CloneofsimoKeyMapping.parse(down.name) { return .cloneofsimoRank(metadataKey: "\(c.component.rawValue):\(c.index):rank") }
        if down.name.hasSuffix(".lora_A.weight") || down.name.hasSuffix(".lora_A.default.weight") {
            return hasPEFTConfig ? .peftConfig : .implicit
        }
        if down.name.hasSuffix(".lora_down.weight") && !down.name.contains(".lora.") { return .alphaTensor(name: stem + ".alpha") }
        return .implicit
    }

    /// Whether the storage can hold any alpha; otherwise the scale (α/r) must be 1 or folded into up.
    static func holdsAlpha(_ s: ScaleStorage) -> Bool {
        switch s {
        case .alphaTensor, .peftConfig: true
        case .cloneofsimoRank, .implicit: false
        }
    }

    /// The PEFT config with each listed component's rank fields recomputed from `modules`
    /// (name as PEFT patterns use it, rank, alpha); other fields and components are kept.
    static func peftMetadata(original: String, modules: [ModelComponent: [(name: String, rank: Int, alpha: Float)]]) -> String {
        let object = (try? JSONSerialization.jsonObject(with: Data(original.utf8))) as? [String: Any] ?? [:]
        var fields: [String: PEFTConfigJSON] = [:]
        for (key, value) in object { if let v = json(value) { fields[key] = v } }
        for (component, list) in modules where !list.isEmpty {
            let config = LoRAConversion.loraConfig(list)
            let replaced: Set<String> = ["r", "lora_alpha", "rank_pattern", "alpha_pattern", "use_rslora"]
            for (field, value) in config where replaced.contains(field) || fields[component.rawValue + "." + field] == nil {
                fields[component.rawValue + "." + field] = value
            }
        }
        return PEFTConfigJSON.object(fields.map { ($0.key, $0.value) }).pythonJSON()
    }

    /// A JSONSerialization value as ``PEFTConfigJSON`` (null dropped).
    static func json(_ value: Any) -> PEFTConfigJSON? {
        switch value {
        case let s as String: return .string(s)
        case let n as NSNumber:
            switch String(cString: n.objCType) {
            case "c", "B": return .bool(n.boolValue)
            case "d", "f": return .double(n.doubleValue)
            default: return .int(n.intValue)
            }
        case let a as [Any]: return .array(a.compactMap(json))
        case let o as [String: Any]: return .object(o.compactMap { k, v in json(v).map { (k, $0) } })
        default: return nil
        }
    }
}
