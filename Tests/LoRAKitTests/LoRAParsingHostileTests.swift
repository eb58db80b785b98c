import Foundation
import Testing
@testable import LoRAKit

/// A few hundred bytes must not make the library compute a giant ΔW.
@Suite("LoRA: hostile factor shapes")
struct LoRAParsingHostileTests {
    /// A kohya module whose factors are tiny in the file but describe an enormous ΔW:
    /// a LoKr with two 1×65536 … factors, i.e. a Kronecker product of 2^32 elements.
    func hostileLoKr() throws -> LoRAFile {
        var writer = SafetensorsWriter()
        let n = 1 << 16
        writer.add(name: "lora_unet_mid_block_attentions_0_proj_in.lokr_w1", shape: [n, 1], floats: [Float](repeating: 1, count: n))
        writer.add(name: "lora_unet_mid_block_attentions_0_proj_in.lokr_w2", shape: [n, 1], floats: [Float](repeating: 1, count: n))
        writer.add(name: "lora_unet_mid_block_attentions_0_proj_in.alpha", shape: [], floats: [1])
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-lokr-\(UUID().uuidString).safetensors")
        try writer.write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        return try LoRAFile(contentsOf: url)
    }

    @Test("a huge Kronecker ΔW is refused before it is computed")
    func hugeKroneckerRefused() throws {
        let lora = try hostileLoKr()
        let module = try #require(lora.modules.first)
        #expect(module.naturalElementCount == 1 << 32)
        // Against a real weight shape: a shape error, no allocation.
        var weight = [Float](repeating: 0, count: 1280 * 1280)
        #expect(throws: LoRAError.self) { try module.apply(toWeight: &weight, shape: [1280, 1280], strength: 1) }
        // With no target (statistics, SVD tools): over the size limit.
        #expect(throws: LoRAError.self) { try module.scaledDelta() }
    }
}
