/// Why a pipeline could not be loaded or a generation could not run. Errors of the layers below are kept as
/// typed `underlying` values.
public enum PipelineError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The model folder lacks a component or a file the pipeline needs.
    case missingComponent(name: String, folder: String)
    /// A component's file could not be read.
    case unreadable(path: String, reason: String)
    case model(ModelError)
    case text(TextError)
    case scheduler(SchedulerError)
    case random(RandomSourceError)
    case image(ImageError)
    /// A request field is out of range (size not a multiple of the VAE factor, no steps, a bad strength…).
    case invalidRequest(String)
    /// A LoRA made for another base model than the pipeline's.
    case loraBaseMismatch(lora: String, loraBase: String, model: String, modelBase: String)
    /// The caller's task was cancelled between two steps.
    case cancelled

    public var description: String {
        switch self {
        case let .missingComponent(name, folder): return "\(folder): no \(name) component"
        case let .unreadable(path, reason): return "\(path): \(reason)"
        case let .model(error): return error.description
        case let .text(error): return error.description
        case let .scheduler(error): return "\(error)"
        case let .random(error): return "\(error)"
        case let .image(error): return "\(error)"
        case let .invalidRequest(reason): return "invalid generation request: \(reason)"
        case let .loraBaseMismatch(lora, loraBase, model, modelBase):
            return "\(lora) was made for \(loraBase) but \(model) is a \(modelBase) model"
        case .cancelled: return "generation cancelled"
        }
    }
}
