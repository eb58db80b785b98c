/// The hashes UIs and trainers use to identify a safetensors file.
public struct FileHashes: Sendable, Hashable {
    /// SHA-256 of the whole file, lowercase hex (A1111's "sha256"; its first 10 digits are "AutoV2").
    public var sha256: String
    /// SHA-256 of the bytes after the header, lowercase hex (kohya's `sshs_model_hash`,
    /// unchanged by edits to metadata).
    public var sshsModelHash: String
    /// kohya's `sshs_legacy_hash` / A1111's old model hash: SHA-256 of the 64 KiB at offset 1 MiB, first 8 digits.
    public var legacyHash: String

    /// A1111's short hash: the first 10 hex digits of ``sha256``.
    public var autoV2: String { String(sha256.prefix(10)) }
}

extension SafetensorsFile {
    /// Computes ``FileHashes``: both SHA-256 digests in one pass over the file (``computeContentHashes()``),
    /// and the legacy hash from its 64 KiB window.
    public func computeHashes() -> FileHashes {
        let content = computeContentHashes()
        let legacy = withFileBytes { bytes -> String in
            let start = min(0x100000, bytes.count)
            let end = min(start + 0x10000, bytes.count)
            return String(Self.sha256Hex(UnsafeRawBufferPointer(rebasing: bytes[start..<end])).prefix(8))
        }
        return FileHashes(sha256: content.sha256, sshsModelHash: content.sshsModelHash, legacyHash: legacy)
    }

    /// The SHA-256 of the whole file and of the bytes after the header (kohya's `sshs_model_hash`) — what
    /// A1111, InvokeAI and a LoRA library identify a file by — in one pass: each chunk after the header feeds
    /// both digests while it is in cache, so the file is read once.
    public func computeContentHashes() -> LoRAFileHashes {
        withFileBytes { bytes -> LoRAFileHashes in
            var whole = SHA256Digest()
            var data = SHA256Digest()
            let start = min(dataStart, bytes.count)
            whole.update(UnsafeRawBufferPointer(rebasing: bytes[0..<start]))
            var offset = start
            let chunk = 1 << 20  // small enough to stay in cache between the two digests
            while offset < bytes.count {
                let end = min(offset + chunk, bytes.count)
                let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<end])
                whole.update(slice)
                data.update(slice)
                offset = end
            }
            return LoRAFileHashes(sha256: Self.hex(whole.finalize()), sshsModelHash: Self.hex(data.finalize()))
        }
    }

    static func sha256Hex(_ bytes: UnsafeRawBufferPointer) -> String {
        var hasher = SHA256Digest()
        var offset = 0
        let chunk = 1 << 24
        while offset < bytes.count {
            let end = min(offset + chunk, bytes.count)
            hasher.update(UnsafeRawBufferPointer(rebasing: bytes[offset..<end]))
            offset = end
        }
        return hex(hasher.finalize())
    }

    /// Lowercase hex of a digest.
    static func hex(_ digest: [UInt8]) -> String {
        digest.map { byte in
            let s = String(byte, radix: 16)
            return s.count == 1 ? "0" + s : s
        }.joined()
    }
}
