/// Everything that can go wrong when using a ``LoRALibrary``.
///
/// A broken file inside the folder is never an error: it becomes a ``LoRALibrarySkippedFile``
/// with its reason. Errors are about the folder itself and about lookups.
public enum LoRALibraryError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The library folder does not exist or is not a folder.
    case folderNotFound(path: String)
    /// No LoRA in the library has this name, alias or hash prefix.
    /// `suggestions` lists names that contain the query (at most a few).
    case notFound(query: String, folder: String, suggestions: [String])
    /// More than one LoRA answers to the name; `candidates` are their paths relative to the folder.
    case ambiguous(query: String, candidates: [String])
    /// The name matches a file the scan skipped (a checkpoint, an embedding, a broken file…).
    case notALoRA(query: String, path: String, reason: String)
    /// The LoRA is for another model family than the model it is used with.
    case baseModelMismatch(lora: String, loraBase: BaseModel, model: String, modelBase: BaseModel)
    /// Reading a file failed (hashing a file that vanished or changed, for example).
    case unreadable(path: String, reason: String)
    /// A file of the library is no longer a valid safetensors file; `underlying` says why.
    case invalidFile(path: String, underlying: SafetensorsError)

    public var description: String {
        switch self {
        case .folderNotFound(let path):
            "LoRA folder not found: \(path)"
        case .notFound(let query, let folder, let suggestions):
            "no LoRA named '\(query)' in \(folder)"
                + (suggestions.isEmpty ? "" : " (did you mean: \(suggestions.joined(separator: ", "))?)")
        case .ambiguous(let query, let candidates):
            "'\(query)' matches \(candidates.count) LoRAs: \(candidates.joined(separator: ", ")); give the folder too (e.g. '\(Self.stemPath(candidates.first { $0.contains("/") } ?? candidates.first ?? query))') or a hash prefix"
        case .notALoRA(let query, let path, let reason):
            "'\(query)' is \(path), which is not a usable LoRA: \(reason)"
        case .baseModelMismatch(let lora, let loraBase, let model, let modelBase):
            "LoRA '\(lora)' is for \(loraBase.displayName) but the model '\(model)' is \(modelBase.displayName)"
        case .unreadable(let path, let reason):
            "cannot read \(path): \(reason)"
        case .invalidFile(let path, let underlying):
            "cannot read \(path): \(underlying)"
        }
    }

    /// A relative path without its `.safetensors` extension, as lookups accept it.
    static func stemPath(_ relativePath: String) -> String {
        relativePath.hasSuffix(".safetensors") ? String(relativePath.dropLast(".safetensors".count)) : relativePath
    }
}
