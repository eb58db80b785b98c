/// The typed view of a LoRA file: what it patches and how.
///
/// Parsing (LoRAFile) turns raw keys of any known spelling into ``LoRAModule``s whose
/// ``LoRAModule/target`` names the patched layer in diffusers / transformers naming.
/// Merging (the Merge folder) maps those names onto a concrete model's keys.

/// The model part a module patches.
public enum ModelComponent: String, Sendable, Codable, CaseIterable, Comparable {
    case unet
    case textEncoder = "text_encoder"
    case textEncoder2 = "text_encoder_2"

    public static func < (lhs: Self, rhs: Self) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// A patched layer: its component and its module path in diffusers naming for the
/// UNet (`down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q`) and
/// transformers naming with the `text_model.` level for text encoders
/// (`text_model.encoder.layers.0.self_attn.q_proj`). The weight is `<path>.weight`.
public struct ModuleTarget: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    public var component: ModelComponent
    public var path: String

    public init(component: ModelComponent, path: String) {
        self.component = component
        self.path = path
    }

    public var description: String { "\(component.rawValue).\(path)" }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.component, lhs.path) < (rhs.component, rhs.path)
    }
}

/// The Stable Diffusion families a LoRA can be made for.
public enum BaseModel: String, Sendable, Codable, CaseIterable {
    case sd1 = "sd1"
    case sd2 = "sd2"
    case sdxl = "sdxl"

    /// Human name, as UIs show it.
    public var displayName: String {
        switch self {
        case .sd1: "SD 1.x"
        case .sd2: "SD 2.x"
        case .sdxl: "SDXL"
        }
    }
}
