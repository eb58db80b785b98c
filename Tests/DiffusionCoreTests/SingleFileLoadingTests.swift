import Foundation
import Testing
@testable import DiffusionCore
@testable import LoRAKit

/// Single-file checkpoints against the diffusers folders they were written from (Scripts/fixtures/
/// single_file_fixtures.py; diffusers' `from_single_file(config=folder)` reads each file back to the folder's
/// tensors bit for bit), the built-in CLIP vocabulary against the real-vocabulary tokenizer fixtures, and the
/// model layer's loading rules as the pipeline applies them.
@Suite("Single-file checkpoints and loading rules")
struct SingleFileLoadingTests {
    static let base: URL? = Bundle.module.url(forResource: "single-file", withExtension: nil, subdirectory: "Fixtures")

    /// Outputs of two loads of one model are compared within this relative error: the same weights through the
    /// same kernels, so equal but for the instruction-set level other tests switch process-wide.
    static let tolerance: Float = 1e-5

    static func folder(_ name: String) throws -> URL { try #require(base).appendingPathComponent(name) }
    static func file(_ name: String) throws -> URL { try #require(base).appendingPathComponent(name + ".safetensors") }

    static func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
        guard a.shape == b.shape else { return .infinity }
        var worst: Float = 0, scale: Float = 1e-12
        for (x, y) in zip(a.scalars, b.scalars) { worst = max(worst, abs(x - y)); scale = max(scale, abs(y)) }
        return worst / scale
    }

    /// A UNet call, a VAE decode and the prompt encoding of `pipeline` on fixed inputs.
    static func outputs(_ p: DiffusionPipeline) throws -> [Tensor] {
        let c = p.unet.configuration
        let sample = try Tensor(shape: [1, c.inChannels, 8, 8], scalars: (0..<(c.inChannels * 64)).map { Float(sin(Double($0) * 0.37)) })
        let encoded = try p.promptEncoder.encode(prompt: "a photo of an astronaut riding a horse", negativePrompt: "blurry")
        let context = try encoded.positive.hiddenStates.reshaped([1] + encoded.positive.hiddenStates.shape)
        var added: UNetAddedConditions?
        if p.isSDXL, let pooled = encoded.positive.pooled {
            added = UNetAddedConditions(textEmbeds: try pooled.reshaped([1, pooled.count]),
                                        timeIds: try Tensor(shape: [1, 6], scalars: [16, 16, 0, 0, 16, 16]))
        }
        let noise = try p.unet(sample: sample, timestep: try Tensor(shape: [], scalars: [501]), context: context, added: added)
        let latents = try Tensor(shape: [1, 4, 4, 4], scalars: (0..<64).map { Float(cos(Double($0) * 0.21)) })
        var out = [encoded.positive.hiddenStates, encoded.negative.hiddenStates, noise, try p.vae.decode(latents)]
        if let pooled = encoded.positive.pooled { out.append(pooled) }
        return out
    }

    @Test("The same model from its diffusers folder and from its single LDM/SGM file gives the same outputs", arguments: ["sd1-tiny", "sdxl-tiny"])
    func folderEqualsSingleFile(name: String) throws {
        let folder = try Self.folder(name)
        let fromFolder = try DiffusionPipeline(contentsOf: folder)
        let fromFile = try DiffusionPipeline(contentsOf: try Self.file(name), options: ModelLoadOptions(configFolder: folder))
        #expect(fromFile.unet.configuration == fromFolder.unet.configuration)
        #expect(fromFile.isSDXL == (name == "sdxl-tiny"))
        for (a, b) in zip(try Self.outputs(fromFile), try Self.outputs(fromFolder)) {
            #expect(Self.relativeError(a, b) <= Self.tolerance)
        }
        // A short generation, end to end.
        let request = GenerationRequest(prompt: "a photo of an astronaut", width: 16, height: 16, steps: 2, seed: 7)
        let r1 = try fromFile.generate(request), r2 = try fromFolder.generate(request)
        #expect(Self.relativeError(r1.latents, r2.latents) <= Self.tolerance)
        // The report says where each part came from.
        let report = fromFile.loadReport
        #expect(report.layout == "single-file")
        #expect(report.component(.unet)?.origin == .configFolder)
        #expect(report.component(.unet)?.weightFiles == [try Self.file(name).path])
        #expect(fromFolder.loadReport.component(.unet)?.variant == "fp16")
    }

    @Test("Shapes tell the SD1 architecture: channels, layers, block kinds, context width, conv projections")
    func inferSD1() throws {
        let bundle = try ModelBundle.open(try Self.file("sd1-tiny"))
        let sd1 = try #require(ModelFamilyConfig.forFamily(.sd1))
        let unet = try ShapeInference.unetConfig(try bundle.tensors(.unet), family: sd1, file: "sd1-tiny")
        #expect(unet["block_out_channels"] as? [Int] == [8, 16])
        #expect(unet["down_block_types"] as? [String] == ["CrossAttnDownBlock2D", "DownBlock2D"])
        #expect(unet["up_block_types"] as? [String] == ["UpBlock2D", "CrossAttnUpBlock2D"])
        #expect(unet["layers_per_block"] as? Int == 2)
        #expect(unet["cross_attention_dim"] as? Int == 24)
        #expect(unet["in_channels"] as? Int == 4)
        #expect(unet["use_linear_projection"] as? Bool == false)
        #expect(unet["addition_embed_type"] == nil)
        #expect(unet["attention_head_dim"] as? [Int] == [8, 8], "heads from the SD1 family table")
        let vae = try ShapeInference.vaeConfig(try bundle.tensors(.vae), family: sd1, file: "sd1-tiny")
        #expect(vae["block_out_channels"] as? [Int] == [8, 8])
        #expect(vae["latent_channels"] as? Int == 4 && vae["layers_per_block"] as? Int == 2)
        #expect(vae["scaling_factor"] as? Float == 0.18215)
        let text = try ShapeInference.textConfig(try bundle.tensors(.textEncoder), encoder: sd1.textEncoders[0])
        let folderText = try CLIPTextConfig(contentsOf: try Self.folder("sd1-tiny").appendingPathComponent("text_encoder/config.json"))
        #expect(text.hiddenSize == 24 && text.numHiddenLayers == 2 && text.intermediateSize == 48)
        #expect(text.vocabSize == folderText.vocabSize && text.maxPositionEmbeddings == 77 && text.hiddenAct == "quick_gelu")
        // Without a config folder the tiny file's family cannot be told (its context width is no family's).
        #expect(throws: PipelineError.self) { try DiffusionPipeline(contentsOf: try Self.file("sd1-tiny")) }
    }

    @Test("Shapes tell the SDXL architecture: transformer depth per block, linear projections, add-embedding width, the projected second encoder")
    func inferSDXL() throws {
        let bundle = try ModelBundle.open(try Self.file("sdxl-tiny"))
        #expect(bundle.family.0 == .sdxl)
        let xl = try #require(ModelFamilyConfig.forFamily(.sdxl))
        let unet = try ShapeInference.unetConfig(try bundle.tensors(.unet), family: xl, file: "sdxl-tiny", pooledWidth: 32)
        #expect(unet["transformer_layers_per_block"] as? [Int] == [1, 2])
        #expect(unet["down_block_types"] as? [String] == ["DownBlock2D", "CrossAttnDownBlock2D"])
        #expect(unet["use_linear_projection"] as? Bool == true)
        #expect(unet["cross_attention_dim"] as? Int == 56)
        #expect(unet["addition_embed_type"] as? String == "text_time")
        #expect(unet["projection_class_embeddings_input_dim"] as? Int == 80)
        #expect(unet["addition_time_embed_dim"] as? Int == 8, "80 = 32 pooled + 6 time ids × 8")
        var tiny = unet
        tiny["norm_num_groups"] = 4   // GroupNorm's groups are no shape: SD's 32 does not divide the tiny model's 8 channels
        let config = try UNetConfiguration(json: JSONSerialization.data(withJSONObject: tiny))
        let folderConfig = try UNetConfiguration(json: Data(contentsOf: try Self.folder("sdxl-tiny").appendingPathComponent("unet/config.json")))
        #expect(config.blockOutChannels == folderConfig.blockOutChannels && config.transformerLayersPerBlock == folderConfig.transformerLayersPerBlock)
        #expect(config.downBlocks == folderConfig.downBlocks && config.upBlocks == folderConfig.upBlocks)
        let te2 = try ShapeInference.textConfig(try bundle.tensors(.textEncoder2), encoder: xl.textEncoders[1])
        #expect(te2.hiddenSize == 32 && te2.projectionDim == 32 && te2.hiddenAct == "gelu" && te2.numHiddenLayers == 2)
        // Without a config folder the SDXL tables apply, and SD's 32 norm groups do not fit the tiny model: a typed error.
        #expect(throws: PipelineError.self) { try DiffusionPipeline(contentsOf: try Self.file("sdxl-tiny")) }
    }

    @Test("The built-in CLIP vocabulary gives the real-vocabulary tokenizer's ids, with each family's pad token")
    func builtInTokenizer() throws {
        let builtIn = try CLIPTokenizer.builtIn()
        #expect(builtIn.vocabularySize == 49408 && builtIn.padTokenID == 49407)
        let reference = try TextFixtures.clipTokenizer.get()
        let cases = try TextFixtures.idCases("tokenizer-ids.json.gz")
        #expect(cases.count > 3000)
        #expect(cases.filter { builtIn.encode($0.text) != $0.ids }.isEmpty)
        #expect(cases.prefix(300).allSatisfy { builtIn.encodePadded($0.text) == reference.encodePadded($0.text) })
        let bang = try CLIPTokenizer.builtIn(padToken: "!")
        #expect(bang.padTokenID == 0)
        let bangCases = try TextFixtures.idCases("tokenizer-bang-ids.json.gz")
        #expect(bangCases.filter { bang.encode($0.text) != $0.ids }.isEmpty)
    }

    /// A copy of a fixture folder in a temporary folder, removed by the caller.
    static func copy(_ name: String) throws -> URL {
        let dest = FileManager.default.temporaryDirectory.appendingPathComponent("lorakit-load-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: try folder(name), to: dest)
        return dest
    }

    @Test("The fp16 variant is chosen when it is the only one, the plain weights when both exist, and variant: names one")
    func variants() throws {
        let dest = try Self.copy("sd1-tiny")
        defer { try? FileManager.default.removeItem(at: dest) }
        let unet = dest.appendingPathComponent("unet")
        // A plain file beside the fp16 one: the plain weights are read unless fp16 is asked for.
        try FileManager.default.copyItem(at: unet.appendingPathComponent("diffusion_pytorch_model.fp16.safetensors"),
                                         to: unet.appendingPathComponent("diffusion_pytorch_model.safetensors"))
        let plain = try DiffusionPipeline(contentsOf: dest)
        #expect(plain.loadReport.component(.unet)?.variant == nil)
        #expect(plain.loadReport.component(.vae)?.variant == "fp16", "a component without plain weights reads fp16")
        let half = try DiffusionPipeline(contentsOf: dest, options: ModelLoadOptions(variant: "fp16"))
        #expect(half.loadReport.component(.unet)?.variant == "fp16")
        #expect(throws: PipelineError.modelFile(.variantNotFound(path: dest.path, variant: "bf16", available: ["fp16"]))) {
            try DiffusionPipeline(contentsOf: dest, options: ModelLoadOptions(variant: "bf16"))
        }
    }

    @Test("Sharded weights are read through their index and give the unsharded outputs")
    func shards() throws {
        let dest = try Self.copy("sd1-tiny")
        defer { try? FileManager.default.removeItem(at: dest) }
        let unet = dest.appendingPathComponent("unet")
        let whole = unet.appendingPathComponent("diffusion_pytorch_model.fp16.safetensors")
        let file = try SafetensorsFile(contentsOf: whole)
        var first = SafetensorsWriter(), second = SafetensorsWriter()
        var map: [String: String] = [:]
        for (i, info) in file.tensors.enumerated() {
            let shard = i % 2 == 0 ? "diffusion_pytorch_model-00001-of-00002.fp16.safetensors" : "diffusion_pytorch_model-00002-of-00002.fp16.safetensors"
            if i % 2 == 0 { first.add(file.tensor(info)) } else { second.add(file.tensor(info)) }
            map[info.name] = shard
        }
        try first.write(to: unet.appendingPathComponent("diffusion_pytorch_model-00001-of-00002.fp16.safetensors"))
        try second.write(to: unet.appendingPathComponent("diffusion_pytorch_model-00002-of-00002.fp16.safetensors"))
        try JSONSerialization.data(withJSONObject: ["metadata": [:], "weight_map": map])
            .write(to: unet.appendingPathComponent("diffusion_pytorch_model.safetensors.index.fp16.json"))
        try FileManager.default.removeItem(at: whole)
        let sharded = try DiffusionPipeline(contentsOf: dest)
        let entry = try #require(sharded.loadReport.component(.unet))
        #expect(entry.weightFiles.count == 2 && entry.shardIndex != nil && entry.variant == "fp16")
        let reference = try DiffusionPipeline(contentsOf: try Self.folder("sd1-tiny"))
        for (a, b) in zip(try Self.outputs(sharded), try Self.outputs(reference)) { #expect(Self.relativeError(a, b) <= Self.tolerance) }
    }

    /// The single file with `edit` applied to its tensors, in a temporary folder.
    static func editedFile(_ name: String, _ edit: (inout [String: (DType, [Int], [UInt8])]) -> Void) throws -> URL {
        let source = try SafetensorsFile(contentsOf: try file(name))
        var tensors: [String: (DType, [Int], [UInt8])] = [:]
        for info in source.tensors { tensors[info.name] = (info.dtype, info.shape, source.tensor(info).bytes()) }
        edit(&tensors)
        var writer = SafetensorsWriter()
        for (n, t) in tensors { writer.add(.init(name: n, dtype: t.0, shape: t.1, source: .bytes(t.2))) }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lorakit-single-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(name + ".safetensors")
        try writer.write(to: url)
        return url
    }

    @Test("A missing, extra or mis-shaped tensor of a single file is a typed error naming it and the file")
    func badTensors() throws {
        let config = ModelLoadOptions(configFolder: try Self.folder("sd1-tiny"))
        let missing = try Self.editedFile("sd1-tiny") { $0["model.diffusion_model.out.2.bias"] = nil }
        defer { try? FileManager.default.removeItem(at: missing.deletingLastPathComponent()) }
        #expect(throws: PipelineError.model(.missingWeight(name: "conv_out.bias", file: missing.path))) {
            try DiffusionPipeline(contentsOf: missing, options: config)
        }
        let extra = try Self.editedFile("sd1-tiny") { t in
            t["model.diffusion_model.input_blocks.1.1.norm.extra"] = t["model.diffusion_model.input_blocks.1.1.norm.bias"]
        }
        defer { try? FileManager.default.removeItem(at: extra.deletingLastPathComponent()) }
        #expect(throws: PipelineError.model(.unexpectedWeights(names: ["down_blocks.0.attentions.0.norm.extra"], file: extra.path))) {
            try DiffusionPipeline(contentsOf: extra, options: config)
        }
        let misShaped = try Self.editedFile("sd1-tiny") { t in
            guard let (dtype, shape, bytes) = t["model.diffusion_model.out.2.bias"] else { return }
            t["model.diffusion_model.out.2.bias"] = (dtype, shape + [1], bytes)
        }
        defer { try? FileManager.default.removeItem(at: misShaped.deletingLastPathComponent()) }
        #expect(throws: PipelineError.model(.weightShapeMismatch(name: "conv_out.bias", file: "\(misShaped.path) (model.diffusion_model.out.2.bias)",
                                                                 expected: [4], found: [4, 1]))) {
            try DiffusionPipeline(contentsOf: misShaped, options: config)
        }
    }

    @Test("A pickle checkpoint is refused, saying why, without being read")
    func pickles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lorakit-pickle-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for ext in ["ckpt", "pt", "bin", "pth"] {
            let url = dir.appendingPathComponent("model.\(ext)")
            try Data("PK not read".utf8).write(to: url)
            #expect(throws: PipelineError.modelFile(.pickleWeights(path: url.path))) { try DiffusionPipeline(contentsOf: url) }
        }
        let error = PipelineError.modelFile(.pickleWeights(path: "m.ckpt"))
        #expect(error.description.contains("can run arbitrary code"))
    }
}
