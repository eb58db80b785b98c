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
        return LoRAConcatenation.kohyaName(target, usesSecondEncoder: usesSecondEncoder)
    }
}
