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
    /// Computes ``FileHashes`` by reading the whole mapped file once for each digest.
    public func computeHashes() -> FileHashes {
        let full = withFileBytes { Self.sha256Hex($0) }
        let data = withDataBytes { Self.sha256Hex($0) }
        let legacy = withFileBytes { bytes -> String in
            let start = min(0x100000, bytes.count)
            let end = min(start + 0x10000, bytes.count)
            return String(Self.sha256Hex(UnsafeRawBufferPointer(rebasing: bytes[start..<end])).prefix(8))
        }
        return FileHashes(sha256: full, sshsModelHash: data, legacyHash: legacy)
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
        return hasher.finalize().map { byte in
            let s = String(byte, radix: 16)
            return s.count == 1 ? "0" + s : s
        }.joined()
    }
}
