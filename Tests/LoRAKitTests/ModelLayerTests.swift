import Foundation
import Testing
@testable import LoRAKit

enum ModelFixtures {
    static var root: URL { Bundle.module.url(forResource: "model", withExtension: nil, subdirectory: "Fixtures")! }
    static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }

    /// A copy of the SD1 merge fixture at `folder` whose UNet is stored as two shards (tensors alternating)
    /// with their `diffusion_pytorch_model.safetensors.index.json`; returns the unsharded file's size.
    @discardableResult
    static func shardedSD1(at folder: URL) throws -> Int {
        try FileManager.default.copyItem(at: MergeFixtures.url("sd1"), to: folder)
        let unet = folder.appendingPathComponent("unet")
        let whole = unet.appendingPathComponent("diffusion_pytorch_model.safetensors")
        let file = try SafetensorsFile(contentsOf: whole)
        var shards = [SafetensorsWriter(metadata: ["format": "pt"]), SafetensorsWriter(metadata: ["format": "pt"])]
        var weightMap: [String: String] = [:]
        for (i, info) in file.tensors.enumerated() {
            let s = i % 2
            shards[s].add(file.tensor(info))
            weightMap[info.name] = "diffusion_pytorch_model-0000\(s + 1)-of-00002.safetensors"
        }
        for s in 0..<2 { try shards[s].write(to: unet.appendingPathComponent("diffusion_pytorch_model-0000\(s + 1)-of-00002.safetensors")) }
        let index = try JSONSerialization.data(withJSONObject: ["metadata": ["total_size": file.fileSize], "weight_map": weightMap])
        try index.write(to: unet.appendingPathComponent("diffusion_pytorch_model.safetensors.index.json"))
        try FileManager.default.removeItem(at: whole)
        return file.fileSize
    }

    /// Every tensor of `a` equals the same-named tensor of `b`: shape and Float32 bits.
    static func expectSameTensors(_ a: ComponentTensors, _ b: ComponentTensors, _ label: String) throws {
        #expect(!a.names.isEmpty, "\(label): no tensors")
        for name in a.names {
            let x = try a.tensor(name)
            let y = try #require(try? b.tensor(name), "\(label): \(name) missing")
            #expect(x.shape == y.shape, "\(label): \(name) \(x.shape) vs \(y.shape)")
            #expect(x.floats().map(\.bitPattern) == y.floats().map(\.bitPattern), "\(label): \(name) values differ")
        }
    }
}

/// The model layer: one opener (folders, component files, checkpoints; variants; shards), one kind
/// sniffer, and name tables that read every naming back as diffusers names.
@Suite("Model layer")
struct ModelLayerTests {
    @Test("VAE table matches the map proven with diffusers' convert_ldm_vae_checkpoint, both ways")
    func vaeTable() throws {
        let data = try Data(contentsOf: ModelFixtures.url("ldm_key_map_vae.json"))
        let map = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let levels = VAECheckpointNames.levels(diffusersNames: Array(map.keys))
        #expect(levels == 3)
        var squeezed = 0
        for (diffusers, value) in map {
            let ldm: String, conv: Bool
            if let s = value as? String { (ldm, conv) = (s, false) } else {
                let d = try #require(value as? [String: Any])
                (ldm, conv) = (try #require(d["key"] as? String), (d["conv1x1"] as? Bool) ?? false)
            }
            #expect(VAECheckpointNames.originalName(diffusers: diffusers, levels: levels) == ldm, "\(diffusers)")
            #expect(VAECheckpointNames.diffusersName(original: ldm, levels: levels) == diffusers, "\(ldm)")
            #expect(VAECheckpointNames.isAttentionMatrix(diffusers: diffusers) == conv, "\(diffusers)")
            if conv { squeezed += 1 }
        }
        #expect(map.count == 200 && squeezed == 8)
    }

    @Test("an LDM-named VAE reads as the diffusers VAE, 1×1-conv attention weights as Linear")
    func ldmVAE() throws {
        let ldm = try ModelBundle.open(ModelFixtures.url("vae_ldm.safetensors"))
        #expect(ldm.layout == .componentFile && ldm.parts == [.vae])
        let diffusers = try ModelBundle.open(ModelFixtures.url("vae/diffusion_pytorch_model.safetensors"))
        #expect(diffusers.parts == [.vae])
        let a = try diffusers.tensors(.vae), b = try ldm.tensors(.vae)
        #expect(a.names == b.names)
        try ModelFixtures.expectSameTensors(a, b, "standalone LDM VAE")
        let q = try b.tensor("encoder.mid_block.attentions.0.to_q.weight")
        #expect(q.shape == [4, 4] && q.view.shape == [4, 4, 1, 1])
    }

    @Test("a checkpoint's VAE section (first_stage_model.) reads as the diffusers VAE")
    func checkpointVAE() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = try SafetensorsFile(contentsOf: ModelFixtures.url("vae_ldm.safetensors"))
        var writer = SafetensorsWriter(metadata: nil)
        for info in source.tensors { writer.add(source.tensor(info), as: "first_stage_model." + info.name) }
        let file = folder.appendingPathComponent("vae-only.safetensors")
        try writer.write(to: file)
        #expect(ModelKind.sniff(try SafetensorsFile(contentsOf: file).names) == .checkpoint([.vae]))
        let model = try ModelBundle.open(file)
        #expect(model.layout == .checkpoint && model.component(.vae)?.checkpointPrefixes == ["first_stage_model."])
        let diffusers = try ModelBundle.open(ModelFixtures.url("vae/diffusion_pytorch_model.safetensors"))
        try ModelFixtures.expectSameTensors(try diffusers.tensors(.vae), try model.tensors(.vae), "checkpoint VAE")
    }

    @Test("a single-file checkpoint yields the folder's tensors under diffusers names", arguments: ["sd1", "sd2", "sdxl"])
    func checkpointMatchesFolder(family: String) throws {
        let tmp = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let checkpoint = tmp.appendingPathComponent("model.safetensors")
        try CheckpointBuilder.build(model: family, folder: MergeFixtures.url(family), to: checkpoint)
        let folder = try ModelBundle.open(MergeFixtures.url(family))
        let single = try ModelBundle.open(checkpoint)
        #expect(folder.layout == .diffusersFolder && single.layout == .checkpoint)
        let parts: [ModelPart] = family == "sdxl" ? [.unet, .textEncoder, .textEncoder2] : [.unet, .textEncoder]
        #expect(Set(single.parts) == Set(parts))
        #expect(Set(folder.parts) == Set(parts + [.vae, .tokenizer, .scheduler] + (family == "sdxl" ? [.tokenizer2] : [])))
        for part in parts {
            // Fused OpenCLIP q/k/v thirds and SDXL's transposed text_projection included.
            try ModelFixtures.expectSameTensors(try folder.tensors(part), try single.tensors(part), "\(family) \(part)")
        }
        #expect(folder.family.0 == single.family.0 && folder.family.0 != nil)
        #expect(folder.component(.unet)?.configFile?.lastPathComponent == "config.json")
        #expect(folder.component(.scheduler)?.configFile?.lastPathComponent == "scheduler_config.json")
    }

    @Test("variant rule: plain weights first, else fp16; a named variant must exist")
    func variants() throws {
        let tmp = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let folder = tmp.appendingPathComponent("sd1")
        try FileManager.default.copyItem(at: MergeFixtures.url("sd1"), to: folder)
        let unet = folder.appendingPathComponent("unet")
        let plain = unet.appendingPathComponent("diffusion_pytorch_model.safetensors")
        let half = unet.appendingPathComponent("diffusion_pytorch_model.fp16.safetensors")
        try FileManager.default.moveItem(at: plain, to: half)

        var model = try ModelBundle.open(folder)
        #expect(model.component(.unet)?.weights?.variant == "fp16")
        #expect(model.component(.textEncoder)?.weights?.variant == nil)

        try FileManager.default.copyItem(at: half, to: plain)
        model = try ModelBundle.open(folder)
        #expect(model.component(.unet)?.weights?.files == [plain])
        #expect(model.component(.unet)?.allWeights.map(\.variant) == [nil, "fp16"])
        #expect(model.chosenFiles(parts: [.unet]).map(\.url) == [plain])
        #expect(model.allFiles(parts: [.unet]).count == 2)

        model = try ModelBundle.open(folder, options: .init(variant: "fp16"))
        #expect(model.component(.unet)?.weights?.files == [half])
        #expect(model.component(.textEncoder)?.weights?.variant == nil)   // no fp16 text encoder: plain, as diffusers
        #expect(throws: ModelFileError.variantNotFound(path: folder.path, variant: "bf16", available: ["fp16"])) {
            try ModelBundle.open(folder, options: .init(variant: "bf16"))
        }
    }

    @Test("sharded weights are read through their index and merged shard by shard")
    func shards() throws {
        let tmp = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let folder = tmp.appendingPathComponent("sd1-sharded")
        let wholeSize = try ModelFixtures.shardedSD1(at: folder)
        let unet = folder.appendingPathComponent("unet")

        let sharded = try ModelBundle.open(folder)
        #expect(sharded.component(.unet)?.weights?.files.count == 2)
        #expect(sharded.component(.unet)?.weights?.shardIndex?.lastPathComponent == "diffusion_pytorch_model.safetensors.index.json")
        let reference = try ModelBundle.open(MergeFixtures.url("sd1"))
        try ModelFixtures.expectSameTensors(try reference.tensors(.unet), try sharded.tensors(.unet), "sharded UNet")
        #expect(sharded.family.0 == .sd1)

        // A merge rewrites each shard; the result equals the merge of the unsharded folder.
        let lora = try LoRAFile(contentsOf: MergeFixtures.url("lora/sd1_kohya.safetensors"))
        let out = tmp.appendingPathComponent("merged-sharded"), ref = tmp.appendingPathComponent("merged")
        let report = try ModelMerger.merge(into: folder, sources: [MergeSource(lora: lora, strength: 0.8)], output: out)
        _ = try ModelMerger.merge(into: MergeFixtures.url("sd1"), sources: [MergeSource(lora: lora, strength: 0.8)], output: ref)
        #expect(report.outputFiles.filter { $0.contains("-of-00002") }.count == 2)
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("unet/diffusion_pytorch_model.safetensors.index.json").path))
        try ModelFixtures.expectSameTensors(try ModelBundle.open(ref).tensors(.unet), try ModelBundle.open(out).tensors(.unet), "merged shards")

        // Converted to F16, the copied index states the new total size.
        let half = tmp.appendingPathComponent("merged-f16")
        _ = try ModelMerger.merge(into: folder, sources: [MergeSource(lora: lora, strength: 0.8)], output: half,
                                  options: MergeOptions(outputDType: .f16))
        let indexData = try Data(contentsOf: half.appendingPathComponent("unet/diffusion_pytorch_model.safetensors.index.json"))
        let written = try #require(try JSONSerialization.jsonObject(with: indexData) as? [String: Any])
        let total = try (1...2).map { s in
            try SafetensorsFile(contentsOf: half.appendingPathComponent("unet/diffusion_pytorch_model-0000\(s)-of-00002.safetensors"))
                .tensors.reduce(0) { $0 + $1.byteCount }
        }.reduce(0, +)
        #expect((written["metadata"] as? [String: Any])?["total_size"] as? Int == total)
        #expect(total * 2 < wholeSize)

        // A shard index naming a missing shard is refused.
        try FileManager.default.removeItem(at: unet.appendingPathComponent("diffusion_pytorch_model-00002-of-00002.safetensors"))
        #expect(throws: ModelFileError.self) { try ModelBundle.open(folder) }
    }

    @Test("pickle-only weights are refused, never loaded")
    func pickleOnly() throws {
        let tmp = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let folder = tmp.appendingPathComponent("sd1")
        try FileManager.default.copyItem(at: MergeFixtures.url("sd1"), to: folder)
        let unet = folder.appendingPathComponent("unet")
        try FileManager.default.removeItem(at: unet.appendingPathComponent("diffusion_pytorch_model.safetensors"))
        try Data([0x80, 0x02]).write(to: unet.appendingPathComponent("diffusion_pytorch_model.bin"))
        #expect(throws: ModelFileError.pickleWeights(path: unet.appendingPathComponent("diffusion_pytorch_model.bin").path)) {
            try ModelBundle.open(folder)
        }
        #expect(throws: ModelFileError.notFound(path: tmp.appendingPathComponent("none").path)) {
            try ModelBundle.open(tmp.appendingPathComponent("none"))
        }
        #expect(throws: ModelFileError.self) { try ModelBundle.open(tmp) }   // no model_index.json
    }

    @Test("one sniffer tells every model kind from its names")
    func sniffer() {
        #expect(ModelKind.sniff(["model.diffusion_model.out.2.weight", "first_stage_model.decoder.conv_in.weight",
                                 "cond_stage_model.transformer.text_model.final_layer_norm.weight"])
                == .checkpoint([.unet, .vae, .textEncoder]))
        #expect(ModelKind.sniff(["conditioner.embedders.1.model.ln_final.weight", "conditioner.embedders.0.transformer.text_model.x"])
                == .checkpoint([.textEncoder, .textEncoder2]))
        #expect(ModelKind.sniff(["conv_in.weight", "down_blocks.0.resnets.0.conv1.weight"]) == .diffusersComponent(.unet))
        #expect(ModelKind.sniff(["text_model.encoder.layers.0.mlp.fc1.weight"]) == .diffusersComponent(.textEncoder))
        #expect(ModelKind.sniff(["text_model.encoder.layers.0.mlp.fc1.weight", "text_projection.weight"]) == .diffusersComponent(.textEncoder2))
        #expect(ModelKind.sniff(["encoder.down_blocks.0.resnets.0.conv1.weight", "decoder.conv_in.weight", "quant_conv.weight"])
                == .diffusersComponent(.vae))
        #expect(ModelKind.sniff(["encoder.down.0.block.0.conv1.weight", "decoder.conv_in.weight", "post_quant_conv.weight"]) == .ldmVAE)
        #expect(ModelKind.sniff(["controlnet_cond_embedding.conv_in.weight", "down_blocks.0.resnets.0.conv1.weight"]) == .controlNet)
        #expect(ModelKind.sniff(["lora_unet_x.lora_down.weight"]) == nil)
    }

    @Test("a patch lands on the canonical orientation of a transposed matrix and on one third of a fused tensor")
    func patchPlacement() throws {
        struct AddOnes: WeightPatch {
            var target = ModuleTarget(component: .textEncoder2, path: "text_projection")
            var sourceKeys: [String] = []
            var patchesBias: Bool { false }
            var seenShape: [Int] = []
            func apply(toWeight weight: inout [Float], shape: [Int], strength: Float) throws(LoRAError) {
                // Adds strength·(row index) so orientation matters.
                let columns = shape.count > 1 ? shape.dropFirst().reduce(1, *) : 1
                for i in weight.indices { weight[i] += strength * Float(i / columns) }
            }
            func apply(toBias bias: inout [Float], shape: [Int], strength: Float) throws(LoRAError) {}
        }
        // Stored [2, 3] = canonical [3, 2] transposed.
        var stored: [Float] = [0, 0, 0, 0, 0, 0]
        try PatchPlacement.apply(AddOnes(), isBias: false, strength: 1, at: ParameterLocation(tensorName: "p", storage: .transposed),
                                 to: &stored, storedShape: [2, 3])
        #expect(stored == [0, 1, 2, 0, 1, 2])
        // Fused [3·2, 1]: the k third (rows 2–3) only.
        var fused = [Float](repeating: 0, count: 6)
        try PatchPlacement.apply(AddOnes(), isBias: false, strength: 2, at: ParameterLocation(tensorName: "p", fusedThird: 1),
                                 to: &fused, storedShape: [6, 1])
        #expect(fused == [0, 0, 0, 2, 0, 0])
    }
}
