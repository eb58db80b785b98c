/// kohya sd-scripts and LyCORIS key spellings (NUMERICS §2.1–2.2): `<flattened module>.<suffix>`
/// with the prefixes below. Data only; ``LoRAKeyParser`` applies it.
enum KohyaKeyMapping {
    /// Tensor suffixes, most specific first.
    static let suffixes: [(suffix: String, role: TensorRole)] = [
        (".lora_up.weight", .up), (".lora_down.weight", .down), (".lora_mid.weight", .mid),
        (".dora_scale", .doraScale), (".alpha", .alpha), (".scale", .scale),
        (".hada_w1_a", .hadaW1A), (".hada_w1_b", .hadaW1B), (".hada_w2_a", .hadaW2A), (".hada_w2_b", .hadaW2B),
        (".hada_t1", .hadaT1), (".hada_t2", .hadaT2),
        (".lokr_w1_a", .lokrW1A), (".lokr_w1_b", .lokrW1B), (".lokr_w1", .lokrW1),
        (".lokr_w2_a", .lokrW2A), (".lokr_w2_b", .lokrW2B), (".lokr_w2", .lokrW2), (".lokr_t2", .lokrT2),
        (".diff_b", .diffB), (".diff", .diff), (".w_norm", .wNorm), (".b_norm", .bNorm),
        (".on_input", .onInput),
        (".bias_indices", .biasIndices), (".bias_values", .biasValues), (".bias_size", .biasSize),
    ]

    /// Flattened-name prefixes and the component they address.
    /// `lycoris_` is SimpleTuner's LyCORIS prefix for the UNet.
    static let prefixes: [(prefix: String, component: ModelComponent)] = [
        ("lora_unet_", .unet), ("lycoris_", .unet),
        ("lora_te1_", .textEncoder), ("lora_te2_", .textEncoder2), ("lora_te_", .textEncoder),
    ]

    /// A module path flattened the kohya way.
    static func flatten(_ path: String) -> String {
        path.replacingOccurrences(of: ".", with: "_")
    }
}
