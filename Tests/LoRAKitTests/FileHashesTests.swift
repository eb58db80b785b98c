import Foundation
import Testing
@testable import LoRAKit

/// The file hashes A1111, InvokeAI and kohya identify a safetensors file by: the one-pass content hashes equal
/// the SHA-256 of the whole file and of the bytes after the header computed separately, on a file spanning
/// several read chunks and on one with no tensor data.
@Suite("File hashes")
struct FileHashesTests {
    /// SHA-256 of `bytes`, computed on its own.
    static func digest(_ bytes: UnsafeRawBufferPointer) -> String {
        var hasher = SHA256Digest()
        hasher.update(bytes)
        return SafetensorsFile.hex(hasher.finalize())
    }

    static func written(_ writer: SafetensorsWriter) throws -> (SafetensorsFile, URL) {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lorakit-hash-\(UUID().uuidString).safetensors")
        try writer.write(to: url)
        return (try SafetensorsFile(contentsOf: url), url)
    }

    @Test("The SHA-256 beneath both hashes gives the FIPS 180-2 test vectors, whole and fed in uneven pieces")
    func knownVectors() {
        func hash(_ text: String, pieces: [Int] = []) -> String {
            let bytes = Array(text.utf8)
            var hasher = SHA256Digest()
            var start = 0
            for size in pieces + [bytes.count] where start < bytes.count {
                let end = min(bytes.count, start + size)
                bytes[start..<end].withUnsafeBytes { hasher.update($0) }
                start = end
            }
            return SafetensorsFile.hex(hasher.finalize())
        }
        #expect(hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let long = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"
        #expect(hash(long) == "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
        #expect(hash(long, pieces: [1, 63, 7]) == "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
        let million = String(repeating: "a", count: 1_000_000)
        #expect(hash(million, pieces: [65, 100_000, 3]) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test("One pass gives the whole-file and data-only SHA-256 of separate passes; the legacy hash is unchanged")
    func onePass() throws {
        var large = SafetensorsWriter(metadata: ["ss_network_dim": "4"])
        // 2.5 MiB of data not a multiple of the read chunk, after a header of odd length.
        large.add(name: "a", shape: [655_361], floats: (0..<655_361).map { Float($0 % 977) * 0.25 - 3 })
        large.add(name: "b_odd_name", shape: [3], floats: [1, 2, 3], as: .f16)
        var empty = SafetensorsWriter(metadata: ["note": "no tensors"])
        empty.metadata?["x"] = "y"
        for writer in [large, empty] {
            let (file, url) = try Self.written(writer)
            defer { try? FileManager.default.removeItem(at: url) }
            let whole = file.withFileBytes { Self.digest($0) }
            let data = file.withDataBytes { Self.digest($0) }
            let content = file.computeContentHashes()
            #expect(content == LoRAFileHashes(sha256: whole, sshsModelHash: data))
            let all = file.computeHashes()
            #expect(all.sha256 == whole && all.sshsModelHash == data)
            let legacy = file.withFileBytes { bytes -> String in
                let start = min(0x100000, bytes.count), end = min(start + 0x10000, bytes.count)
                return String(Self.digest(UnsafeRawBufferPointer(rebasing: bytes[start..<end])).prefix(8))
            }
            #expect(all.legacyHash == legacy)
        }
        // The SHA-256 of nothing, as every implementation gives it.
        #expect(Self.digest(UnsafeRawBufferPointer(start: nil, count: 0)) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }
}
