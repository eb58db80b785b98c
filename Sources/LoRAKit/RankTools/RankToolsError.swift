import Foundation

/// Failures of the rank tools (resize, extract, SVD merge, convert). Nothing is left at the
/// output path when one is thrown, and inputs are never modified.
public enum RankToolsError: Error, Equatable, Sendable, CustomStringConvertible {
    /// An option is out of range (rank ≤ 0, a dynamic parameter that is not positive…).
    case invalidOption(String)
    /// An input file cannot be read as what it should be.
    case invalidInput(path: String, reason: String)
    /// A module cannot be processed (shapes, missing factors, unsupported family).
    case moduleFailed(module: String, reason: String)
    /// Processing a module failed for the reason `underlying` gives (a shape check, the SVD …).
    indirect case inModule(module: String, underlying: RankToolsError)
    /// A conversion the target format cannot represent (LoHa/LoKr/DoRA to PEFT without `bakeRank`).
    case unsupportedConversion(module: String, reason: String)
    /// Nothing to do: no module could be processed.
    case nothingToWrite(reason: String)
    /// The two models of an extraction disagree on a layer's shape.
    case modelMismatch(parameter: String, reason: String)
    /// The output path is unusable (exists without overwrite, or is an input).
    case invalidOutput(path: String, reason: String)
    /// A LoRA file failed to parse or a module's ΔW could not be formed.
    case lora(LoRAError)
    /// An input of a LoRA merge holds no LoRA module (the file is something else).
    case notALoRA(lora: String, reason: String)
    /// LoRAs merged into one were made for different model families (each name with its family, nil when it
    /// could not be told). Allowed with `allowBaseMismatch`.
    case mixedBaseModels(loras: [String], families: [BaseModel?])
    /// A model of an extraction could not be opened; `underlying` says why.
    case model(ModelFileError)
    /// A model of an extraction opened but holds nothing to extract from (no UNet or text-encoder weights).
    case unsupportedModel(path: String, reason: String)
    /// A safetensors read or write failure.
    case safetensors(SafetensorsError)
    /// BLAS/LAPACK refused the operands or failed.
    case linearAlgebra(LinearAlgebraError)
    /// A file-system failure.
    case fileSystem(path: String, reason: String)

    public var description: String {
        switch self {
        case .invalidOption(let s): s
        case .invalidInput(let path, let reason): "\(path): \(reason)"
        case .moduleFailed(let module, let reason): "\(module): \(reason)"
        case .inModule(let module, let underlying): "\(module): \(underlying.description)"
        case .unsupportedConversion(let module, let reason): "\(module): \(reason)"
        case .nothingToWrite(let reason): "nothing to write: \(reason)"
        case .modelMismatch(let parameter, let reason): "\(parameter): \(reason)"
        case .invalidOutput(let path, let reason): "\(path): \(reason)"
        case .lora(let e): e.description
        case .notALoRA(let lora, let reason): "\(lora): not a LoRA: \(reason)"
        case .mixedBaseModels(let loras, let families): LoRAFamilyCheck.describe(loras: loras, families: families)
        case .model(let e): e.message(refusal: "cannot extract from this model")
        case .unsupportedModel(let path, let reason): "\(path): cannot extract from this model: \(reason)"
        case .safetensors(let e): e.description
        case .linearAlgebra(let e): e.description
        case .fileSystem(let path, let reason): "\(path): \(reason)"
        }
    }

    /// Runs a linear-algebra body, mapping its error.
    static func la<T>(_ body: () throws(LinearAlgebraError) -> T) throws(RankToolsError) -> T {
        do { return try body() } catch { throw .linearAlgebra(error) }
    }
}
