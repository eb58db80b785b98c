/// A part of a Stable Diffusion model, as a diffusers pipeline folder names its subfolders.
///
/// The weight-holding parts are ``unet``, ``textEncoder``, ``textEncoder2`` and ``vae``; the
/// tokenizers and the scheduler are configuration only.
public enum ModelPart: String, Sendable, Codable, CaseIterable, Comparable {
    case unet
    case textEncoder = "text_encoder"
    case textEncoder2 = "text_encoder_2"
    case vae
    case tokenizer
    case tokenizer2 = "tokenizer_2"
    case scheduler

    /// Whether the part has tensors (a UNet, a text encoder, a VAE).
    public var holdsWeights: Bool {
        switch self {
        case .unet, .textEncoder, .textEncoder2, .vae: true
        case .tokenizer, .tokenizer2, .scheduler: false
        }
    }

    /// The LoRA component patching this part, or nil when LoRAs never patch it.
    public var loraComponent: ModelComponent? {
        switch self {
        case .unet: .unet
        case .textEncoder: .textEncoder
        case .textEncoder2: .textEncoder2
        case .vae, .tokenizer, .tokenizer2, .scheduler: nil
        }
    }

    /// The part a LoRA component patches.
    public init(_ component: ModelComponent) {
        switch component {
        case .unet: self = .unet
        case .textEncoder: self = .textEncoder
        case .textEncoder2: self = .textEncoder2
        }
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (allCases.firstIndex(of: lhs) ?? 0) < (allCases.firstIndex(of: rhs) ?? 0)
    }
}
