/// The SGM/LDM ↔ diffusers UNet module-path table (NUMERICS §2.3) for one
/// architecture, built from ``UNetArchitecture``'s module list and the name rules
/// of ``UNetCheckpointNames`` (the same rules single-file checkpoints are read with).
///
/// Paths are module paths (no `.weight`/`.bias`); LDM paths are relative to
/// `model.diffusion_model.`. Used to read kohya SDXL keys (`input_blocks_4_1_…`).
struct UNetBlockMapping: Sendable {
    /// diffusers path → LDM path.
    let diffusersToLDM: [String: String]
    /// LDM path → diffusers path.
    let ldmToDiffusers: [String: String]

    init(architecture: UNetArchitecture) {
        let upWithAttention = Set((0..<architecture.levels).filter { architecture.upHasAttention($0) })
        var forward: [String: String] = [:]
        for (path, _) in architecture.diffusersModules {
            if let ldm = UNetCheckpointNames.originalName(diffusers: path + ".weight", upBlocksWithAttention: upWithAttention) {
                forward[path] = String(ldm.dropLast(".weight".count))
            }
        }
        diffusersToLDM = forward
        var backward: [String: String] = [:]
        for (d, l) in forward { backward[l] = d }
        ldmToDiffusers = backward
    }

    static let sd1 = UNetBlockMapping(architecture: .sd1)
    static let sd2 = UNetBlockMapping(architecture: .sd2)
    static let sdxl = UNetBlockMapping(architecture: .sdxl)

    static func forBase(_ base: BaseModel) -> UNetBlockMapping {
        switch base {
        case .sd1: sd1
        case .sd2: sd2
        case .sdxl: sdxl
        }
    }
}
