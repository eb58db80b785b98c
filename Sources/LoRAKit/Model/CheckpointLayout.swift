/// Where each model part lives in a single-file checkpoint (LDM/SGM names) and how its
/// parameter names are spelled there.
enum CheckpointLayout {
    enum Encoding { case unet, clip, openCLIP, vae }

    struct Section {
        var prefix: String
        var part: ModelPart
        var encoding: Encoding
    }

    /// No prefix is a prefix of another.
    static let sections: [Section] = [
        Section(prefix: "model.diffusion_model.", part: .unet, encoding: .unet),
        Section(prefix: "cond_stage_model.transformer.", part: .textEncoder, encoding: .clip),        // SD1.x
        Section(prefix: "cond_stage_model.model.", part: .textEncoder, encoding: .openCLIP),          // SD2.x
        Section(prefix: "conditioner.embedders.0.transformer.", part: .textEncoder, encoding: .clip), // SDXL TE1
        Section(prefix: "conditioner.embedders.1.model.", part: .textEncoder2, encoding: .openCLIP),  // SDXL TE2
        Section(prefix: "first_stage_model.", part: .vae, encoding: .vae),
    ]

    /// The section a tensor name belongs to, or nil when it is not a checkpoint name.
    static func section(of name: String) -> Section? {
        sections.first { name.hasPrefix($0.prefix) }
    }

    /// Whether a tensor name belongs to a single-file checkpoint layout.
    static func isCheckpointName(_ name: String) -> Bool { section(of: name) != nil }
}
