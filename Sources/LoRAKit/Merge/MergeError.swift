import Foundation

/// Failures of a merge, before or while writing. Nothing is left at the output path when one is thrown.
public enum MergeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The base is not a model LoRAKit can merge into.
    case unsupportedModel(path: String, reason: String)
    /// A LoRA made for one family applied to a model of another.
    case baseModelMismatch(lora: String, loraBase: BaseModel, model: String, modelBase: BaseModel)
    /// LoRAs merged into one were made for different model families (each name with its family, nil
    /// when it could not be told). Allowed with `allowBaseMismatch`.
    case mixedBaseModels(loras: [String], families: [BaseModel?])
    /// `--strict` and some LoRA keys would not be used.
    case unusedKeys(lora: String, count: Int, first: String)
    /// A patch does not fit its target tensor (or a module cannot be concatenated); `underlying` says why.
    case patchFailed(lora: String, module: String, underlying: LoRAError)
    /// The output exists and overwriting was not allowed, or it is (or contains) an input.
    case invalidOutput(path: String, reason: String)
    /// Nothing to merge.
    case noLoRAs
    /// No module of any LoRA applies to the model (the output would be a copy of the base); the report says
    /// why each module was skipped and each key unused. Allowed with ``MergeOptions/allowEmpty``.
    case nothingApplied(MergeReport)
    /// A LoRA merge in which no module could be merged (each skipped, with the reason); nothing is written.
    case nothingToMerge(skipped: [MergeReport.SkippedModule])
    /// A LoRA input holds no LoRA module (the file is something else).
    case notALoRA(lora: String, reason: String)
    /// A safetensors read or write failure.
    case safetensors(SafetensorsError)
    /// The base model could not be opened (nothing there, not a model, a bad shard index, a file that is not
    /// safetensors…); `underlying` says why.
    case model(ModelFileError)
    /// A file-system failure outside safetensors I/O (copying, renaming folders).
    case fileSystem(path: String, reason: String)

    public var description: String {
        switch self {
        case .unsupportedModel(let path, let reason): "\(path): cannot merge into this model: \(reason)"
        case .baseModelMismatch(let lora, let lb, let model, let mb):
            "\(lora) was made for \(lb.displayName) but \(model) is an \(mb.displayName) model"
        case .mixedBaseModels(let loras, let families):
            LoRAFamilyCheck.describe(loras: loras, families: families)
        case .unusedKeys(let lora, let count, let first): "\(lora): \(count) keys would be unused (first: \(first)); refusing in strict mode"
        case .patchFailed(let lora, let module, _): "\(lora): cannot apply \(module): \(patchReason ?? "")"
        case .invalidOutput(let path, let reason): "\(path): \(reason)"
        case .noLoRAs: "no LoRA given"
        case .nothingApplied(let report):
            "no module of \(report.loras.map(\.name).joined(separator: " + ")) applies to this model "
                + "(\(report.loras.map(\.skipped.count).reduce(0, +)) modules skipped, "
                + "\(report.loras.map(\.unusedKeys.count).reduce(0, +)) keys unused); nothing was written"
        case .nothingToMerge(let skipped):
            "no module could be merged (\(skipped.count) skipped"
                + (skipped.first.map { "; first: \($0.module): \($0.reason)" } ?? "") + "); nothing was written"
        case .notALoRA(let lora, let reason): "\(lora): not a LoRA: \(reason)"
        case .safetensors(let e): e.description
        case .model(let e): e.message(refusal: "cannot merge into this model")
        case .fileSystem(let path, let reason): "\(path): \(reason)"
        }
    }
}

extension MergeError {
    /// For ``patchFailed(lora:module:underlying:)``: the underlying error's message, without the module's name
    /// when it names the same module (the failure names it already).
    public var patchReason: String? {
        guard case .patchFailed(_, let module, let underlying) = self else { return nil }
        return underlying.target == module ? underlying.detail : underlying.description
    }
}
