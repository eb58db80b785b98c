/// cloneofsimo/lora files: `unet:N:up`, `unet:N:down`, `text_encoder:N:…`, ranks in metadata
/// (`unet:N:rank`), targeted classes in metadata (`unet: ["CrossAttention", "Attention", "GEGLU"]`),
/// and optional textual-inversion tokens (`<s1>` with metadata value `<embed>`).
/// Module N is the N-th patched Linear in module-registration order.
enum CloneofsimoKeyMapping {
    /// Splits `unet:12:up` into component, index and role.
    static func parse(_ key: String) -> (component: ModelComponent, index: Int, role: TensorRole)? {
        guard key.utf8.contains(UInt8(ascii: ":")) else { return nil }
        let parts = key.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3, let index = Int(parts[1]), index >= 0 else { return nil }
        let component: ModelComponent
        switch parts[0] {
        case "unet": component = .unet
        case "text_encoder": component = .textEncoder
        case "text_encoder_2": component = .textEncoder2
        default: return nil
        }
        switch parts[2] {
        case "up": return (component, index, .up)
        case "down": return (component, index, .down)
        default: return nil
        }
    }

    /// The ordered module paths for a component, given the targeted class names from metadata.
    static func order(component: ModelComponent, base: BaseModel, targetClasses: Set<String>) -> [String] {
        switch component {
        case .unet:
            return UNetArchitecture.forBase(base).cloneofsimoOrder(includeGEGLU: targetClasses.contains("GEGLU"))
        case .textEncoder, .textEncoder2:
            let arch: TextEncoderArchitecture = switch (component, base) {
            case (.textEncoder2, _): .openCLIPBigG
            case (_, .sd2): .openCLIPH
            default: .clipL
            }
            let attention = targetClasses.isEmpty || targetClasses.contains("CLIPAttention")
                || targetClasses.contains("CLIPSdpaAttention")
            return arch.cloneofsimoOrder(includeAttention: attention, includeMLP: targetClasses.contains("CLIPMLP"))
        }
    }

    /// The default target classes when metadata does not name them (cloneofsimo's defaults).
    static let defaultUNetClasses: Set<String> = ["CrossAttention", "Attention", "GEGLU"]
    static let defaultTextEncoderClasses: Set<String> = ["CLIPAttention"]
}
