import CLibcrypto

/// Incremental SHA-256 (libcrypto's `SHA256_CTX`; a plain struct, nothing to free).
struct SHA256Digest {
    private var context = SHA256_CTX()

    init() { SHA256_Init(&context) }

    /// Adds `bytes` to the message.
    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        SHA256_Update(&context, base, bytes.count)
    }

    /// The digest of `bytes`.
    static func hash(_ bytes: [UInt8]) -> [UInt8] {
        var d = SHA256Digest()
        bytes.withUnsafeBytes { d.update($0) }
        return d.finalize()
    }

    /// The 32-byte digest of everything added.
    mutating func finalize() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        out.withUnsafeMutableBufferPointer { _ = SHA256_Final($0.baseAddress, &context) }
        return out
    }
}
