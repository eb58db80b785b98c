/// Which Stable Diffusion family a LoRA is for, and why.
public struct BaseModelDetection: Sendable, Equatable {
    /// The answer: from the tensor shapes and module names when they decide, else from metadata.
    public var detected: BaseModel?
    /// Human-readable reasons, strongest first.
    public var evidence: [String]
    /// What the training metadata says (`ss_base_model_version`, `ss_v2`, `modelspec.architecture`).
    public var metadataSays: BaseModel?
    /// A disagreement between shapes and metadata, or between metadata fields.
    public var conflict: String?

    public init(detected: BaseModel?, evidence: [String], metadataSays: BaseModel?, conflict: String?) {
        self.detected = detected
        self.evidence = evidence
        self.metadataSays = metadataSays
        self.conflict = conflict
    }
}

/// Shape- and name-based detection (cross-attention width 768 → SD1, 1024 → SD2, 2048 → SDXL;
/// a second text encoder or SDXL-only blocks → SDXL), with metadata as a second opinion.
enum BaseModelDetector {
    static func detect(modules: [LoRAModule], metadata: [String: String], kohyaPrefixes: Set<String>,
                       cloneofsimoBase: BaseModel?, catalog: ModuleCatalog = .shared) -> BaseModelDetection {
        var candidates = Set(BaseModel.allCases)
        var evidence: [String] = []
        var shapeConflict: String?
        func narrow(_ set: Set<BaseModel>, _ why: String) {
            let next = candidates.intersection(set)
            if next.isEmpty {
                shapeConflict = shapeConflict ?? "\(why) contradicts earlier evidence"
                return
            }
            if next != candidates { evidence.append(why) }
            candidates = next
        }
        if let cloneofsimoBase { narrow([cloneofsimoBase], "cloneofsimo widths fit \(cloneofsimoBase.displayName)") }
        let crossWidths: [Int: BaseModel] = [768: .sd1, 1024: .sd2, 2048: .sdxl]
        var crossSeen = Set<Int>()
        for m in modules where m.target.component == .unet && (m.target.path.hasSuffix("attn2.to_k") || m.target.path.hasSuffix("attn2.to_v")) {
            if let w = inputWidth(m) { crossSeen.insert(w) }
        }
        for w in crossSeen.sorted() {
            if let b = crossWidths[w] { narrow([b], "cross-attention width \(w) (attn2.to_k/to_v input) → \(b.displayName)") }
        }
        if modules.contains(where: { $0.target.component == .textEncoder2 }) {
            narrow([.sdxl], "a second text encoder (text_encoder_2 / lora_te2) → SDXL")
        } else if kohyaPrefixes.contains("lora_te1_") {
            narrow([.sdxl], "kohya lora_te1_ prefix (SDXL's first text encoder)")
        }
        if kohyaPrefixes.contains("lora_te_") { narrow([.sd1, .sd2], "kohya lora_te_ prefix (a single text encoder)") }
        var teWidths = Set<Int>()
        for m in modules where m.target.component == .textEncoder && m.target.path.hasSuffix("self_attn.q_proj") {
            if let w = inputWidth(m) { teWidths.insert(w) }
        }
        for w in teWidths.sorted() {
            switch w {
            case 768: narrow([.sd1, .sdxl], "text encoder width 768 (CLIP ViT-L)")
            case 1024: narrow([.sd2], "text encoder width 1024 (OpenCLIP ViT-H) → SD 2.x")
            default: break
            }
        }
        var unetBases = Set(BaseModel.allCases)
        var anyUNet = false
        for m in modules where m.target.component == .unet {
            if let entry = catalog.unet[m.target.path] { unetBases.formIntersection(entry.bases); anyUNet = true }
        }
        if anyUNet && unetBases.count < BaseModel.allCases.count && !unetBases.isEmpty {
            narrow(unetBases, "UNet block layout exists only in " + unetBases.sorted { $0.rawValue < $1.rawValue }.map(\.displayName).joined(separator: "/"))
        }
        for m in modules where m.target.component == .unet && m.target.path.hasSuffix("proj_in") {
            if let d = m.tensors[.down] ?? m.tensors[.up] {
                if d.shape.count == 4 { narrow([.sd1], "proj_in is a 1×1 convolution → SD 1.x") }
                else if d.shape.count == 2 && m.family == .lora { narrow([.sd2, .sdxl], "proj_in is Linear → SD 2.x or SDXL") }
                break
            }
        }
        let meta = metadataOpinion(metadata)
        var detected: BaseModel? = candidates.count == 1 ? candidates.first : nil
        if modules.isEmpty { detected = nil }
        var conflict = shapeConflict ?? meta.conflict
        if let said = meta.base {
            if let d = detected, d != said {
                conflict = "shapes say \(d.displayName) but metadata says \(said.displayName) (\(meta.source))"
            } else if detected == nil, candidates.contains(said) {
                detected = said
                evidence.append("metadata \(meta.source) → \(said.displayName)")
            } else if detected == nil {
                conflict = conflict ?? "metadata says \(said.displayName) (\(meta.source)), which the shapes rule out"
            }
        }
        if detected == nil && !modules.isEmpty && candidates.count > 1 {
            evidence.append("ambiguous: " + candidates.sorted { $0.rawValue < $1.rawValue }.map(\.displayName).joined(separator: " or "))
        }
        return BaseModelDetection(detected: detected, evidence: evidence, metadataSays: meta.base, conflict: conflict)
    }

    /// The input width of a module's layer, from its tensor shapes.
    static func inputWidth(_ m: LoRAModule) -> Int? {
        let t = m.tensors
        if let d = t[.down], d.shape.count >= 2 { return d.shape[1] }
        if let b = t[.hadaW1B], b.shape.count >= 2, t[.hadaT1] == nil { return b.shape[1] }
        if let d = t[.diff], d.shape.count >= 2 { return d.shape[1] }
        return nil
    }

    /// What the kohya / modelspec metadata claims.
    static func metadataOpinion(_ md: [String: String]) -> (base: BaseModel?, source: String, conflict: String?) {
        var opinions: [(BaseModel, String)] = []
        if let v = md["ss_base_model_version"]?.lowercased() {
            if v.contains("sdxl") { opinions.append((.sdxl, "ss_base_model_version=\(v)")) }
            else if v.contains("v2") { opinions.append((.sd2, "ss_base_model_version=\(v)")) }
            else if v.contains("v1") { opinions.append((.sd1, "ss_base_model_version=\(v)")) }
        }
        if let v = md["modelspec.architecture"]?.lowercased() {
            if v.contains("stable-diffusion-xl") { opinions.append((.sdxl, "modelspec.architecture=\(v)")) }
            else if v.contains("stable-diffusion-v2") { opinions.append((.sd2, "modelspec.architecture=\(v)")) }
            else if v.contains("stable-diffusion-v1") { opinions.append((.sd1, "modelspec.architecture=\(v)")) }
        }
        if let v = md["ss_v2"]?.lowercased(), !opinions.contains(where: { $0.1.hasPrefix("ss_base") }) {
            if v == "true" { opinions.append((.sd2, "ss_v2=True")) }
            else if v == "false", md["ss_sdxl_model_version"] == nil, !opinions.contains(where: { $0.0 == .sdxl }) {
                opinions.append((.sd1, "ss_v2=False"))
            }
        }
        guard let first = opinions.first else { return (nil, "", nil) }
        if let other = opinions.first(where: { $0.0 != first.0 }) {
            return (first.0, first.1, "metadata disagrees: \(first.1) vs \(other.1)")
        }
        return (first.0, opinions.map(\.1).joined(separator: ", "), nil)
    }
}
