/// Text-encoder parameter names: transformers (`text_model.…`) ↔ the layouts of
/// single-file checkpoints (NUMERICS.md §2.4).
///
/// CLIP ViT-L (SD1.x, SDXL's first encoder) keeps transformers names under a
/// prefix. OpenCLIP (SD2.x, SDXL's second encoder) renames layers and fuses
/// q/k/v into `attn.in_proj_weight` / `in_proj_bias` (rows q, k, v in thirds).
enum TextEncoderCheckpointNames {
    /// A parameter of a transformers-named encoder, possibly a row block of a fused tensor.
    struct Location: Hashable {
        /// The transformers name, with the `text_model.` level.
        var name: String
        /// Rows of the checkpoint tensor holding this parameter, as a fraction index of 3 (q=0, k=1, v=2), or nil for the whole tensor.
        var fusedThird: Int?
        /// Whether the checkpoint stores the matrix transposed (OpenCLIP's `text_projection`).
        var transposed = false
    }

    /// OpenCLIP layer renames inside `transformer.resblocks.N.` (OpenCLIP, transformers).
    static let openCLIPLayer: [(openCLIP: String, transformers: String)] = [
        ("ln_1.", "layer_norm1."),
        ("ln_2.", "layer_norm2."),
        ("mlp.c_fc.", "mlp.fc1."),
        ("mlp.c_proj.", "mlp.fc2."),
        ("attn.out_proj.", "self_attn.out_proj."),
    ]

    /// OpenCLIP top-level renames (OpenCLIP, transformers).
    static let openCLIPTop: [(openCLIP: String, transformers: String)] = [
        ("ln_final.", "text_model.final_layer_norm."),
        ("token_embedding.weight", "text_model.embeddings.token_embedding.weight"),
        ("positional_embedding", "text_model.embeddings.position_embedding.weight"),
    ]

    static let fusedProjections = ["q_proj", "k_proj", "v_proj"]

    /// OpenCLIP's projection: a `[width, projection]` parameter used as `x @ P`, which transformers
    /// stores as the Linear weight `text_projection.weight` `[projection, width]` (the transpose).
    static let openCLIPProjection = (openCLIP: "text_projection", transformers: "text_projection.weight")

    /// transformers locations held by an OpenCLIP tensor name (after the model prefix).
    static func transformersLocations(openCLIP name: String) -> [Location] {
        if name == openCLIPProjection.openCLIP {
            return [Location(name: openCLIPProjection.transformers, fusedThird: nil, transposed: true)]
        }
        for (o, t) in openCLIPTop where name == o || (o.hasSuffix(".") && name.hasPrefix(o)) {
            return [Location(name: t + name.dropFirst(o.count), fusedThird: nil)]
        }
        let resblocks = "transformer.resblocks."
        guard name.hasPrefix(resblocks) else { return [] }
        let rest = name.dropFirst(resblocks.count)
        guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]) else { return [] }
        let inner = String(rest[rest.index(after: dot)...])
        let base = "text_model.encoder.layers.\(layer)."
        if inner == "attn.in_proj_weight" || inner == "attn.in_proj_bias" {
            let kind = inner.hasSuffix("weight") ? "weight" : "bias"
            return fusedProjections.enumerated().map { Location(name: base + "self_attn.\($1).\(kind)", fusedThird: $0) }
        }
        for (o, t) in openCLIPLayer where inner.hasPrefix(o) {
            return [Location(name: base + t + inner.dropFirst(o.count), fusedThird: nil)]
        }
        return []
    }

    /// The OpenCLIP tensor name (after the model prefix) holding a transformers parameter, its third when
    /// fused, and whether it is stored transposed.
    static func openCLIPName(transformers name: String) -> (name: String, fusedThird: Int?, transposed: Bool)? {
        if name == openCLIPProjection.transformers { return (openCLIPProjection.openCLIP, nil, true) }
        for (o, t) in openCLIPTop where name == t || (t.hasSuffix(".") && name.hasPrefix(t)) {
            return (o + name.dropFirst(t.count), nil, false)
        }
        let layers = "text_model.encoder.layers."
        guard name.hasPrefix(layers) else { return nil }
        let rest = name.dropFirst(layers.count)
        guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]) else { return nil }
        let inner = String(rest[rest.index(after: dot)...])
        let base = "transformer.resblocks.\(layer)."
        for (k, p) in fusedProjections.enumerated() where inner.hasPrefix("self_attn.\(p).") {
            let kind = inner.hasSuffix("weight") ? "weight" : "bias"
            return (base + "attn.in_proj_\(kind)", k, false)
        }
        for (o, t) in openCLIPLayer where inner.hasPrefix(t) {
            return (base + o + inner.dropFirst(t.count), nil, false)
        }
        return nil
    }

    /// Adds the `text_model.` level when a transformers-5 style name lacks it.
    static func withTextModelLevel(_ name: String) -> String {
        if name.hasPrefix("text_model.") || name.hasPrefix("text_projection") { return name }
        return "text_model." + name
    }
}
