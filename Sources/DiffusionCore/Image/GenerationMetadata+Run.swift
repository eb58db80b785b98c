import LoRAKit

extension GenerationMetadata.LoRA {
    /// The entry for a LoRA of a run: its name, its UNet and text-encoder strengths, where it was asked for, and
    /// (given its file's hashes) the hashes InvokeAI and A1111 know the file by.
    public init(_ applied: AppliedLoRA, hashes: FileHashes? = nil) {
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
                  sha256: hashes?.sha256,
                  a1111Hash: hashes.map { lora.file.file.metadata?["sshs_model_hash"] ?? $0.sshsModelHash }, source: source)
    }
}

extension GenerationMetadata {
    /// Every LoRA of `result` for its PNG metadata, in the run's order, with where it was asked for; with
    /// `hashingFiles`, each file is read once to hash it (SHA-256 of the whole file for InvokeAI, and of the
    /// bytes after the header for A1111's "Lora hashes" unless the file records `sshs_model_hash`).
    public static func loras(of result: GenerationResult, hashingFiles: Bool = true) -> [LoRA] {
        var hashed: [ObjectIdentifier: FileHashes] = [:]
        return result.appliedLoRAs.map { applied in
            guard hashingFiles else { return LoRA(applied) }
            let key = ObjectIdentifier(applied.lora.file)
            let hashes = hashed[key] ?? applied.lora.file.file.computeHashes()
            hashed[key] = hashes
            return LoRA(applied, hashes: hashes)
        }
    }
}
