import Foundation

/// Failures of a merge, before or while writing. Nothing is left at the output path when one is thrown.
public enum MergeError: Error, Sendable, CustomStringConvertible {
    /// The base is not a model LoRAKit can merge into.
    case unsupportedModel(path: String, reason: String)
    /// A LoRA made for one family applied to a model of another.
    case baseModelMismatch(lora: String, loraBase: BaseModel, model: String, modelBase: BaseModel)
    /// `--strict` and some LoRA keys would not be used.
    case unusedKeys(lora: String, count: Int, first: String)
    /// A patch does not fit its target tensor.
    case patchFailed(lora: String, module: String, reason: String)
    /// The output exists and overwriting was not allowed, or it is (or contains) an input.
    case invalidOutput(path: String, reason: String)
    /// Nothing to merge.
    case noLoRAs
    /// A safetensors read or write failure.
    case safetensors(SafetensorsError)
    /// A file-system failure outside safetensors I/O (copying, renaming folders).
    case fileSystem(path: String, reason: String)

    public var description: String {
        switch self {
        case .unsupportedModel(let path, let reason): "\(path): cannot merge into this model: \(reason)"
        case .baseModelMismatch(let lora, let lb, let model, let mb):
            "\(lora) was made for \(lb.displayName) but \(model) is a \(mb.displayName) model"
        case .unusedKeys(let lora, let count, let first): "\(lora): \(count) keys would be unused (first: \(first)); refusing in strict mode"
        case .patchFailed(let lora, let module, let reason): "\(lora): cannot apply \(module): \(reason)"
        case .invalidOutput(let path, let reason): "\(path): \(reason)"
        case .noLoRAs: "no LoRA given"
        case .safetensors(let e): e.description
        case .fileSystem(let path, let reason): "\(path): \(reason)"
        }
    }
}
