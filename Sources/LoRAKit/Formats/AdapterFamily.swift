/// The LoRA-family algorithms a module can use (NUMERICS §1). DoRA is not a
/// family: it wraps any of them and is flagged by ``LoRAModule/isDoRA``.
public enum AdapterFamily: String, Sendable, Codable, CaseIterable, Comparable {
    /// Low-rank `up · down` on a Linear layer (kohya, PEFT, diffusers, cloneofsimo).
    case lora
    /// Low-rank `up · down` (optionally with a Tucker `lora_mid`) on a convolution.
    case locon
    /// Hadamard product of two low-rank products (LyCORIS LoHa), optionally Tucker (`hada_t1/t2`).
    case loha
    /// Kronecker product of two factors, each full or low-rank (LyCORIS LoKr).
    case lokr
    /// A full weight delta (`diff`, optionally `diff_b` for the bias).
    case full
    /// IA³: multiplies output rows or input columns by `1 + λ·w`.
    case ia3
    /// Deltas for the affine parameters of a norm layer (`w_norm`, `b_norm`).
    case norm

    /// Whether the patch is `W + λ·s·ΔW` (everything but IA³).
    public var isAdditive: Bool { self != .ia3 }

    /// Name as LyCORIS / UIs show it.
    public var displayName: String {
        switch self {
        case .lora: "LoRA"
        case .locon: "LoCon"
        case .loha: "LoHa"
        case .lokr: "LoKr"
        case .full: "Full (diff)"
        case .ia3: "IA3"
        case .norm: "Norm"
        }
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// How a file spells its keys, as detected from the majority of its tensors.
public enum LoRAFormat: String, Sendable, Codable, CaseIterable {
    /// kohya sd-scripts: `lora_unet_…`/`lora_te…` with `lora_down`/`lora_up`/`alpha`.
    case kohya
    /// LyCORIS under kohya prefixes: `hada_*`, `lokr_*`, `diff`, IA³, norm.
    case lycoris
    /// PEFT keys as diffusers writes them: `unet.….lora_A.weight`, `text_encoder.…`.
    case peftDiffusers = "peft-diffusers"
    /// diffusers LoRACompatible layers: `….lora.down.weight`, `….lora_linear_layer.down.weight`.
    case diffusersLoRACompatible = "diffusers-lora-compatible"
    /// Old diffusers attention processors: `….processor.to_q_lora.down.weight`.
    case legacyAttentionProcessor = "legacy-attn-processor"
    /// cloneofsimo/lora: `unet:N:up`, `text_encoder:N:down`, modules found by position.
    case cloneofsimo
    /// Dotted keys under LDM / ComfyUI names (`diffusion_model.input_blocks.…`).
    case ldmDotted = "ldm-dotted"
    /// Nothing recognisable.
    case unknown
}

/// Which axis a DoRA magnitude vector normalises over (NUMERICS §1.8).
public enum DoRAAxis: String, Sendable, Codable {
    /// One magnitude per output row / channel (PEFT, LyCORIS since 2025).
    case output
    /// One magnitude per input column / channel (older LyCORIS, `wd_on_out=False`).
    case input
}
