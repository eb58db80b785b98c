/// Every module path a Stable Diffusion LoRA can name, generated from
/// ``UNetArchitecture`` and ``TextEncoderArchitecture``, with the lookup tables that
/// resolve flattened kohya names exactly (the forward map of NUMERICS §2.5).
struct ModuleCatalog: Sendable {
    struct Entry: Sendable {
        var path: String
        var kind: LayerKind
        /// The base models whose UNet (or text encoder) has this module.
        var bases: Set<BaseModel>
    }

    /// diffusers UNet path → entry.
    let unet: [String: Entry]
    /// Flattened diffusers or SGM UNet name (no prefix) → entry.
    let unetFlattened: [String: Entry]
    /// Flattened SGM names (a subset of `unetFlattened`'s keys).
    let sgmFlattened: Set<String>
    /// Text-encoder path with `text_model.` → entry. `bases` holds the models whose encoder has it.
    let textEncoder: [String: Entry]
    /// Flattened text-encoder name, with and without `text_model_`, → entry.
    let textEncoderFlattened: [String: Entry]
    /// Flattened names that two distinct paths produce (must stay empty).
    let collisions: [String]

    static let shared = ModuleCatalog()

    init() {
        var unet: [String: Entry] = [:]
        for arch in UNetArchitecture.all {
            for (path, kind) in arch.diffusersModules {
                unet[path, default: Entry(path: path, kind: kind, bases: [])].bases.insert(arch.base)
            }
        }
        var collisions: [String] = []
        var flat: [String: Entry] = [:]
        func register(_ name: String, _ entry: Entry) {
            if let existing = flat[name], existing.path != entry.path {
                collisions.append(name)
                return
            }
            var merged = flat[name] ?? entry
            merged.bases.formUnion(entry.bases)
            flat[name] = merged
        }
        for entry in unet.values { register(KohyaKeyMapping.flatten(entry.path), entry) }
        var sgm = Set<String>()
        for (ldm, value) in SGMKeyMapping.ldmToDiffusers {
            guard let target = unet[value.path] else { continue }
            let name = KohyaKeyMapping.flatten(ldm)
            sgm.insert(name)
            register(name, Entry(path: target.path, kind: target.kind, bases: value.bases))
        }
        var te: [String: Entry] = [:]
        let encoders: [(TextEncoderArchitecture, BaseModel)] = [(.clipL, .sd1), (.clipL, .sdxl), (.openCLIPH, .sd2), (.openCLIPBigG, .sdxl)]
        for (arch, base) in encoders {
            for (path, kind) in arch.modules {
                te[path, default: Entry(path: path, kind: kind, bases: [])].bases.insert(base)
            }
        }
        var teFlat: [String: Entry] = [:]
        for entry in te.values {
            let f = KohyaKeyMapping.flatten(entry.path)
            teFlat[f] = entry
            if f.hasPrefix("text_model_") { teFlat[String(f.dropFirst("text_model_".count))] = entry }
        }
        self.unet = unet
        self.unetFlattened = flat
        self.sgmFlattened = sgm
        self.textEncoder = te
        self.textEncoderFlattened = teFlat
        self.collisions = collisions.sorted()
    }
}
