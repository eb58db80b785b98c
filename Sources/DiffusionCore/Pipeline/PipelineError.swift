import LoRAKit

/// Why a pipeline could not be loaded or a generation could not run. Errors of the layers below are kept as
/// typed `underlying` values.
public enum PipelineError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The model folder lacks a component or a file the pipeline needs.
    case missingComponent(name: String, folder: String)
    /// The path is not something the pipeline loads (nothing there, a pickle, a single-file checkpoint).
    case unreadable(path: String, reason: String)
    /// A model file or folder could not be opened (a weight file that is not safetensors, a bad shard index…).
    case modelFile(ModelFileError)
    case model(ModelError)
    case text(TextError)
    case scheduler(SchedulerError)
    case random(RandomSourceError)
    case image(ImageError)
    /// A LoRA patch could not be fused into the weight it targets.
    case lora(name: String, target: String, underlying: LoRAError)
    /// A compute-layer operation of the pipeline itself (batching, guidance) failed.
    case tensor(TensorError)
    /// A request field is out of range (size not a multiple of the VAE factor, no steps, a bad strength…).
    case invalidRequest(String)
    /// A LoRA made for another base model than the pipeline's.
    case loraBaseMismatch(lora: String, loraBase: String, model: String, modelBase: String)
    /// A component loaded beside the model does not fit it (a tiny autoencoder for other latents).
    case incompatibleComponent(path: String, reason: String)
    /// A LoRA named by a prompt tag (`<lora:NAME:W>`, as written in `tag`) or a request that the LoRA library
    /// cannot resolve: no such file or library name, an ambiguous name, a file that is not a LoRA.
    case loraNotFound(tag: String, error: LoRALibraryError)
    /// A LoRA file that cannot be read.
    case loraFile(path: String, underlying: LoRAError)
    /// A file given as a LoRA that is not one (a checkpoint, an embedding…).
    case notALoRA(path: String, reason: String)
    /// The caller's task was cancelled between two steps.
    case cancelled
    /// A call that takes the pipeline's turn (`generate`, `fuse`, `setLoRAs`, `setTinyAutoencoder`) made from
    /// inside a run on the same pipeline (its `onEvent` or `isCancelled` callback): refused, the running job
    /// unchanged. Make it after the run returns, or from another thread (where it waits for its turn).
    case calledDuringOwnRun(operation: String)

    public var description: String {
        switch self {
        case let .missingComponent(name, folder): return "\(folder): no \(name) component"
        case let .unreadable(path, reason): return "\(path): \(reason)"
        case let .modelFile(error): return error.description
        case let .model(error): return error.description
        case let .text(error): return error.description
        case let .scheduler(error): return "\(error)"
        case let .random(error): return "\(error)"
        case let .image(error): return "\(error)"
        case let .lora(name, target, underlying):
            return "\(name): cannot apply \(target): \(underlying.target == target ? underlying.detail : underlying.description)"
        case let .tensor(error): return "tensor operation failed: \(error)"
        case let .invalidRequest(reason): return "invalid generation request: \(reason)"
        case let .loraBaseMismatch(lora, loraBase, model, modelBase):
            return "\(lora) was made for \(loraBase) but \(model) is an \(modelBase) model"
        case let .incompatibleComponent(path, reason): return "\(path): \(reason)"
        case let .loraNotFound(tag, error): return "\(tag): \(error)"
        case let .loraFile(path, underlying): return "\(path): \(underlying)"
        case let .notALoRA(path, reason): return "\(path): not a LoRA: \(reason)"
        case .cancelled: return "generation cancelled"
        case let .calledDuringOwnRun(operation):
            return "\(operation) cannot be called from inside a generation running on the same pipeline (its onEvent or isCancelled callback): the running job would change; call it after the run returns, or from another thread"
        }
    }
}

extension PipelineError {
    /// An error of a layer below the pipeline, as its typed case. The pipeline's steps throw only these
    /// layers' errors; anything else (not reachable from files, requests or arguments) is reported as an
    /// operation the pipeline could not run.
    init(layerError error: any Error) {
        switch error {
        case let error as PipelineError: self = error
        case let error as ModelFileError: self = .modelFile(error)
        case let error as ModelError: self = .model(error)
        case let error as TextError: self = .text(error)
        case let error as SchedulerError: self = .scheduler(error)
        case let error as RandomSourceError: self = .random(error)
        case let error as ImageError: self = .image(error)
        case let error as TensorError: self = .tensor(error)
        default: self = .tensor(.invalidArgument(operation: "pipeline", reason: String(describing: type(of: error))))
        }
    }
}
