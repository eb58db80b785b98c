/// VAE (`AutoencoderKL`) parameter names: diffusers ↔ original LDM (`first_stage_model.*` in a
/// single-file checkpoint, or no prefix in a standalone VAE file).
///
/// The encoder's `down.{i}` is diffusers' `down_blocks.{i}`; the decoder's `up.{i}` is
/// `up_blocks.{levels-1-i}` (LDM numbers decoder levels from the lowest resolution up). The
/// mid-block attention's q/k/v/proj_out are 1×1 convolutions in LDM files (`[C, C, 1, 1]`) and
/// Linear layers in diffusers (`[C, C]`): the same bytes, a shorter shape. Source of the table:
/// diffusers `convert_ldm_vae_checkpoint`; proven by `Scripts/fixtures/model_layer_fixtures.py`.
enum VAECheckpointNames {
    /// Whole-name renames inside `encoder.` / `decoder.` (original, diffusers).
    static let sideTopLevel: [(original: String, diffusers: String)] = [
        ("conv_in.", "conv_in."),
        ("conv_out.", "conv_out."),
        ("norm_out.", "conv_norm_out."),
        ("mid.block_1.", "mid_block.resnets.0."),
        ("mid.block_2.", "mid_block.resnets.1."),
    ]

    /// Renames inside the mid-block attention (original, diffusers).
    static let attentionLayers: [(original: String, diffusers: String)] = [
        ("norm.", "group_norm."),
        ("q.", "to_q."),
        ("k.", "to_k."),
        ("v.", "to_v."),
        ("proj_out.", "to_out.0."),
    ]

    /// Renames inside a resnet (original, diffusers); the other layers keep their names.
    static let resnetLayers: [(original: String, diffusers: String)] = [
        ("nin_shortcut.", "conv_shortcut."),
    ]

    /// Names outside encoder and decoder, the same in both namings.
    static let unchanged = ["quant_conv.", "post_quant_conv."]

    static let attentionOriginal = "mid.attn_1."
    static let attentionDiffusers = "mid_block.attentions.0."

    /// The number of resolution levels of a VAE, from its original names (`decoder.up.N.`).
    static func levels(originalNames: [String], prefix: String) -> Int {
        let head = prefix + "decoder.up."
        var top = -1
        for name in originalNames where name.hasPrefix(head) {
            let rest = name.dropFirst(head.count)
            if let dot = rest.firstIndex(of: "."), let n = Int(rest[..<dot]) { top = max(top, n) }
        }
        return top + 1
    }

    /// The number of resolution levels of a VAE, from its diffusers names (`decoder.up_blocks.N.`).
    static func levels(diffusersNames: [String]) -> Int {
        let head = "decoder.up_blocks."
        var top = -1
        for name in diffusersNames where name.hasPrefix(head) {
            let rest = name.dropFirst(head.count)
            if let dot = rest.firstIndex(of: "."), let n = Int(rest[..<dot]) { top = max(top, n) }
        }
        return top + 1
    }

    /// Whether a diffusers VAE parameter is one of the mid-block attention's Linear weights.
    static func isAttentionMatrix(diffusers name: String) -> Bool {
        guard name.hasSuffix(".weight"), let range = name.range(of: attentionDiffusers) else { return false }
        let leaf = name[range.upperBound...]
        return ["to_q.weight", "to_k.weight", "to_v.weight", "to_out.0.weight"].contains(String(leaf))
    }

    /// The diffusers name of an original VAE parameter (without `first_stage_model.`), or nil when
    /// the table does not know it. `levels` is the VAE's level count (``levels(originalNames:prefix:)``).
    static func diffusersName(original name: String, levels: Int) -> String? {
        for u in unchanged where name.hasPrefix(u) { return name }
        let side: String
        if name.hasPrefix("encoder.") { side = "encoder" } else if name.hasPrefix("decoder.") { side = "decoder" } else { return nil }
        let rest = String(name.dropFirst(side.count + 1))
        for (o, d) in sideTopLevel where rest.hasPrefix(o) {
            let tail = String(rest.dropFirst(o.count))
            return "\(side).\(d)" + (o.hasPrefix("mid.block") ? rename(tail, resnetLayers, forward: true) : tail)
        }
        if rest.hasPrefix(attentionOriginal) {
            let tail = String(rest.dropFirst(attentionOriginal.count))
            for (o, d) in attentionLayers where tail.hasPrefix(o) {
                return "\(side).\(attentionDiffusers)\(d)" + tail.dropFirst(o.count)
            }
            return nil
        }
        // encoder.down.{i}.block.{j}.… / .downsample.conv.…; decoder.up.{i}.block.{j}.… / .upsample.conv.…
        let parts = rest.split(separator: ".", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 4, let i = Int(parts[1]) else { return nil }
        let (levelWord, samplerWord, blocks, samplers): (String, String, String, String) = side == "encoder"
            ? ("down", "downsample", "down_blocks", "downsamplers") : ("up", "upsample", "up_blocks", "upsamplers")
        guard parts[0] == levelWord else { return nil }
        let level = side == "encoder" ? i : levels - 1 - i
        guard level >= 0 else { return nil }
        if parts[2] == "block" {
            let inner = parts[3].split(separator: ".", maxSplits: 1).map(String.init)
            guard inner.count == 2, let j = Int(inner[0]) else { return nil }
            return "\(side).\(blocks).\(level).resnets.\(j)." + rename(inner[1], resnetLayers, forward: true)
        }
        if parts[2] == samplerWord, parts[3].hasPrefix("conv.") {
            return "\(side).\(blocks).\(level).\(samplers).0." + parts[3]
        }
        return nil
    }

    /// The original name of a diffusers VAE parameter (without `first_stage_model.`).
    static func originalName(diffusers name: String, levels: Int) -> String? {
        for u in unchanged where name.hasPrefix(u) { return name }
        let side: String
        if name.hasPrefix("encoder.") { side = "encoder" } else if name.hasPrefix("decoder.") { side = "decoder" } else { return nil }
        let rest = String(name.dropFirst(side.count + 1))
        for (o, d) in sideTopLevel where rest.hasPrefix(d) {
            let tail = String(rest.dropFirst(d.count))
            return "\(side).\(o)" + (o.hasPrefix("mid.block") ? rename(tail, resnetLayers, forward: false) : tail)
        }
        if rest.hasPrefix(attentionDiffusers) {
            let tail = String(rest.dropFirst(attentionDiffusers.count))
            for (o, d) in attentionLayers where tail.hasPrefix(d) {
                return "\(side).\(attentionOriginal)\(o)" + tail.dropFirst(d.count)
            }
            return nil
        }
        let parts = rest.split(separator: ".", maxSplits: 4, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 5, let level = Int(parts[1]), let j = Int(parts[3]) else { return nil }
        let (levelWord, samplerWord, blocks, samplers): (String, String, String, String) = side == "encoder"
            ? ("down", "downsample", "down_blocks", "downsamplers") : ("up", "upsample", "up_blocks", "upsamplers")
        guard parts[0] == blocks else { return nil }
        let i = side == "encoder" ? level : levels - 1 - level
        guard i >= 0 else { return nil }
        switch parts[2] {
        case "resnets": return "\(side).\(levelWord).\(i).block.\(j)." + rename(parts[4], resnetLayers, forward: false)
        case samplers where j == 0 && parts[4].hasPrefix("conv."): return "\(side).\(levelWord).\(i).\(samplerWord)." + parts[4]
        default: return nil
        }
    }

    private static func rename(_ tail: String, _ table: [(original: String, diffusers: String)], forward: Bool) -> String {
        for (o, d) in table {
            let (from, to) = forward ? (o, d) : (d, o)
            if tail.hasPrefix(from) { return to + tail.dropFirst(from.count) }
        }
        return tail
    }
}
