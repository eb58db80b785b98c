/// The SGM/LDM ↔ diffusers UNet module-path table (NUMERICS §2.3), generated from
/// ``UNetArchitecture`` so that SD1.x, SD2.x and SDXL each get their exact table.
///
/// Paths are module paths (no `.weight`/`.bias`); LDM paths are relative to
/// `model.diffusion_model.`. Used to read kohya SDXL keys (`input_blocks_4_1_…`)
/// and to place diffusers-named deltas into single-file checkpoints.
struct UNetBlockMapping: Sendable {
    /// diffusers path → LDM path.
    let diffusersToLDM: [String: String]
    /// LDM path → diffusers path.
    let ldmToDiffusers: [String: String]

    init(architecture: UNetArchitecture) {
        var forward: [String: String] = [:]
        for (path, _) in architecture.diffusersModules {
            if let ldm = Self.ldmPath(forDiffusers: path, architecture: architecture) { forward[path] = ldm }
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

    /// Resnet internals: diffusers name → LDM name.
    static let resnetRenames: [(diffusers: String, ldm: String)] = [
        ("norm1", "in_layers.0"), ("conv1", "in_layers.2"), ("norm2", "out_layers.0"),
        ("conv2", "out_layers.3"), ("time_emb_proj", "emb_layers.1"), ("conv_shortcut", "skip_connection"),
    ]

    /// Top-level modules: diffusers name → LDM name.
    static let topLevel: [String: String] = [
        "conv_in": "input_blocks.0.0",
        "time_embedding.linear_1": "time_embed.0", "time_embedding.linear_2": "time_embed.2",
        "add_embedding.linear_1": "label_emb.0.0", "add_embedding.linear_2": "label_emb.0.2",
        "conv_norm_out": "out.0", "conv_out": "out.2",
    ]

    /// The LDM path of one diffusers module path, or nil when it has none.
    static func ldmPath(forDiffusers path: String, architecture a: UNetArchitecture) -> String? {
        if let top = topLevel[path] { return top }
        let parts = path.split(separator: ".").map(String.init)
        let L = a.layersPerBlock
        func rest(_ from: Int) -> [String] { Array(parts[from...]) }
        func resnetInner(_ inner: [String]) -> String? {
            let name = inner.joined(separator: ".")
            return resnetRenames.first { $0.diffusers == name }?.ldm
        }
        guard parts.count >= 3 else { return nil }
        switch parts[0] {
        case "down_blocks":
            guard let i = Int(parts[1]), parts.count >= 4 else { return nil }
            if parts[2] == "downsamplers" { return "input_blocks.\(3 * (i + 1)).0.op" }
            guard let j = Int(parts[3]) else { return nil }
            let n = (L + 1) * i + j + 1
            if parts[2] == "resnets" { return resnetInner(rest(4)).map { "input_blocks.\(n).0.\($0)" } }
            if parts[2] == "attentions" { return (["input_blocks.\(n).1"] + rest(4)).joined(separator: ".") }
            return nil
        case "mid_block":
            guard let j = Int(parts[2]), parts.count >= 4 else { return nil }
            if parts[1] == "resnets" { return resnetInner(rest(3)).map { "middle_block.\(2 * j).\($0)" } }
            if parts[1] == "attentions" { return (["middle_block.1"] + rest(3)).joined(separator: ".") }
            return nil
        case "up_blocks":
            guard let i = Int(parts[1]), parts.count >= 4 else { return nil }
            if parts[2] == "upsamplers" {
                let k = a.upHasAttention(i) ? 2 : 1
                return "output_blocks.\((L + 1) * i + L).\(k).conv"
            }
            guard let j = Int(parts[3]) else { return nil }
            let n = (L + 1) * i + j
            if parts[2] == "resnets" { return resnetInner(rest(4)).map { "output_blocks.\(n).0.\($0)" } }
            if parts[2] == "attentions" { return (["output_blocks.\(n).1"] + rest(4)).joined(separator: ".") }
            return nil
        default:
            return nil
        }
    }
}
