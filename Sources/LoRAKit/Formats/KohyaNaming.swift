/// Key stems for the kohya-layout files LoRAKit writes (concatenation, SVD merge,
/// extraction): `lora_unet_…`, `lora_te_…` or `lora_te1_…`/`lora_te2_…`, with SDXL UNet
/// modules under SGM block names (`lora_unet_input_blocks_4_1_…`) as kohya's own tools
/// write them. Readers, ours included, accept either spelling.
struct KohyaNaming: Sendable {
    let usesSecondEncoder: Bool
    /// The SGM table, for SDXL.
    let sgm: UNetBlockMapping?

    init(base: BaseModel?, usesSecondEncoder: Bool) {
        self.usesSecondEncoder = usesSecondEncoder || base == .sdxl
        self.sgm = base == .sdxl ? UNetBlockMapping.forBase(.sdxl) : nil
    }

    /// The stem for `target`; an SDXL UNet layer without an SGM name keeps its diffusers form.
    func stem(_ target: ModuleTarget) -> String {
        if target.component == .unet, let sgm, let ldm = sgm.diffusersToLDM[target.path] {
            return "lora_unet_" + KohyaKeyMapping.flatten(ldm)
        }
        return Self.plainStem(target, usesSecondEncoder: usesSecondEncoder)
    }

    /// `lora_unet_` / `lora_te_` (`lora_te1_` beside a second encoder) / `lora_te2_` + the flattened
    /// diffusers / transformers module path.
    static func plainStem(_ target: ModuleTarget, usesSecondEncoder: Bool) -> String {
        let prefix = switch target.component {
        case .unet: "lora_unet_"
        case .textEncoder: usesSecondEncoder ? "lora_te1_" : "lora_te_"
        case .textEncoder2: "lora_te2_"
        }
        return prefix + KohyaKeyMapping.flatten(target.path)
    }
}
