import Foundation

/// Turns a file's keys into ``LoRAModule``s: splits keys, groups them by module,
/// resolves targets, picks the family (NUMERICS §1.10) and applies the scale rules (§1.1).
struct LoRAModuleBuilder {
    let file: SafetensorsFile
    var modules: [LoRAModule] = []
    var unrecognized: [UnrecognizedKeys] = []
    var warnings: [String] = []
    var embeddedTokens: [EmbeddedToken] = []
    var formatCounts: [LoRAFormat: Int] = [:]
    /// Which kohya prefixes occur (`lora_te_`, `lora_te1_`…), as evidence for base-model detection.
    var kohyaPrefixes: Set<String> = []
    /// The base model a cloneofsimo file's shapes imply.
    var cloneofsimoBase: BaseModel?

    init(file: SafetensorsFile) { self.file = file }

    struct Group {
        var stem: String
        var tensors: [TensorRole: TensorView] = [:]
        var keys: [String] = []
        var styles: Set<SuffixStyle> = []
    }

    mutating func build() {
        var groups: [String: Group] = [:]
        var order: [String] = []
        var leftovers: [String] = []
        var cloneofsimo: [TensorInfo] = []
        var adapterNames: Set<String> = []
        let metadata = file.metadata ?? [:]
        for info in file.tensors {
            let key = info.name
            if CloneofsimoKeyMapping.parse(key) != nil { cloneofsimo.append(info); continue }
            if key.hasPrefix("<") && key.hasSuffix(">") || metadata[key] == "<embed>" {
                embeddedTokens.append(EmbeddedToken(name: key, shape: info.shape))
                continue
            }
            let folded = LoRAKeyParser.foldAdapterName(key)
            if let name = folded.adapter { adapterNames.insert(name) }
            guard let parsed = LoRAKeyParser.split(folded.key) else { leftovers.append(key); continue }
            if groups[parsed.stem] == nil { order.append(parsed.stem); groups[parsed.stem] = Group(stem: parsed.stem) }
            if groups[parsed.stem]!.tensors[parsed.role] != nil {
                unrecognized.append(.init(module: parsed.stem, keys: [key], reason: "second tensor for role \(parsed.role.rawValue) (another adapter name?)"))
                continue
            }
            groups[parsed.stem]!.tensors[parsed.role] = file.tensor(info)
            groups[parsed.stem]!.keys.append(key)
            groups[parsed.stem]!.styles.insert(parsed.suffixStyle)
        }
        if adapterNames.count > 1 {
            warnings.append("several PEFT adapter names (\(adapterNames.sorted().joined(separator: ", "))): only the first tensor per module role is used")
        }
        // IA³ vectors are plain `<stem>.weight`: only recognised next to an `on_input`.
        for key in leftovers {
            if key.hasSuffix(".weight") {
                let stem = String(key.dropLast(".weight".count))
                if groups[stem]?.tensors[.onInput] != nil, let info = file.info(named: key) {
                    groups[stem]!.tensors[.ia3Weight] = file.tensor(info)
                    groups[stem]!.keys.append(key)
                    continue
                }
            }
            unrecognized.append(.init(module: key, keys: [key], reason: "not a known LoRA, LyCORIS or PEFT tensor name"))
        }
        let adapterMetadata = AdapterMetadata(metadata: metadata)
        var seenTargets: [ModuleTarget: String] = [:]
        for stem in order {
            guard let group = groups[stem] else { continue }
            let suffixStyle: SuffixStyle = group.styles.contains(.legacyProcessor) ? .legacyProcessor
                : group.styles.contains(.loraCompatible) ? .loraCompatible
                : group.styles.contains(.peft) ? .peft : .kohya
            let resolved: (ModuleTarget, LoRAKeyParser.StemStyle)
            switch LoRAKeyParser.resolve(stem: stem, suffixStyle: suffixStyle) {
            case .success(let r): resolved = r
            case .failure(let e):
                unrecognized.append(.init(module: stem, keys: group.keys.sorted(), reason: e.reason))
                continue
            }
            let target = resolved.0
            if let other = seenTargets[target] {
                unrecognized.append(.init(module: stem, keys: group.keys.sorted(), reason: "patches \(target) again (already patched by \(other))"))
                warnings.append("\(target) is named twice (\(other), \(stem)); the second is not used")
                continue
            }
            for (prefix, _) in KohyaKeyMapping.prefixes where stem.hasPrefix(prefix) { kohyaPrefixes.insert(prefix) }
            let usesMetadataAlpha = suffixStyle != .kohya && group.tensors[.alpha] == nil
            let metaAlpha = usesMetadataAlpha ? adapterMetadata?.alpha(for: target) : nil
            switch makeModule(target: target, group: group, metadataAlpha: metaAlpha) {
            case .success(let module):
                seenTargets[target] = stem
                modules.append(module)
                let format = Self.format(stemStyle: resolved.1, suffixStyle: suffixStyle, family: module.family, hasMid: module.hasMid)
                formatCounts[format, default: 0] += 1
            case .failure(let e):
                unrecognized.append(.init(module: stem, keys: group.keys.sorted(), reason: e.reason))
            }
        }
        if !cloneofsimo.isEmpty { buildCloneofsimo(cloneofsimo, metadata: metadata) }
        if !embeddedTokens.isEmpty {
            warnings.append("embedded textual-inversion tokens (\(embeddedTokens.map(\.name).joined(separator: ", "))) are not merged into weights; use them as embeddings")
        }
    }

    static func format(stemStyle: LoRAKeyParser.StemStyle, suffixStyle: SuffixStyle, family: AdapterFamily, hasMid: Bool) -> LoRAFormat {
        switch suffixStyle {
        case .legacyProcessor: return .legacyAttentionProcessor
        case .loraCompatible: return .diffusersLoRACompatible
        case .peft: return stemStyle == .ldmDotted ? .ldmDotted : .peftDiffusers
        case .kohya:
            if stemStyle == .ldmDotted { return .ldmDotted }
            if case .kohya = stemStyle {
                return (family == .lora || family == .locon) && !hasMid ? .kohya : .lycoris
            }
            return (family == .lora || family == .locon) ? .peftDiffusers : .lycoris
        }
    }

    struct BuildFailure: Error { var reason: String }

    func scalar(_ view: TensorView?) -> Result<Float?, BuildFailure> {
        guard let view else { return .success(nil) }
        guard view.elementCount == 1 else {
            return .failure(.init(reason: "\(view.name) has \(view.elementCount) elements, expected a scalar"))
        }
        let v = view.floats()[0]
        guard v.isFinite else { return .failure(.init(reason: "\(view.name) is not finite")) }
        return .success(v)
    }

    mutating func makeModule(target: ModuleTarget, group: Group, metadataAlpha: (alpha: Float?, rsLoRA: Bool)?) -> Result<LoRAModule, BuildFailure> {
        let t = group.tensors
        let has = { (r: TensorRole) in t[r] != nil }
        let family: AdapterFamily
        var rank: Int?
        var usesAlpha = true
        func shape(_ r: TensorRole) -> [Int] { t[r]?.shape ?? [] }
        if has(.up) || has(.down) {
            guard has(.up), has(.down) else { return .failure(.init(reason: "up and down factors must both be present")) }
            let down = shape(.down), up = shape(.up)
            guard down.count >= 2, up.count >= 2, down[0] > 0 else { return .failure(.init(reason: "up/down are not matrices")) }
            rank = down[0]
            let upRank = up.dropFirst().reduce(1, *)
            if has(.mid) {
                let mid = shape(.mid)
                guard mid.count == 4, mid[1] == down[0], mid[0] == upRank else {
                    return .failure(.init(reason: "lora_mid \(LoRAError.format(mid)) does not fit the factors"))
                }
            } else if upRank != down[0] {
                return .failure(.init(reason: "up \(LoRAError.format(up)) and down \(LoRAError.format(down)) ranks differ"))
            }
            family = (down.count == 4 || up.count == 4) ? .locon : .lora
        } else if has(.hadaW1A) || has(.hadaW1B) || has(.hadaW2A) || has(.hadaW2B) {
            guard has(.hadaW1A), has(.hadaW1B), has(.hadaW2A), has(.hadaW2B) else {
                return .failure(.init(reason: "LoHa needs hada_w1_a, hada_w1_b, hada_w2_a and hada_w2_b"))
            }
            guard has(.hadaT1) == has(.hadaT2) else { return .failure(.init(reason: "LoHa Tucker needs both hada_t1 and hada_t2")) }
            family = .loha
            rank = shape(.hadaW1B).first
        } else if has(.lokrW1) || has(.lokrW1A) || has(.lokrW2) || has(.lokrW2A) {
            let w1ok = has(.lokrW1) || (has(.lokrW1A) && has(.lokrW1B))
            let w2ok = has(.lokrW2) || (has(.lokrW2A) && has(.lokrW2B))
            guard w1ok, w2ok else { return .failure(.init(reason: "LoKr needs lokr_w1 (or w1_a+w1_b) and lokr_w2 (or w2_a+w2_b)")) }
            family = .lokr
            // NUMERICS §1.4: rank from w2_b when W2 is decomposed, else from w1_b; none when both are full.
            if !has(.lokrW2), let r = shape(.lokrW2B).first { rank = r }
            else if !has(.lokrW1), let r = shape(.lokrW1B).first { rank = r }
            else { rank = nil }
        } else if has(.diff) || has(.diffB) {
            family = .full; usesAlpha = false
        } else if has(.wNorm) || has(.bNorm) {
            family = .norm; usesAlpha = false
        } else if has(.onInput) {
            guard has(.ia3Weight) else { return .failure(.init(reason: "IA3 on_input without its weight vector")) }
            family = .ia3; usesAlpha = false
        } else {
            return .failure(.init(reason: "no weight tensors (only \(t.keys.map(\.rawValue).sorted().joined(separator: ", ")))"))
        }
        var alpha: Float?
        switch scalar(t[.alpha]) {
        case .success(let a): alpha = a
        case .failure(let e): return .failure(e)
        }
        var rsLoRA = false
        if alpha == nil, let meta = metadataAlpha { alpha = meta.alpha; rsLoRA = meta.rsLoRA }
        if alpha == 0, usesAlpha {
            warnings.append("\(target): alpha is 0; treated as missing (scale 1), as kohya does")
            alpha = nil
        }
        if !usesAlpha { alpha = nil }
        var scale: Float = 1
        if let alpha, let rank, rank > 0 {
            scale = rsLoRA ? alpha / Float(rank).squareRoot() : alpha / Float(rank)
        }
        switch scalar(t[.scale]) {
        case .success(let s): if let s { scale = s }
        case .failure(let e): return .failure(e)
        }
        var onInput = false
        if family == .ia3 {
            switch scalar(t[.onInput]) {
            case .success(let v): onInput = (v ?? 0) != 0
            case .failure(let e): return .failure(e)
            }
        }
        let ignored: [TensorRole] = [.biasIndices, .biasValues, .biasSize]
        let ignoredKeys = ignored.compactMap { t[$0]?.name }
        if !ignoredKeys.isEmpty {
            unrecognized.append(.init(module: group.stem, keys: ignoredKeys.sorted(), reason: "sparse weight residual (LyCORIS extractor) is not applied"))
        }
        var kept = t
        for r in ignored { kept[r] = nil }
        return .success(LoRAModule(
            target: target, family: family, rank: rank, alpha: alpha, scale: scale, isDoRA: t[.doraScale] != nil,
            sourceKeys: kept.values.map(\.name).sorted(), tensors: kept, ia3OnInput: onInput))
    }
}
