import Foundation
import Testing
@testable import LoRAKit

/// Deterministic mutation fuzzing: thousands of damaged copies of real files must each
/// parse or throw a typed error — never trap, hang or read out of bounds.
@Suite("Hostile input fuzzing")
struct HostileInputFuzzTests {
    /// A small deterministic generator (SplitMix64), so failures reproduce.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let interesting: [UInt8] = Array("{}[]\":,-0123456789eE.tfn\\u ".utf8) + [0, 0x80, 0xFF, 0xC3]

    static let numbers: [String] = ["0", "1", "-1", "3", "7", "16", "4294967296", "18446744073709551615",
                                    "99999999999999999999", "1.5", "1e3", "65536"]

    /// One damaged copy. The header text is mutated (bytes replaced, inserted or deleted; digit runs
    /// replaced by hostile numbers) and framed again with a correct length, so damage reaches the
    /// validation of dtypes, shapes and offsets; sometimes the frame itself is broken too.
    static func mutate(_ bytes: [UInt8], headerEnd: Int, rng: inout SplitMix) -> [UInt8] {
        var header = Array(bytes[8..<min(headerEnd, bytes.count)])
        var data = Array(bytes[min(headerEnd, bytes.count)...])
        for _ in 0..<Int.random(in: 1...3, using: &rng) {
            guard !header.isEmpty else { break }
            let i = Int.random(in: 0..<header.count, using: &rng)
            switch Int.random(in: 0..<6, using: &rng) {
            case 0: header[i] = interesting.randomElement(using: &rng)!
            case 1: header.insert(interesting.randomElement(using: &rng)!, at: i)
            case 2: header.remove(at: i)
            default:
                // Replace the digit run at or after i by a hostile number.
                guard let start = header[i...].firstIndex(where: { (48...57).contains($0) }) else { continue }
                let end = header[start...].firstIndex(where: { !(48...57).contains($0) }) ?? header.count
                header.replaceSubrange(start..<end, with: Array(numbers.randomElement(using: &rng)!.utf8))
            }
        }
        switch Int.random(in: 0..<8, using: &rng) {
        case 0: data = Array(data.prefix(Int.random(in: 0...data.count, using: &rng)))
        case 1: data += [UInt8](repeating: 7, count: Int.random(in: 1...16, using: &rng))
        default: break
        }
        var n = UInt64(header.count)
        if Int.random(in: 0..<10, using: &rng) == 0 { n = UInt64.random(in: 0...UInt64(header.count + 64), using: &rng) }
        return (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * $0)) } + header + data
    }

    static func headerEnd(_ bytes: [UInt8]) -> Int {
        var n = 0
        for i in (0..<8).reversed() { n = n << 8 | Int(bytes[i]) }
        return 8 + n
    }

    @Test("damaged safetensors headers parse or throw", arguments: ["writer_reference.safetensors"])
    func safetensorsHeaders(name: String) throws {
        let bytes = [UInt8](try Data(contentsOf: Fixtures.url(name, subdirectory: "safetensors")))
        var rng = SplitMix(state: 0x5AFE)
        var accepted = 0
        for _ in 0..<10_000 {
            let damaged = Self.mutate(bytes, headerEnd: Self.headerEnd(bytes), rng: &rng)
            if let file = try? SafetensorsFile(bytes: damaged) {
                accepted += 1
                // Whatever was accepted must be readable in full.
                for info in file.tensors { _ = file.tensor(info).bytes() }
            }
        }
        #expect(accepted > 0 && accepted < 10_000)
    }

    @Test("damaged LoRA files parse, apply or throw", arguments: ["kohya_sd1.safetensors", "loha.safetensors", "lokr.safetensors", "peft_sd1.safetensors", "lycoris_formula.safetensors", "dora_kohya.safetensors"])
    func loraFiles(name: String) throws {
        let bytes = [UInt8](try Data(contentsOf: Fixtures.url(name, subdirectory: "lora")))
        var rng = SplitMix(state: 0x10_4A)
        var parsed = 0
        for _ in 0..<1_500 {
            let damaged = Self.mutate(bytes, headerEnd: Self.headerEnd(bytes), rng: &rng)
            guard let st = try? SafetensorsFile(bytes: damaged), let lora = try? LoRAFile(file: st) else { continue }
            parsed += 1
            _ = lora.triggerWords(limit: 5)
            for module in lora.modules.prefix(8) {
                // A weight of the shape the factors imply, when they imply one small enough.
                guard let n = module.naturalElementCount, n > 0, n <= 1 << 20 else { continue }
                var w = [Float](repeating: 0.5, count: n)
                try? module.apply(toWeight: &w, shape: [n], strength: 0.7)
                _ = try? module.scaledDelta()
            }
        }
        // The mutations must reach the LoRA parser, not only the frame checks.
        #expect(parsed > 20)
    }
}
