import LoRAKit

/// Why a diffusion model (UNet, VAE, TAESD) could not be configured, loaded or run.
public enum ModelError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `config.json` is missing, not JSON, or lacks a field the graph needs.
    case invalidConfig(component: String, reason: String)
    /// A config field holds a value this runtime does not implement; the field is named.
    case unsupportedConfig(component: String, field: String, value: String)
    /// A weight the graph needs is not in the file.
    case missingWeight(name: String, file: String)
    /// A weight has another shape than the config implies.
    case weightShapeMismatch(name: String, file: String, expected: [Int], found: [Int])
    /// A weight that cannot be used (an element type that is not float, a zero-sized shape); `underlying` says why.
    case invalidWeight(name: String, file: String, underlying: TensorError)
    /// The component's weights could not be gathered by LoRAKit's model layer (a parameter stored twice, …).
    case modelFile(ModelFileError)
    /// Tensors in the file that the graph does not use (a sign of the wrong config or model kind).
    case unexpectedWeights(names: [String], file: String)
    /// An input tensor of the wrong shape was passed to a model call.
    case invalidInput(String)
    /// A compute-layer operation failed.
    case computation(TensorError)

    public var description: String {
        switch self {
        case let .invalidConfig(component, reason):
            return "\(component): invalid config: \(reason)"
        case let .unsupportedConfig(component, field, value):
            return "\(component): config field \"\(field)\" = \(value) is not supported"
        case let .missingWeight(name, file):
            return "\(file): weight \"\(name)\" is missing"
        case let .weightShapeMismatch(name, file, expected, found):
            return "\(file): weight \"\(name)\" has shape \(found), expected \(expected)"
        case let .invalidWeight(name, file, .unsupportedWeightType(_, dtype)):
            return "\(file): weight \"\(name)\" cannot be used: element type \(dtype) is not a float type"
        case let .invalidWeight(name, file, underlying):
            return "\(file): weight \"\(name)\" cannot be used: \(underlying)"
        case let .modelFile(underlying):
            return underlying.description
        case let .unexpectedWeights(names, file):
            let shown = names.prefix(5).joined(separator: ", ")
            let more = names.count > 5 ? " and \(names.count - 5) more" : ""
            return "\(file): \(names.count) unexpected weight(s): \(shown)\(more)"
        case let .invalidInput(reason):
            return "invalid model input: \(reason)"
        case let .computation(underlying):
            return "model computation failed: \(underlying)"
        }
    }
}

extension ModelError {
    /// Runs `body`, turning the errors of the compute layer into ``ModelError/computation(_:)`` and passing
    /// model errors through.
    static func wrapping<T>(_ body: () throws -> T) throws(ModelError) -> T {
        do { return try body() } catch { throw ModelError(graphError: error) }
    }

    /// An error thrown while building or running a model graph, which throws only model and compute-layer
    /// errors: a model error as it is, a compute-layer error as ``computation(_:)``. Anything else (not
    /// reachable from files or arguments) is reported as an operation the model could not run.
    init(graphError error: any Error) {
        switch error {
        case let error as ModelError: self = error
        case let error as TensorError: self = .computation(error)
        default: self = .computation(.invalidArgument(operation: "model", reason: String(describing: type(of: error))))
        }
    }
}
