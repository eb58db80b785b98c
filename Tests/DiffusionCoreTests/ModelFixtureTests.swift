import Foundation
import LoRAKit
import Testing
@testable import DiffusionCore

/// The models against diffusers on the tiny configs of `Scripts/fixtures/model_fixtures.py`.
/// Tolerance: max |swift − diffusers| ≤ 1e-4 · max |diffusers| over each output.
@Suite("Models against diffusers")
struct ModelFixtureTests {
    static let tolerance: Float = 1e-4

    struct Case {
        let folder: URL
        let config: Data
        let weights: SafetensorsFile
        let io: SafetensorsFile

        init(_ name: String) throws {
            let base = try #require(Bundle.module.url(forResource: "models", withExtension: nil, subdirectory: "Fixtures"),
                                    "model fixtures are missing")
            folder = base.appendingPathComponent(name)
            config = try Data(contentsOf: folder.appendingPathComponent("config.json"))
            weights = try SafetensorsFile(path: folder.appendingPathComponent("diffusion_pytorch_model.safetensors").path)
            io = try SafetensorsFile(path: folder.appendingPathComponent("io.safetensors").path)
        }

        func tensor(_ name: String) throws -> Tensor {
            let view = try io.tensor(named: name)
            return try Tensor(shape: view.shape, scalars: view.floats())
        }
    }

    static func expectClose(_ got: Tensor, _ want: Tensor, _ label: String) {
        #expect(got.shape == want.shape, "\(label): shape \(got.shape) vs \(want.shape)")
        guard got.shape == want.shape else { return }
        let g = got.scalars, w = want.scalars
        let scale = w.map(abs).max() ?? 0
        var worst: Float = 0
        for i in g.indices { worst = max(worst, abs(g[i] - w[i])) }
        #expect(scale > 0, "\(label): reference is all zeros")
        #expect(worst <= tolerance * scale, "\(label): max error \(worst) vs max |ref| \(scale)")
    }

    @Test("UNet outputs match diffusers", arguments: ["unet_sd1", "unet_sd2", "unet_sdxl", "unet_inpaint", "unet_lcm"])
    func unet(name: String) throws {
        let c = try Case(name)
        let unet = try UNetModel(configurationJSON: c.config, weightFiles: [c.weights], description: name)
        let sample = try c.tensor("sample"), context = try c.tensor("encoder_hidden_states")
        var added: UNetAddedConditions?
        if c.io.contains("text_embeds") {
            added = UNetAddedConditions(textEmbeds: try c.tensor("text_embeds"), timeIds: try c.tensor("time_ids"))
        }
        let condition = c.io.contains("timestep_cond") ? try c.tensor("timestep_cond") : nil
        for label in ["t801", "t_pair"] {
            var timestep = try c.tensor("timestep_\(label)")
            if timestep.count == 1 { timestep = try timestep.reshaped([]) }
            let out = try unet(sample: sample, timestep: timestep, context: context, added: added, timestepCondition: condition)
            Self.expectClose(out, try c.tensor("out_\(label)"), "\(name) \(label)")
        }
    }

    @Test("LCM guidance embedding matches diffusers")
    func guidanceEmbedding() throws {
        let c = try Case("unet_lcm")
        let w = try c.tensor("guidance_w")
        let embedding = try GuidanceEmbedding.embed(guidanceScaleMinusOne: w.scalars, dimension: 32)
        Self.expectClose(embedding, try c.tensor("timestep_cond"), "guidance embedding")
    }

    @Test("AutoencoderKL decode, encode and tiled passes match diffusers")
    func autoencoderKL() throws {
        let c = try Case("vae_kl")
        let vae = try AutoencoderKLModel(configurationJSON: c.config, weightFiles: [c.weights], description: "vae_kl")
        Self.expectClose(try vae.decode(try c.tensor("latents")), try c.tensor("decoded"), "decode")
        let dist = try vae.encode(try c.tensor("image"))
        Self.expectClose(dist.mean, try c.tensor("latent_mean"), "encode mean")
        Self.expectClose(dist.std, try c.tensor("latent_std"), "encode std")
        Self.expectClose(try vae.decode(try c.tensor("big_latents")), try c.tensor("untiled_decoded"), "untiled big decode")
        vae.tiling = true
        Self.expectClose(try vae.decode(try c.tensor("big_latents")), try c.tensor("tiled_decoded"), "tiled decode")
        Self.expectClose(try vae.encode(try c.tensor("big_image")).mean, try c.tensor("tiled_latent_mean"), "tiled encode")
    }

    @Test("AutoencoderTiny decode and encode match diffusers")
    func autoencoderTiny() throws {
        let c = try Case("taesd")
        let tae = try AutoencoderTinyModel(configurationJSON: c.config, weightFiles: [c.weights], description: "taesd")
        Self.expectClose(try tae.decode(try c.tensor("latents")), try c.tensor("decoded"), "decode")
        Self.expectClose(try tae.encode(try c.tensor("image")), try c.tensor("encoded"), "encode")
    }

    @Test("A config value the runtime does not implement is a typed error naming the field")
    func unsupportedConfig() throws {
        let json = Data(#"{"block_out_channels": [32, 64], "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"], "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"], "resnet_time_scale_shift": "scale_shift"}"#.utf8)
        #expect(throws: ModelError.unsupportedConfig(component: "unet", field: "resnet_time_scale_shift", value: "scale_shift")) {
            _ = try UNetConfiguration(json: json)
        }
        let blocks = Data(#"{"block_out_channels": [32], "down_block_types": ["SimpleCrossAttnDownBlock2D"], "up_block_types": ["UpBlock2D"]}"#.utf8)
        #expect(throws: ModelError.unsupportedConfig(component: "unet", field: "down_block_types", value: "SimpleCrossAttnDownBlock2D")) {
            _ = try UNetConfiguration(json: blocks)
        }
        #expect(throws: ModelError.self) { _ = try UNetConfiguration(json: Data("not json".utf8)) }
    }

    @Test("A missing or mis-shaped weight is a typed error naming it and the file")
    func badWeights() throws {
        let c = try Case("unet_sd1")
        var writer = SafetensorsWriter()
        for info in c.weights.tensors where info.name != "conv_in.bias" { writer.add(c.weights.tensor(info)) }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("unet-missing-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("diffusion_pytorch_model.safetensors")
        try writer.write(to: file)
        let config = try UNetConfiguration(json: c.config)
        #expect(throws: ModelError.missingWeight(name: "conv_in.bias", file: "unet_sd1")) {
            _ = try UNetModel(configurationJSON: c.config, weightFiles: [try SafetensorsFile(contentsOf: file)], description: "unet_sd1")
        }
        var wrongConfig = config
        wrongConfig.crossAttentionDim = wrongConfig.crossAttentionDim.map { $0 + 1 }
        #expect(throws: ModelError.self) {
            _ = try ModelError.wrapping { try UNetModel(configuration: wrongConfig, weights: ComponentWeights(files: [c.weights], part: .unet, description: "unet_sd1")) }
        }
    }
}
