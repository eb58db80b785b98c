import Foundation

/// The kinds of model a LoRA can be baked into.
public enum MergeTarget: Sendable, Equatable {
    /// A diffusers pipeline folder (`model_index.json`, `unet/`, `text_encoder/`, `text_encoder_2/`, …).
    case diffusersFolder(URL)
    /// One diffusers component file (e.g. `unet/diffusion_pytorch_model.safetensors`).
    case componentFile(URL, ModelComponent)
    /// A single-file checkpoint in original (LDM/SGM) names, SD1.x, SD2.x or SDXL.
    case checkpoint(URL)

    /// Works out what `url` is (through ``ModelBundle``, the one model opener).
    /// - Parameter component: for a single component file, which one (inferred from its names when nil).
    public static func detect(_ url: URL, component: ModelComponent? = nil) throws(MergeError) -> MergeTarget {
        let model = try open(url, component: component)
        switch model.layout {
        case .diffusersFolder: return .diffusersFolder(url)
        case .checkpoint: return .checkpoint(url)
        case .componentFile:
            guard let part = model.components.first?.part, let loraComponent = part.loraComponent else {
                throw .unsupportedModel(path: url.path, reason: "a \(model.components.first?.part.rawValue ?? "model") file; LoRAs patch the UNet and text encoders")
            }
            return .componentFile(url, loraComponent)
        }
    }

    /// The path of the model.
    public var url: URL {
        switch self {
        case .diffusersFolder(let u), .componentFile(let u, _), .checkpoint(let u): u
        }
    }

    /// The model, opened.
    func open() throws(MergeError) -> ModelBundle {
        switch self {
        case .componentFile(let u, let component): try Self.open(u, component: component)
        case .diffusersFolder(let u), .checkpoint(let u): try Self.open(u, component: nil)
        }
    }

    private static func open(_ url: URL, component: ModelComponent?) throws(MergeError) -> ModelBundle {
        do {
            return try ModelBundle.open(url, options: .init(component: component.map(ModelPart.init)))
        } catch {
            if case .notAModel = error, let lora = try? LoRAFile(contentsOf: url), lora.isLoRA {
                throw .unsupportedModel(path: url.path, reason: "it is a LoRA, not a model (give it with --lora)")
            }
            throw .model(error)
        }
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
