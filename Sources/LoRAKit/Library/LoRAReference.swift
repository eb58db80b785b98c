import Foundation

/// A LoRA a user named — a file path, or a library name, alias or hash prefix — resolved to its file, the
/// way `lora-tool merge`, `lora-tool generate` and `<lora:NAME:W>` prompt tags resolve them.
public struct LoRAReference: Sendable, Equatable {
    /// The LoRA file.
    public var url: URL
    /// The name shown to users: the file name without `.safetensors`.
    public var name: String
    /// The weight the user prefers for it (the A1111 sidecar's `"preferred weight"`), used when no
    /// strength is given.
    public var preferredWeight: Float?

    public init(url: URL, name: String, preferredWeight: Float? = nil) {
        self.url = url
        self.name = name
        self.preferredWeight = preferredWeight
    }
}

extension LoRALibrary {
    /// Resolves `nameOrPath`: the file itself when a file exists at that path, else the library entry
    /// answering to the name (see ``lookup(_:)``), with the sidecar's preferred weight.
    /// - Throws: ``LoRALibraryError/folderNotFound(path:)`` when the name is not a file and the library
    ///   folder does not exist; ``LoRALibraryError/notFound(query:folder:suggestions:)``,
    ///   ``LoRALibraryError/ambiguous(query:candidates:)``, ``LoRALibraryError/notALoRA(query:path:reason:)``.
    public func resolve(_ nameOrPath: String) throws(LoRALibraryError) -> LoRAReference {
        var isDirectory: ObjCBool = false
        let url: URL
        if FileManager.default.fileExists(atPath: nameOrPath, isDirectory: &isDirectory), !isDirectory.boolValue {
            url = URL(fileURLWithPath: nameOrPath)
        } else {
            url = URL(fileURLWithPath: try lookup(nameOrPath).path)
        }
        return LoRAReference(url: url, name: url.deletingPathExtension().lastPathComponent,
                             preferredWeight: LoRASidecar.beside(url)?.preferredWeight)
    }
}
