import Foundation
import Testing
@testable import LoRAKit
import TestSupport

@Suite("LoRA parsing")
struct LoRAParsingTests {
    @Test("no two module paths flatten to the same kohya name")
    func noCollisions() {
        #expect(ModuleCatalog.shared.collisions.isEmpty)
        #expect(ModuleCatalog.shared.unet.count > 1000)
    }

    @Test("SGM/LDM ↔ diffusers table matches NUMERICS §2.3 examples")
    func blockMapping() {
        let xl = UNetBlockMapping.sdxl
        #expect(xl.ldmToDiffusers["output_blocks.1.1.transformer_blocks.7.attn2.to_k"] == "up_blocks.0.attentions.1.transformer_blocks.7.attn2.to_k")
        #expect(xl.diffusersToLDM["up_blocks.0.upsamplers.0.conv"] == "output_blocks.2.2.conv")
        #expect(xl.diffusersToLDM["down_blocks.1.downsamplers.0.conv"] == "input_blocks.6.0.op")
        #expect(xl.diffusersToLDM["add_embedding.linear_2"] == "label_emb.0.2")
        let sd1 = UNetBlockMapping.sd1
        #expect(sd1.diffusersToLDM["up_blocks.0.upsamplers.0.conv"] == "output_blocks.2.1.conv")
        #expect(sd1.diffusersToLDM["mid_block.resnets.1.time_emb_proj"] == "middle_block.2.emb_layers.1")
        #expect(sd1.diffusersToLDM["down_blocks.3.resnets.1.conv2"] == "input_blocks.11.0.out_layers.3")
        #expect(sd1.diffusersToLDM["up_blocks.3.attentions.2.proj_out"] == "output_blocks.11.1.proj_out")
        #expect(sd1.diffusersToLDM.count == sd1.ldmToDiffusers.count)
    }

    @Test("flattened names resolve exactly, underscores inside module names included")
    func resolve() throws {
        let cases: [(String, ModelComponent, String)] = [
            ("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_ff_net_0_proj", .unet, "down_blocks.0.attentions.0.transformer_blocks.0.ff.net.0.proj"),
            ("lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q", .unet, "down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q"),
            ("lora_unet_up_blocks_1_resnets_2_conv_shortcut", .unet, "up_blocks.1.resnets.2.conv_shortcut"),
            ("lora_unet_input_blocks_3_0_op", .unet, "down_blocks.0.downsamplers.0.conv"),
            ("lora_te2_text_model_encoder_layers_31_mlp_fc2", .textEncoder2, "text_model.encoder.layers.31.mlp.fc2"),
            ("text_encoder.encoder.layers.0.self_attn.out_proj", .textEncoder, "text_model.encoder.layers.0.self_attn.out_proj"),
            ("diffusion_model.middle_block.1.proj_out", .unet, "mid_block.attentions.0.proj_out"),
        ]
        for (stem, component, path) in cases {
            let r = try LoRAKeyParser.resolve(stem: stem, suffixStyle: .kohya).get()
            #expect(r.0 == ModuleTarget(component: component, path: path), "\(stem)")
        }
        #expect((try? LoRAKeyParser.resolve(stem: "lora_unet_nonexistent_block", suffixStyle: .kohya).get()) == nil)
    }

    @Test("shape mismatch throws a typed error and leaves the weight alone")
    func shapeMismatch() throws {
        let f = try LoRAFixture("kohya_sd1")
        let m = try #require(f.lora.module(for: ModuleTarget(component: .unet, path: "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q")))
        var w = [Float](repeating: 1, count: 12)
        #expect(throws: LoRAError.self) { try m.apply(toWeight: &w, shape: [3, 4], strength: 1) }
        #expect(w == [Float](repeating: 1, count: 12))
        var wrongCount = [Float](repeating: 1, count: 5)
        #expect(throws: LoRAError.self) { try m.apply(toWeight: &wrongCount, shape: [8, 8], strength: 1) }
        // SD1 proj_in (conv 1×1) delta fits a Linear weight of the same size.
        let p = try #require(f.lora.module(for: ModuleTarget(component: .unet, path: "down_blocks.0.attentions.0.proj_in")))
        #expect(try p.deltaWeight(shape: [8, 8]).count == 64)
        #expect(p.lowRankFactors?.downShape == [4, 8, 1, 1])
    }

    @Test("strength scales additive deltas linearly")
    func strength() throws {
        let f = try LoRAFixture("loha")
        var tested = 0
        for m in f.lora.modules {
            let c = try #require(LoRAFixture.shape(of: m, in: f), "no base shape for \(m.target)")
            tested += 1
            var a = [Float](repeating: 0.5, count: c.reduce(1, *))
            let d = try m.deltaWeight(shape: c)
            try m.apply(toWeight: &a, shape: c, strength: 0.3)
            for i in a.indices { #expect(abs(a[i] - (0.5 + 0.3 * d[i])) < 1e-5, "index \(i)") }
        }
        #expect(tested == 3)
    }

    @Test("base model detection, metadata opinion and conflicts")
    func baseModel() throws {
        let sd1 = try LoRAFixture("kohya_sd1").lora.baseModel
        #expect(sd1.metadataSays == .sd1)
        #expect(sd1.detected == .sd1)
        #expect(sd1.conflict == nil)
        let md = BaseModelDetector.metadataOpinion(["ss_base_model_version": "sdxl_base_v1-0", "modelspec.architecture": "stable-diffusion-v1/lora"])
        #expect(md.conflict != nil)
    }

    @Test("a file with no LoRA keys parses to no modules, with every key reported")
    func notALoRA() throws {
        let lora = try LoRAFile(contentsOf: Fixtures.url("not_a_lora.safetensors", subdirectory: "lora"))
        #expect(!lora.isLoRA)
        #expect(lora.unrecognized.flatMap(\.keys) == ["model.weight"])
        #expect(lora.baseModel.detected == nil)
    }

    @Test("metadata: trigger words, training summary, hashes")
    func metadata() throws {
        let lora = try LoRAFile(contentsOf: Fixtures.url("kohya_sd1.safetensors", subdirectory: "lora"))
        let words = lora.triggerWords(limit: 2)
        #expect(words.map(\.text) == ["mychar style", "mychar", "1girl"])
        #expect(lora.trainingSummary.contains { $0.key == "ss_network_dim" && $0.value == "4" })
        let h = lora.file.computeHashes()
        #expect(h.sha256.count == 64 && h.sshsModelHash.count == 64 && h.sha256 != h.sshsModelHash)
        #expect(h.autoV2 == String(h.sha256.prefix(10)))
    }

    @Test("real files: cloneofsimo format with embedded tokens, and an SVD-extracted one",
          .enabled(if: RealWorld.isPresent, RealWorld.missingReason))
    func realWorld() throws {
        for name in ["lora_disney.safetensors", "analog_svd_rank4.safetensors"] {
            let lora = try LoRAFile(contentsOf: try RealWorld.url(name))
            #expect(lora.format == .cloneofsimo, "\(name)")
            #expect(lora.unrecognized.isEmpty, "\(name): \(lora.unrecognized.map(\.reason))")
            #expect(lora.modules.count == 144 + 48, "\(name)")
            #expect(lora.baseModel.detected == .sd1, "\(name)")
            let ff = try #require(lora.module(for: ModuleTarget(component: .unet, path: "down_blocks.0.attentions.0.transformer_blocks.0.ff.net.0.proj")))
            #expect(ff.tensorShapes.values.contains([2560, ff.rank ?? 0]))
        }
        let lora = try LoRAFile(contentsOf: try RealWorld.url("lora_disney.safetensors"))
        #expect(lora.embeddedTokens.map(\.name).sorted() == ["<s1>", "<s2>"])
    }
}

extension LoRAFixture {
    /// The base shape the expected file holds for a module's weight.
    static func shape(of m: LoRAModule, in f: LoRAFixture) -> [Int]? {
        f.expected.info(named: "base.\(m.target.description).weight")?.shape
    }
}
