/// What a safetensors file of model weights is, told from its tensor names alone — the one
/// place LoRAKit sniffs model kinds (merge targets, extraction inputs, library entries).
package enum ModelKind: Equatable, Sendable {
    /// A single-file checkpoint in original LDM/SGM names (`model.diffusion_model.`, `cond_stage_model.`,
    /// `conditioner.embedders.N.`, `first_stage_model.`), with the parts it holds.
    case checkpoint(Set<ModelPart>)
    /// One diffusers / transformers component file (`unet/…`, `text_encoder/…`, `vae/…`).
    case diffusersComponent(ModelPart)
    /// A standalone VAE in LDM names (`encoder.down.0.block.0.…`, as VAE files are shared).
    case ldmVAE
    /// A ControlNet, in either naming.
    case controlNet

    /// The kind of a file with these tensor names, or nil when the names fit no model part.
    package static func sniff(_ names: [String]) -> ModelKind? {
        func any(_ prefix: String) -> Bool { names.contains { $0.hasPrefix(prefix) } }
        let sectionParts = Set(names.compactMap { CheckpointLayout.section(of: $0)?.part })
        if !sectionParts.isEmpty { return .checkpoint(sectionParts) }
        if any("control_model.") || any("controlnet_cond_embedding.") || any("controlnet_down_blocks.") { return .controlNet }
        if any("encoder.") && any("decoder.") && (any("quant_conv.") || any("post_quant_conv.")) {
            return any("encoder.down_blocks.") || any("decoder.up_blocks.") ? .diffusersComponent(.vae) : .ldmVAE
        }
        if any("down_blocks.") || names.contains("conv_in.weight") { return .diffusersComponent(.unet) }
        if any("text_model.") || any("encoder.layers.") {
            return .diffusersComponent(any("text_projection") ? .textEncoder2 : .textEncoder)
        }
        return nil
    }

    /// The weight-holding parts of a file of this kind.
    package var parts: Set<ModelPart> {
        switch self {
        case .checkpoint(let parts): parts
        case .diffusersComponent(let part): [part]
        case .ldmVAE: [.vae]
        case .controlNet: []
        }
    }
}
