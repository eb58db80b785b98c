/// PEFT and diffusers key spellings (NUMERICS §2.2): dotted module paths under a
/// component prefix, with PEFT, LoRACompatible and old attention-processor suffixes.
enum PEFTKeyMapping {
    /// Tensor suffixes, most specific first (after named adapters are folded away).
    static let suffixes: [(suffix: String, role: TensorRole, style: SuffixStyle)] = [
        (".lora_A.weight", .down, .peft), (".lora_B.weight", .up, .peft),
        (".lora_magnitude_vector.weight", .doraScale, .peft), (".lora_magnitude_vector", .doraScale, .peft),
        (".lora_linear_layer.down.weight", .down, .loraCompatible), (".lora_linear_layer.up.weight", .up, .loraCompatible),
        (".lora.down.weight", .down, .loraCompatible), (".lora.up.weight", .up, .loraCompatible),
        ("_lora.down.weight", .down, .legacyProcessor), ("_lora.up.weight", .up, .legacyProcessor),
    ]

    /// PEFT components whose next key part may name an adapter (`lora_A.default_0.weight`).
    static let adapterNamedParts: Set<String> = ["lora_A", "lora_B", "lora_magnitude_vector"]

    /// Dotted component prefixes.
    static let componentPrefixes: [(prefix: String, component: ModelComponent)] = [
        ("unet.", .unet), ("text_encoder_2.", .textEncoder2), ("text_encoder.", .textEncoder),
    ]

    /// Wrappers some writers put in front of everything.
    static let wrapperPrefixes = ["base_model.model."]

    /// Old attention-processor module names → the layer they patch.
    static let legacyUNetNames: [String: String] = [
        "to_q": "to_q", "to_k": "to_k", "to_v": "to_v", "to_out": "to_out.0",
    ]
    static let legacyTextEncoderNames: [String: String] = [
        "to_q": "q_proj", "to_k": "k_proj", "to_v": "v_proj", "to_out": "out_proj",
    ]

    /// First parts of a UNet module path in diffusers naming (for keys with no component prefix).
    static let unetRoots: Set<String> = [
        "down_blocks", "mid_block", "up_blocks", "conv_in", "conv_out", "conv_norm_out", "time_embedding", "add_embedding",
    ]
    /// First parts of a text-encoder path without the `text_model.` level (transformers 5).
    static let textEncoderRootsWithoutTextModel: Set<String> = ["encoder", "embeddings", "final_layer_norm"]

    /// The alpha/rank configuration diffusers stores under the `lora_adapter_metadata` key.
    static let metadataKey = "lora_adapter_metadata"
}
