/// Failures of opening a model folder or file. Opening never modifies anything.
public enum ModelFileError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Nothing at the path.
    case notFound(path: String)
    /// The path is not a model LoRAKit can read (the reason says what it is, when known).
    case notAModel(path: String, reason: String)
    /// A component's weights exist only as a PyTorch pickle, which is never loaded.
    case pickleWeights(path: String)
    /// The requested weight variant (`fp16`, …) is not in the component folder.
    case variantNotFound(path: String, variant: String, available: [String])
    /// A sharded component's `*.safetensors.index.json` is unreadable or inconsistent.
    case invalidShardIndex(path: String, reason: String)
    /// The same parameter is stored twice (two shards, or two spellings in one file).
    case duplicateParameter(path: String, name: String)
    /// The model has no such part (no text_encoder_2 in an SD1.x model, …).
    case missingPart(path: String, part: ModelPart)
    /// A parameter is not in the component.
    case parameterNotFound(part: ModelPart, name: String)
    /// A safetensors file of the model failed to open.
    case unreadable(path: String, error: SafetensorsError)

    public var description: String {
        switch self {
        case .notFound(let path): "\(path): no such file or folder"
        case .notAModel(let path, let reason): "\(path): not a model LoRAKit can read: \(reason)"
        case .pickleWeights(let path):
            "\(path): weights are a PyTorch pickle (.bin/.ckpt); pickles are never loaded — convert them to .safetensors"
        case .variantNotFound(let path, let variant, let available):
            "\(path): no '\(variant)' weights" + (available.isEmpty ? "" : " (found: " + available.joined(separator: ", ") + ")")
        case .invalidShardIndex(let path, let reason): "\(path): invalid shard index: \(reason)"
        case .duplicateParameter(let path, let name): "\(path): parameter \(name) is stored twice"
        case .missingPart(let path, let part): "\(path): the model has no \(part.rawValue)"
        case .parameterNotFound(let part, let name): "\(part.rawValue) has no parameter \(name)"
        case .unreadable(let path, let e): "\(path): \(e)"
        }
    }
}
