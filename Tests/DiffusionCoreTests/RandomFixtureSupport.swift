import Foundation
@testable import DiffusionCore

/// One recorded draw, as written by `Scripts/fixtures/random_fixtures.py`.
struct RandomFixtureDraw: Decodable {
    let op: String
    let shape: [Int]
    let count: Int
    let fnv1a64: String
    /// Bit patterns of the first values (all of them for small draws).
    let head: [UInt32]
    /// Bit patterns of the last values (empty when `head` holds all).
    let tail: [UInt32]
}

struct RandomFixtureCase: Decodable {
    let seed: String
    let draws: [RandomFixtureDraw]

    var seedValue: UInt64 { UInt64(seed)! }
}

struct TorchRandomFixtureFile: Decodable {
    let kernels: [String: [RandomFixtureCase]]

    static func load() throws -> TorchRandomFixtureFile {
        // Gzipped: the two kernels' halves are nearly the same text.
        guard let url = Bundle.module.url(forResource: "torch.json", withExtension: "gz", subdirectory: "Fixtures/random") else {
            throw FixtureError.missing("random/torch.json.gz")
        }
        return try JSONDecoder().decode(TorchRandomFixtureFile.self, from: TextFixtures.gunzip(url, name: "random/torch.json.gz"))
    }
}

struct PhiloxFixtureFile: Decodable {
    let cases: [RandomFixtureCase]

    static func load() throws -> PhiloxFixtureFile {
        try JSONDecoder().decode(PhiloxFixtureFile.self, from: randomFixtureData("philox"))
    }
}

private func randomFixtureData(_ name: String) throws -> Data {
    guard let url = Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures/random") else {
        throw FixtureError.missing("random/\(name).json")
    }
    return try Data(contentsOf: url)
}

/// FNV-1a (64-bit) of the values as little-endian float32 bytes, as the fixture script hashes them.
func fnv1a64(_ values: [Float]) -> String {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for value in values {
        var bits = value.bitPattern.littleEndian
        withUnsafeBytes(of: &bits) { bytes in
            for byte in bytes {
                hash ^= UInt64(byte)
                hash = hash &* 0x0000_0100_0000_01B3
            }
        }
    }
    let hex = String(hash, radix: 16)
    return String(repeating: "0", count: 16 - hex.count) + hex
}

/// nil when `values` reproduces the draw bit for bit, else a description of the first difference.
func randomDrawMismatch(_ values: [Float], _ draw: RandomFixtureDraw) -> String? {
    guard values.count == draw.count else { return "count \(values.count) ≠ \(draw.count)" }
    for (i, bits) in draw.head.enumerated() where values[i].bitPattern != bits {
        return "value \(i): \(values[i]) ≠ torch \(Float(bitPattern: bits))"
    }
    for (k, bits) in draw.tail.enumerated() {
        let i = values.count - draw.tail.count + k
        if values[i].bitPattern != bits { return "value \(i): \(values[i]) ≠ torch \(Float(bitPattern: bits))" }
    }
    let hash = fnv1a64(values)
    return hash == draw.fnv1a64 ? nil : "hash \(hash) ≠ \(draw.fnv1a64) (first and last values equal)"
}
