import LoRAKit

/// The strength a LoRA gets when neither the request, nor its prompt tag, nor its A1111 sidecar
/// (`preferred weight`) gives one.
public enum LoRAStrengthRecipe: Sendable, Equatable {
    /// 1, as A1111, ComfyUI and diffusers default.
    case standard
    /// The LCM recipe (the LCM-LoRA authors' and InvokeAI's recommendation): 0.35 for an LCM-LoRA, 0.45 for
    /// every other LoRA. ``isLCMLoRA(name:file:)`` says which is which.
    case lcm

    /// The LCM recipe's strength for the LCM-LoRA.
    public static let lcmLoRAStrength: Float = 0.35
    /// The LCM recipe's strength for the other LoRAs.
    public static let lcmOtherLoRAStrength: Float = 0.45

    /// The strength for the LoRA called `name` (its library name or file stem) read from `file`.
    public func strength(forLoRANamed name: String, file: LoRAFile?) -> Float {
        switch self {
        case .standard: 1
        case .lcm: Self.isLCMLoRA(name: name, file: file) ? Self.lcmLoRAStrength : Self.lcmOtherLoRAStrength
        }
    }

    /// Whether a LoRA is an LCM-LoRA (latent-consistency distillation of a base model, such as
    /// `latent-consistency/lcm-lora-sdv1-5` and `lcm-lora-sdxl`): its name says "lcm", as those files and every
    /// copy of them on Civitai and in InvokeAI's starter models are named, or the title its file records does
    /// (kohya `ss_output_name`, `modelspec.title`). The tensors of an LCM-LoRA look like any other UNet LoRA's,
    /// so nothing in them tells one apart.
    public static func isLCMLoRA(name: String, file: LoRAFile?) -> Bool {
        let metadata = file?.file.metadata ?? [:]
        let titles = [name, metadata["ss_output_name"], metadata["modelspec.title"]].compactMap { $0 }
        return titles.contains { saysLCM($0) }
    }

    /// "lcm" at the start of a word of a name: `lcm-lora-sdv1-5`, `LCM_LoRA_SDXL`, `sd15_lcmlora` — not inside
    /// another word (`glcm`).
    static func saysLCM(_ text: String) -> Bool {
        let chars = Array(text.lowercased())
        guard chars.count >= 3 else { return false }
        for i in 0...(chars.count - 3) where chars[i] == "l" && chars[i + 1] == "c" && chars[i + 2] == "m" {
            if i == 0 || !chars[i - 1].isLetter { return true }
        }
        return false
    }
}
