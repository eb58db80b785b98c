import Foundation

/// The kinds of model a LoRA can be baked into.
public enum MergeTarget: Sendable, Equatable {
    /// A diffusers pipeline folder (`model_index.json`, `unet/`, `text_encoder/`, `text_encoder_2/`, …).
    case diffusersFolder(URL)
    /// One diffusers component file (e.g. `unet/diffusion_pytorch_model.safetensors`).
    case componentFile(URL, ModelComponent)
    /// A single-file checkpoint in original (LDM/SGM) names, SD1.x, SD2.x or SDXL.
    case checkpoint(URL)

    /// Component files looked for in a diffusers folder, per component (full and fp16 variants).
    static let folderComponentFiles: [(component: ModelComponent, paths: [String])] = [
        (.unet, ["unet/diffusion_pytorch_model.safetensors", "unet/diffusion_pytorch_model.fp16.safetensors"]),
        (.textEncoder, ["text_encoder/model.safetensors", "text_encoder/model.fp16.safetensors"]),
        (.textEncoder2, ["text_encoder_2/model.safetensors", "text_encoder_2/model.fp16.safetensors"]),
    ]

    /// Works out what `url` is.
    /// - Parameter component: for a single component file, which one (inferred from its names when nil).
    public static func detect(_ url: URL, component: ModelComponent? = nil) throws(MergeError) -> MergeTarget {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw .unsupportedModel(path: url.path, reason: "no such file or folder")
        }
        if isDirectory.boolValue {
            guard FileManager.default.fileExists(atPath: url.appendingPathComponent("model_index.json").path) else {
                throw .unsupportedModel(path: url.path, reason: "a folder without model_index.json is not a diffusers pipeline")
            }
            return .diffusersFolder(url)
        }
        let file: SafetensorsFile
        do { file = try SafetensorsFile(contentsOf: url) } catch { throw .unreadableModel(path: url.path, error: error) }
        if file.tensors.contains(where: { CheckpointLayout.isCheckpointName($0.name) }) { return .checkpoint(url) }
        if let component { return .componentFile(url, component) }
        let names = file.tensors.map(\.name)
        if names.contains(where: { $0.hasPrefix("down_blocks.") || $0 == "conv_in.weight" }) { return .componentFile(url, .unet) }
        if names.contains(where: { $0.hasPrefix("text_model.") || $0.hasPrefix("encoder.layers.") }) {
            let hasProjection = names.contains { $0.hasPrefix("text_projection") }
            return .componentFile(url, hasProjection ? .textEncoder2 : .textEncoder)
        }
        if let lora = try? LoRAFile(file: file), lora.isLoRA {
            throw .unsupportedModel(path: url.path, reason: "it is a LoRA, not a model (give it with --lora)")
        }
        throw .unsupportedModel(path: url.path, reason: "neither a diffusers UNet or text encoder nor an LDM/SGM checkpoint")
    }
}

/// Merge settings.
public struct MergeOptions: Sendable {
    /// Convert every floating-point tensor of the output to this type (F32, F16 or BF16); nil keeps each tensor's type.
    public var outputDType: DType?
    /// Fail when any LoRA key would be unused or any module skipped.
    public var strict: Bool
    /// Replace an existing output (never an input).
    public var overwrite: Bool
    /// Apply LoRAs made for another model family anyway.
    public var allowBaseMismatch: Bool
    /// Threads patching tensors in parallel; nil uses every core.
    public var threads: Int?
    /// Write the output even when no LoRA module applies (it is then a copy of the base);
    /// otherwise that is ``MergeError/nothingApplied(_:)``.
    public var allowEmpty: Bool

    public init(outputDType: DType? = nil, strict: Bool = false, overwrite: Bool = false, allowBaseMismatch: Bool = false,
                threads: Int? = nil, allowEmpty: Bool = false) {
        self.outputDType = outputDType
        self.strict = strict
        self.overwrite = overwrite
        self.allowBaseMismatch = allowBaseMismatch
        self.threads = threads
        self.allowEmpty = allowEmpty
    }
}
