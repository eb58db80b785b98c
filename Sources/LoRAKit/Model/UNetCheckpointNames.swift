/// UNet parameter names: diffusers ↔ original (LDM/SGM, `model.diffusion_model.*`).
///
/// SD1.x, SD2.x and SDXL share one rule set because all three have two layers
/// per block: `input_blocks.{3i+j+1}` is level i, layer j; `output_blocks.{3i+j}`
/// is up level i, layer j. Which up levels have attentions decides whether the
/// upsampler sits at sub-index 1 or 2; that comes from the model's own names.
/// Source of the table: diffusers `convert_ldm_unet_checkpoint` and kohya
/// `sdxl_model_util.make_unet_conversion_map` (NUMERICS.md §2.3).
enum UNetCheckpointNames {
    static let prefix = "model.diffusion_model."

    /// Whole-name renames at the top of the UNet (original, diffusers).
    static let topLevel: [(original: String, diffusers: String)] = [
        ("input_blocks.0.0.", "conv_in."),
        ("time_embed.0.", "time_embedding.linear_1."),
        ("time_embed.2.", "time_embedding.linear_2."),
        ("label_emb.0.0.", "add_embedding.linear_1."),
        ("label_emb.0.2.", "add_embedding.linear_2."),
        ("out.0.", "conv_norm_out."),
        ("out.2.", "conv_out."),
    ]

    /// Renames inside a resnet (original, diffusers).
    static let resnetLayers: [(original: String, diffusers: String)] = [
        ("in_layers.0.", "norm1."),
        ("in_layers.2.", "conv1."),
        ("out_layers.0.", "norm2."),
        ("out_layers.3.", "conv2."),
        ("emb_layers.1.", "time_emb_proj."),
        ("skip_connection.", "conv_shortcut."),
    ]

    /// The diffusers name of an original UNet parameter name (without `model.diffusion_model.`),
    /// or nil when the name is not a UNet parameter this table knows.
    static func diffusersName(original name: String) -> String? {
        for (o, d) in topLevel where name.hasPrefix(o) {
            return d + name.dropFirst(o.count)
        }
        let parts = name.split(separator: ".", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 4 || (parts.count == 3 && parts[0] == "middle_block") else { return nil }
        switch parts[0] {
        case "input_blocks":
            guard let n = Int(parts[1]), n >= 1, let sub = Int(parts[2]) else { return nil }
            let (i, j) = ((n - 1) / 3, (n - 1) % 3)
            let rest = parts[3]
            if j == 2 {
                guard sub == 0, rest.hasPrefix("op.") else { return nil }
                return "down_blocks.\(i).downsamplers.0.conv." + rest.dropFirst(3)
            }
            switch sub {
            case 0: return "down_blocks.\(i).resnets.\(j)." + resnetInner(original: rest)
            case 1: return "down_blocks.\(i).attentions.\(j)." + rest
            default: return nil
            }
        case "middle_block":
            let tail = name.split(separator: ".", maxSplits: 2).map(String.init)
            guard tail.count == 3, let k = Int(tail[1]) else { return nil }
            switch k {
            case 0: return "mid_block.resnets.0." + resnetInner(original: tail[2])
            case 1: return "mid_block.attentions.0." + tail[2]
            case 2: return "mid_block.resnets.1." + resnetInner(original: tail[2])
            default: return nil
            }
        case "output_blocks":
            guard let n = Int(parts[1]), let sub = Int(parts[2]) else { return nil }
            let (i, j) = (n / 3, n % 3)
            let rest = parts[3]
            switch sub {
            case 0: return "up_blocks.\(i).resnets.\(j)." + resnetInner(original: rest)
            case 1 where rest.hasPrefix("conv."), 2 where rest.hasPrefix("conv."):
                return "up_blocks.\(i).upsamplers.0." + rest
            case 1: return "up_blocks.\(i).attentions.\(j)." + rest
            default: return nil
            }
        default:
            return nil
        }
    }

    /// The original name of a diffusers UNet parameter name. `upBlocksWithAttention`
    /// lists the up levels that have attentions (their upsampler sits at sub-index 2).
    static func originalName(diffusers name: String, upBlocksWithAttention: Set<Int>) -> String? {
        for (o, d) in topLevel where name.hasPrefix(d) {
            return o + name.dropFirst(d.count)
        }
        let parts = name.split(separator: ".", maxSplits: 4, omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 4 else { return nil }
        if parts[0] == "mid_block" {
            guard let k = Int(parts[2]) else { return nil }
            let rest = parts.dropFirst(3).joined(separator: ".")
            switch (parts[1], k) {
            case ("resnets", 0): return "middle_block.0." + resnetInner(diffusers: rest)
            case ("attentions", 0): return "middle_block.1." + rest
            case ("resnets", 1): return "middle_block.2." + resnetInner(diffusers: rest)
            default: return nil
            }
        }
        guard parts.count == 5, let i = Int(parts[1]), let j = Int(parts[3]) else { return nil }
        let rest = parts[4]
        switch (parts[0], parts[2]) {
        case ("down_blocks", "resnets"): return "input_blocks.\(3 * i + j + 1).0." + resnetInner(diffusers: rest)
        case ("down_blocks", "attentions"): return "input_blocks.\(3 * i + j + 1).1." + rest
        case ("down_blocks", "downsamplers") where j == 0 && rest.hasPrefix("conv."):
            return "input_blocks.\(3 * (i + 1)).0.op." + rest.dropFirst(5)
        case ("up_blocks", "resnets"): return "output_blocks.\(3 * i + j).0." + resnetInner(diffusers: rest)
        case ("up_blocks", "attentions"): return "output_blocks.\(3 * i + j).1." + rest
        case ("up_blocks", "upsamplers") where j == 0:
            return "output_blocks.\(3 * i + 2).\(upBlocksWithAttention.contains(i) ? 2 : 1)." + rest
        default: return nil
        }
    }

    private static func resnetInner(original rest: String) -> String {
        for (o, d) in resnetLayers where rest.hasPrefix(o) { return d + rest.dropFirst(o.count) }
        return rest
    }

    private static func resnetInner(diffusers rest: String) -> String {
        for (o, d) in resnetLayers where rest.hasPrefix(d) { return o + rest.dropFirst(d.count) }
        return rest
    }
}
