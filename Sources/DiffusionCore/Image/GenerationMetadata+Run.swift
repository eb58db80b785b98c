import LoRAKit

extension GenerationMetadata.LoRA {
    /// The entry for a LoRA of a run: its name, its UNet and text-encoder strengths, where it was asked for, and
    /// (given its file's hashes) the hashes InvokeAI and A1111 know the file by.
    public init(_ applied: AppliedLoRA, hashes: FileHashes? = nil) {
        self.init(applied, sha256: hashes?.sha256, sshsModelHash: hashes?.sshsModelHash)
    }

    /// The entry for a LoRA of a run, given the content hashes of its file (``SafetensorsFile/computeContentHashes()``).
    public init(_ applied: AppliedLoRA, contentHashes: LoRAFileHashes) {
        self.init(applied, sha256: contentHashes.sha256, sshsModelHash: contentHashes.sshsModelHash)
    }

    private init(_ applied: AppliedLoRA, sha256: String?, sshsModelHash: String?) {
        let lora = applied.lora
        let source: Source
        switch applied.origin {
        case .pipeline, .request: source = .given
        case let .promptTag(tag): source = .promptTag(tag.tag)
        case let .negativePromptTag(tag): source = .negativePromptTag(tag.tag)
        }
        // Strengths as written (0.35, not 0.3499999940395355).
        func decimal(_ x: Float) -> Double { Double("\(x)") ?? Double(x) }
        self.init(name: lora.name, weight: decimal(lora.unetStrength), textEncoderWeight: decimal(lora.textEncoderStrength),
                  sha256: sha256,
                  a1111Hash: sshsModelHash.map { lora.file.file.metadata?["sshs_model_hash"] ?? $0 }, source: source)
    }
}

extension GenerationMetadata {
    /// Every LoRA of `result` for its PNG metadata, in the run's order, with where it was asked for; with
    /// `hashingFiles`, each file is read once to hash it (SHA-256 of the whole file for InvokeAI, and of the
    /// bytes after the header for A1111's "Lora hashes" unless the file records `sshs_model_hash`).
    public static func loras(of result: GenerationResult, hashingFiles: Bool = true) -> [LoRA] {
        var hashed: [ObjectIdentifier: LoRAFileHashes] = [:]
        return result.appliedLoRAs.map { applied in
            guard hashingFiles else { return LoRA(applied) }
            let key = ObjectIdentifier(applied.lora.file)
            let hashes = hashed[key] ?? applied.lora.file.file.computeContentHashes()
            hashed[key] = hashes
            return LoRA(applied, contentHashes: hashes)
        }
    }
}
