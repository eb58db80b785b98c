/// SGM / LDM UNet block names (`input_blocks_4_1_…`, `diffusion_model.middle_block.1.…`)
/// translated to diffusers paths through ``UNetBlockMapping`` (NUMERICS §2.3).
enum SGMKeyMapping {
    /// Dotted prefixes of LDM-named UNet keys (ComfyUI "generic" files and single-file checkpoints).
    static let dottedPrefixes = ["model.diffusion_model.", "diffusion_model."]

    /// First parts of an LDM UNet path.
    static let roots: Set<String> = [
        "input_blocks", "middle_block", "output_blocks", "time_embed", "label_emb", "out",
    ]

    /// LDM path → diffusers path over all architectures, and the architectures each name exists in.
    static let ldmToDiffusers: [String: (path: String, bases: Set<BaseModel>)] = {
        var table: [String: (path: String, bases: Set<BaseModel>)] = [:]
        for arch in UNetArchitecture.all {
            for (ldm, diffusers) in UNetBlockMapping.forBase(arch.base).ldmToDiffusers {
                if var entry = table[ldm], entry.path == diffusers {
                    entry.bases.insert(arch.base)
                    table[ldm] = entry
                } else if table[ldm] == nil {
                    table[ldm] = (diffusers, [arch.base])
                }
            }
        }
        return table
    }()
}
