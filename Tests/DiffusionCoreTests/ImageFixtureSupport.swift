import Foundation
@testable import DiffusionCore

/// `Tests/DiffusionCoreTests/Fixtures/images/images.json`, written by `Scripts/fixtures/image_fixtures.py`.
struct ImageFixtureFile: Decodable {
    struct Bytes: Decodable {
        let count: Int
        let fnv1a64: String
        /// All bytes when `count` ≤ 256, else the first 32.
        let bytes: [UInt8]
    }
    struct Floats: Decodable {
        let shape: [Int]
        let fnv1a64: String
        let head: [UInt32]
    }
    struct Decode: Decodable {
        let file: String
        let mode: String
        let width: Int
        let height: Int
        let rgb: Bytes
        let alpha: Bytes?
    }
    struct Resize: Decodable {
        let mode: String
        let file: String
        let width: Int
        let height: Int
        let target_width: Int
        let target_height: Int
        let result: Bytes
    }
    struct Sized: Decodable { let width: Int; let height: Int; let tensor: Floats }
    struct Preprocess: Decodable { let file: String; let tensor: Floats; let sized: Sized }
    struct Mask: Decodable { let file: String; let tensor: Floats }
    struct Postprocess: Decodable { let tensor: [Double]; let shape: [Int]; let images: [Bytes] }

    let decode: [Decode]
    let resize: [Resize]
    let preprocess: Preprocess
    let mask: Mask
    let postprocess: Postprocess

    static func load() throws -> ImageFixtureFile {
        let decoder = JSONDecoder()
        decoder.allowsJSON5 = true  // Infinity
        return try decoder.decode(ImageFixtureFile.self, from: Data(contentsOf: url("images.json")))
    }

    static func url(_ name: String) throws -> URL {
        guard let folder = Bundle.module.url(forResource: "images", withExtension: nil, subdirectory: "Fixtures") else {
            throw FixtureError.missing("images/\(name)")
        }
        return folder.appendingPathComponent(name)
    }
}

func fnv1a64(bytes: [UInt8]) -> String {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in bytes {
        hash ^= UInt64(byte)
        hash = hash &* 0x0000_0100_0000_01B3
    }
    let hex = String(hash, radix: 16)
    return String(repeating: "0", count: 16 - hex.count) + hex
}

/// nil when `bytes` equals the record, else the first difference.
func bytesMismatch(_ bytes: [UInt8], _ record: ImageFixtureFile.Bytes) -> String? {
    guard bytes.count == record.count else { return "count \(bytes.count) ≠ \(record.count)" }
    for (i, b) in record.bytes.enumerated() where bytes[i] != b { return "byte \(i): \(bytes[i]) ≠ \(b)" }
    let hash = fnv1a64(bytes: bytes)
    return hash == record.fnv1a64 ? nil : "hash differs (first bytes equal)"
}

/// nil when `tensor` equals the record bit for bit, else the first difference.
func floatsMismatch(_ tensor: Tensor, _ record: ImageFixtureFile.Floats) -> String? {
    guard tensor.shape == record.shape else { return "shape \(tensor.shape) ≠ \(record.shape)" }
    let values = tensor.scalars
    for (i, bits) in record.head.enumerated() where values[i].bitPattern != bits {
        return "value \(i): \(values[i]) ≠ \(Float(bitPattern: bits))"
    }
    return fnv1a64(values) == record.fnv1a64 ? nil : "hash differs (first values equal)"
}
