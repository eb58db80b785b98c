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
        path.map { "\($0): \(detail)" } ?? detail
    }

    /// The file or folder the error is about (nil for ``parameterNotFound(part:name:)``, which names a part).
    public var path: String? {
        switch self {
        case .notFound(let path), .notAModel(let path, _), .pickleWeights(let path), .variantNotFound(let path, _, _),
             .invalidShardIndex(let path, _), .duplicateParameter(let path, _), .missingPart(let path, _),
             .unreadable(let path, _):
            path
        case .parameterNotFound: nil
        }
    }

    /// The message with `refusal` ("cannot merge into this model") between the path and the reason, for the
    /// features that open models; a safetensors file that cannot be read keeps its own words.
    func message(refusal: String) -> String {
        switch self {
        case .unreadable: description
        case .notAModel(let path, let reason): "\(path): \(refusal): \(reason)"
        default: path.map { "\($0): \(refusal): \(detail)" } ?? "\(refusal): \(detail)"
        }
    }

    /// The message without the path (for errors that put the path in front of their own words).
    public var detail: String {
        switch self {
        case .notFound: "no such file or folder"
        case .notAModel(_, let reason): "not a model LoRAKit can read: \(reason)"
        case .pickleWeights:
            "weights are a PyTorch pickle (.ckpt/.pt/.bin/.pth); a pickle can run arbitrary code when it is loaded, so it is never opened — convert it to .safetensors"
        case .variantNotFound(_, let variant, let available):
            "no '\(variant)' weights" + (available.isEmpty ? "" : " (found: " + available.joined(separator: ", ") + ")")
        case .invalidShardIndex(_, let reason): "invalid shard index: \(reason)"
        case .duplicateParameter(_, let name): "parameter \(name) is stored twice"
        case .missingPart(_, let part): "the model has no \(part.rawValue)"
        case .parameterNotFound(let part, let name): "\(part.rawValue) has no parameter \(name)"
        case .unreadable(_, let e): e.description
        }
    }
}
