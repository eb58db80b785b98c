import Foundation
import Testing
@testable import LoRAKit

/// Patched weights against peft `merge_and_unload` / diffusers / torch formulas (tolerance 1e-5, f32).
@Suite("LoRA reference")
struct LoRAReferenceTests {
    @Test("PEFT/diffusers keys with lora_adapter_metadata alpha and alpha_pattern")
    func peftDiffusers() throws {
        let f = try LoRAFixture("peft_sd1")
        #expect(f.lora.format == .peftDiffusers)
        #expect(f.lora.unrecognized.isEmpty)
        let toK = try #require(f.lora.module(for: ModuleTarget(component: .unet, path: "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k")))
        #expect(toK.alpha == 2 && toK.scale == 0.5)
        try f.verify(cases: 14)
    }

    @Test("kohya SD1 keys (diffusers conversion), LoCon 3×3, lora_te_")
    func kohyaSD1() throws {
        let f = try LoRAFixture("kohya_sd1")
        #expect(f.lora.format == .kohya)
        #expect(f.lora.unrecognized.isEmpty)
        #expect(f.lora.familyCounts[.locon] == 2)
        #expect(f.lora.modules.allSatisfy { $0.scale == 2 })
        try f.verify(cases: 14)
    }

    @Test("kohya SDXL keys in SGM block names")
    func kohyaSDXL() throws {
        let f = try LoRAFixture("kohya_sdxl_sgm")
        #expect(f.lora.unrecognized.isEmpty)
        #expect(f.lora.components == [.unet, .textEncoder, .textEncoder2])
        #expect(f.lora.baseModel.detected == .sdxl)
        try f.verify(cases: 14)
    }

    @Test("LCM-LoRA spelling: kohya prefix, diffusers SDXL names, UNet only")
    func lcm() throws {
        let f = try LoRAFixture("lcm_sdxl")
        #expect(f.lora.unrecognized.isEmpty)
        #expect(f.lora.components == [.unet])
        #expect(f.lora.baseModel.detected == .sdxl)
        try f.verify(cases: 10)
    }

    @Test("old attention-processor and LoRACompatible spellings")
    func legacy() throws {
        let f = try LoRAFixture("legacy_attn_processor")
        #expect(f.lora.unrecognized.isEmpty)
        #expect(f.lora.formatCounts[.legacyAttentionProcessor] == 3)
        try f.verify(cases: 8)
    }

    @Test("DoRA from peft, PEFT spelling (lora_magnitude_vector)")
    func doraPEFT() throws {
        let f = try LoRAFixture("dora_peft")
        #expect(f.lora.doraCount == 4)
        try f.verify(cases: 4)
    }

    @Test("DoRA from peft, kohya spelling (dora_scale)")
    func doraKohya() throws {
        let f = try LoRAFixture("dora_kohya")
        #expect(f.lora.doraCount == 4)
        try f.verify(cases: 4)
    }

    @Test("LoHa from peft, plain and Tucker")
    func loha() throws {
        let f = try LoRAFixture("loha")
        #expect(f.lora.familyCounts[.loha] == 3)
        #expect(f.lora.unrecognized.isEmpty)
        try f.verify(cases: 5)
    }

    @Test("LoKr from peft: full×full, full×low-rank, Tucker lokr_t2")
    func lokr() throws {
        let f = try LoRAFixture("lokr")
        #expect(f.lora.familyCounts[.lokr] == 3)
        #expect(f.lora.unrecognized.isEmpty)
        try f.verify(cases: 5)
    }

    @Test("NUMERICS formulas: LoKr scale rule, diff/diff_b, IA3, norm, input-axis DoRA, alpha 0, .scale, lora_mid")
    func formulas() throws {
        let f = try LoRAFixture("lycoris_formula")
        #expect(f.lora.unrecognized.isEmpty)
        #expect(f.lora.warnings.contains { $0.contains("alpha is 0") })
        let q = try #require(f.lora.module(for: ModuleTarget(component: .textEncoder, path: "text_model.encoder.layers.0.self_attn.q_proj")))
        #expect(try q.doraAxis(forWeightShape: [8, 8]) == .input)
        let lokrFull = try #require(f.lora.module(for: ModuleTarget(component: .unet, path: "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q")))
        #expect(lokrFull.scale == 1 && lokrFull.rank == nil)
        try f.verify(cases: 12)
    }
}
