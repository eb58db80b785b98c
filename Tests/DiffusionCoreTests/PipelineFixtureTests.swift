import Foundation
import LoRAKit
import Testing
@testable import DiffusionCore

/// End-to-end generation against diffusers' StableDiffusionPipeline / Img2ImgPipeline on the tiny SD1-shaped
/// pipeline of `Scripts/fixtures/pipeline_fixtures.py`: same seed, no noise passed in, so the starting noise,
/// every scheduler draw, the UNet, the text encoder and the VAE all have to agree.
/// Tolerance: max |swift − diffusers| ≤ 1e-3 · max(1, max |diffusers|) on the final latents and on the images.
@Suite("Pipeline against diffusers")
struct PipelineFixtureTests {
    struct Case: Decodable {
        let name: String
        let scheduler: String
        let steps: Int
        let cfg: Float
        let seed: UInt64
        let prompt: String
        let negative: String
        let strength: Double?
        let width: Int
        let height: Int
        let loraStrength: Float?

        enum CodingKeys: String, CodingKey {
            case name, scheduler, steps, cfg, seed, prompt, negative, strength, width, height
            case loraStrength = "lora_strength"
        }
    }

    struct Cases: Decodable { let cases: [Case] }

    static let base: URL? = Bundle.module.url(forResource: "pipeline", withExtension: nil, subdirectory: "Fixtures")
    static let schedulerNames = ["euler_a": "euler_a", "dpmpp_2m_karras": "dpmpp_2m_k", "lcm": "lcm", "pndm": "pndm"]

    static func cases() throws -> [Case] {
        let base = try #require(base, "pipeline fixtures are missing")
        return try JSONDecoder().decode(Cases.self, from: Data(contentsOf: base.appendingPathComponent("cases.json"))).cases
    }

    @Test("The fixture holds the seven reference runs")
    func caseCount() throws {
        #expect(try Self.cases().map(\.name) == ["euler_a_cfg7", "dpmpp_2m_karras_cfg5", "lcm_cfg1", "pndm_cfg7_5",
                                                 "img2img_euler_a_0_6", "lora_lcm_0_35", "lora_euler_a_0_8"])
    }

    @Test("A LoRA fused at generation time gives diffusers' fused-weight run; removing it gives back the original run",
          arguments: ["lora_lcm_0_35", "lora_euler_a_0_8"])
    func loraGeneration(name: String) throws {
        let base = try #require(Self.base)
        let c = try #require(try Self.cases().first { $0.name == name })
        let strength = try #require(c.loraStrength)
        let outputs = try SafetensorsFile(path: base.appendingPathComponent("outputs.safetensors").path)
        let want = try outputs.tensor(named: "\(name).latents")
        let pipeline = try DiffusionPipeline(folder: base.appendingPathComponent("sd1-tiny"))
        let request = GenerationRequest(prompt: c.prompt, width: c.width, height: c.height, steps: c.steps,
                                        scheduler: Self.schedulerNames[c.scheduler], guidanceScale: c.cfg, seed: c.seed)
        let plain = try pipeline.generate(request).latents
        let file = try LoRAFile(file: SafetensorsFile(path: base.appendingPathComponent("sd1-tiny-lora.safetensors").path))
        let report = try pipeline.setLoRAs([PipelineLoRA(name: "tiny", file: file, unetStrength: strength)])
        #expect(report.unetLayersPatched == file.modules.count)
        #expect(report.skipped.isEmpty)
        Self.expectClose(try pipeline.generate(request).latents, try Tensor(shape: want.shape, scalars: want.floats()), "\(name) latents")
        try pipeline.setLoRAs([])
        #expect(pipeline.loras.isEmpty)
        // The weights are the mapped originals again. Other tests switch the kernels' instruction-set level
        // process-wide while this runs, so the two runs may take different (equally exact) paths: compare within
        // the paths' agreement rather than bit for bit.
        let restored = try pipeline.generate(request).latents
        let scale = max(1, plain.scalars.map(abs).max() ?? 0)
        let worst = zip(restored.scalars, plain.scalars).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-5 * scale, "removing the LoRA must give back the original run: max difference \(worst)")
    }

    @Test("A LoRA for another base model is refused, naming both")
    func loraBaseMismatch() throws {
        let base = try #require(Self.base)
        let pipeline = try DiffusionPipeline(folder: base.appendingPathComponent("sd1-tiny"))
        let sdxl = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("LoRAKitTests/Fixtures/merge/lora/sdxl_kohya_sgm.safetensors")
        let file = try LoRAFile(file: SafetensorsFile(path: sdxl.path))
        #expect(file.baseModel.detected == .sdxl)
        #expect(throws: PipelineError.loraBaseMismatch(lora: "sdxl", loraBase: "SDXL", model: "sd1-tiny", modelBase: "SD 1.x")) {
            try pipeline.setLoRAs([PipelineLoRA(name: "sdxl", file: file, unetStrength: 1)])
        }
    }

    @Test("Final latents and images equal diffusers'", arguments: ["euler_a_cfg7", "dpmpp_2m_karras_cfg5", "lcm_cfg1", "pndm_cfg7_5", "img2img_euler_a_0_6"])
    func generation(name: String) throws {
        let base = try #require(Self.base)
        let c = try #require(try Self.cases().first { $0.name == name })
        let outputs = try SafetensorsFile(path: base.appendingPathComponent("outputs.safetensors").path)
        func tensor(_ key: String) throws -> Tensor {
            let view = try outputs.tensor(named: key)
            return try Tensor(shape: view.shape, scalars: view.floats())
        }
        let pipeline = try DiffusionPipeline(folder: base.appendingPathComponent("sd1-tiny"))
        var request = GenerationRequest(prompt: c.prompt, negativePrompt: c.negative, width: c.width, height: c.height,
                                        steps: c.steps, scheduler: Self.schedulerNames[c.scheduler], guidanceScale: c.cfg,
                                        seed: c.seed)
        if let strength = c.strength {
            request.initImage = try tensor("init_image")
            request.strength = strength
        }
        var steps = 0
        let result = try pipeline.generate(request, onEvent: { if case .step = $0 { steps += 1 } })
        #expect(steps > 0)
        Self.expectClose(result.latents, try tensor("\(name).latents"), "\(name) latents")
        Self.expectClose(result.images, try tensor("\(name).image"), "\(name) images")
    }

    static func expectClose(_ got: Tensor, _ want: Tensor, _ label: String) {
        #expect(got.shape == want.shape, "\(label): shape \(got.shape) vs \(want.shape)")
        guard got.shape == want.shape else { return }
        let g = got.scalars, w = want.scalars
        let scale = max(1, w.map(abs).max() ?? 0)
        var worst: Float = 0
        for i in g.indices { worst = max(worst, abs(g[i] - w[i])) }
        #expect(worst <= 1e-3 * scale, "\(label): max error \(worst), scale \(scale)")
    }

    @Test("Cancelling stops the run between steps")
    func cancel() throws {
        let base = try #require(Self.base)
        let pipeline = try DiffusionPipeline(folder: base.appendingPathComponent("sd1-tiny"))
        var seen = 0
        #expect(throws: PipelineError.cancelled) {
            _ = try pipeline.generate(GenerationRequest(prompt: "a horse", width: 32, height: 32, steps: 6, seed: 1),
                                      onEvent: { if case .step = $0 { seen += 1 } }, isCancelled: { seen >= 2 })
        }
        #expect(seen == 2)
    }

    @Test("A size that is not a multiple of the VAE factor is a typed error")
    func badSize() throws {
        let base = try #require(Self.base)
        let pipeline = try DiffusionPipeline(folder: base.appendingPathComponent("sd1-tiny"))
        #expect(throws: PipelineError.self) {
            _ = try pipeline.generate(GenerationRequest(prompt: "a horse", width: 30, height: 32, steps: 2))
        }
    }
}
