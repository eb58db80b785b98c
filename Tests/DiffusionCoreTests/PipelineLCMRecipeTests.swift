import Foundation
import LoRAKit
import Testing
@testable import DiffusionCore

/// The LCM recipe with two LoRAs against diffusers (`Scripts/fixtures/pipeline_fixtures.py lcm-loras`): the tiny
/// SD1 pipeline, an LCM-shaped UNet LoRA at 0.35 and a style LoRA with text-encoder and UNet layers at 0.45,
/// loaded with `load_lora_weights(…, adapter_name=…)` + `set_adapters([...], adapter_weights=[0.35, 0.45])`,
/// LCMScheduler, 4 steps, guidance 1, a fixed seed and no latents passed in.
/// Tolerance: max |swift − diffusers| ≤ 1e-3 · max(1, max |diffusers|) on the final latents and on the image.
@Suite("LCM recipe with two LoRAs against diffusers")
struct PipelineLCMRecipeTests {
    struct LoRAEntry: Decodable { let adapter: String, file: String, weight: Float, modules: Int }
    struct Case: Decodable {
        let name: String, scheduler: String, prompt: String
        let loras: [LoRAEntry]
        let steps: Int, cfg: Float, seed: UInt64, width: Int, height: Int
    }

    struct Cases: Decodable { let cases: [Case] }

    static let base = PipelineFixtureTests.base
    static var folder: URL? { base?.appendingPathComponent("lcm-loras") }

    static func fixture() throws -> Case {
        let folder = try #require(folder, "pipeline fixtures are missing")
        let cases = try JSONDecoder().decode(Cases.self, from: Data(contentsOf: folder.appendingPathComponent("cases.json"))).cases
        return try #require(cases.first { $0.name == "lcm_two_loras" })
    }

    static func reference(_ key: String) throws -> Tensor {
        let outputs = try SafetensorsFile(path: try #require(folder).appendingPathComponent("outputs.safetensors").path)
        let view = try outputs.tensor(named: key)
        return try Tensor(shape: view.shape, scalars: view.floats())
    }

    static func request(_ c: Case, prompt: String? = nil) -> GenerationRequest {
        GenerationRequest(prompt: prompt ?? c.prompt, width: c.width, height: c.height, steps: c.steps,
                          scheduler: PipelineFixtureTests.schedulerNames[c.scheduler], guidanceScale: c.cfg, seed: c.seed)
    }

    static func url(_ entry: LoRAEntry) throws -> URL { try #require(base).appendingPathComponent(entry.file) }

    /// The fixture's LoRAs at the given strengths (the fixture's when nil).
    static func loras(_ c: Case, in pipeline: DiffusionPipeline, strengths: [Float]? = nil) throws -> [PipelineLoRA] {
        try c.loras.enumerated().map { index, entry in
            PipelineLoRA(name: entry.adapter, file: try pipeline.openLoRA(at: url(entry)), unetStrength: strengths?[index] ?? entry.weight)
        }
    }

    /// Latents and image against diffusers' within the stated tolerance.
    static func compare(_ result: GenerationResult) throws -> (latents: (ok: Bool, worst: Float), image: (ok: Bool, worst: Float)) {
        let c = try fixture()
        return (PipelineLoRATests.close(result.latents, try reference("\(c.name).latents"), relative: 1e-3),
                PipelineLoRATests.close(result.images, try reference("\(c.name).image"), relative: 1e-3))
    }

    static func pipeline() throws -> DiffusionPipeline {
        try DiffusionPipeline(folder: try #require(base).appendingPathComponent("sd1-tiny"))
    }

    @Test("LCM 4 steps CFG 1, an LCM-shaped LoRA at 0.35 and a style LoRA at 0.45: diffusers' latents and image",
          arguments: [LoRAApplication.fused, .runtime])
    func twoLoRAs(application: LoRAApplication) throws {
        let c = try Self.fixture()
        let pipeline = try Self.pipeline()
        pipeline.loraApplication = application
        var request = Self.request(c)
        request.loras = try Self.loras(c, in: pipeline)
        let result = try pipeline.generate(request)
        let report = try #require(pipeline.activeLoRAReport)
        #expect(report.skipped.isEmpty, "\(report.skipped)")
        #expect(report.textEncoderLayersPatched == 12, "the style LoRA's 2 layers × q, k, v, out, fc1, fc2")
        #expect(report.unetLayersAtRunTime == (application == .runtime ? report.unetLayersPatched : 0))
        let got = try Self.compare(result)
        #expect(got.latents.ok, "\(application) latents: max error \(got.latents.worst)")
        #expect(got.image.ok, "\(application) image: max error \(got.image.worst)")
    }

    @Test("The .lcm preset gives the LCM-LoRA 0.35 and the other LoRA 0.45 when no strength is given: diffusers' numbers")
    func preset() throws {
        let c = try Self.fixture()
        let library = FileManager.default.temporaryDirectory.appendingPathComponent("lorakit-lcm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: library, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: library) }
        // Named as the LCM-LoRA files are: the name is what tells an LCM-LoRA from another LoRA.
        try FileManager.default.copyItem(at: Self.url(c.loras[0]), to: library.appendingPathComponent("lcm-lora-tiny.safetensors"))
        try FileManager.default.copyItem(at: Self.url(c.loras[1]), to: library.appendingPathComponent("style.safetensors"))

        var request = GenerationRequest.lcm(prompt: c.prompt + " <lora:lcm-lora-tiny> <lora:style>", seed: c.seed)
        #expect(request.steps == c.steps && request.guidanceScale == c.cfg && request.scheduler == "lcm")
        #expect(request.loraRecipe == .lcm)
        request.width = c.width
        request.height = c.height
        let tagged = try Self.pipeline()
        tagged.loraLibrary = LoRALibrary(folder: library, cache: .disabled)
        // The same recipe for LoRAs the request names.
        let named = try Self.pipeline()
        named.loraLibrary = LoRALibrary(folder: library, cache: .disabled)
        var explicit = GenerationRequest.lcm(prompt: c.prompt, seed: c.seed)
        explicit.width = c.width
        explicit.height = c.height
        explicit.loras = [try named.lora(named: "lcm-lora-tiny", recipe: .lcm), try named.lora(named: "style", recipe: .lcm)]
        #expect(explicit.loras.map(\.unetStrength) == [0.35, 0.45])
        // Both runs on one kernel path: a test switching it between them would change the latents' last bits.
        let (fromTags, fromNames) = try KernelPaths.pinned { (try tagged.generate(request), try named.generate(explicit)) }
        #expect(fromTags.loras.map(\.name) == ["lcm-lora-tiny", "style"])
        #expect(fromTags.loras.map(\.unetStrength) == [0.35, 0.45] && fromTags.loras.map(\.textEncoderStrength) == [0.35, 0.45])
        let viaTags = try Self.compare(fromTags)
        #expect(viaTags.latents.ok && viaTags.image.ok, "preset via tags: max errors \(viaTags.latents.worst), \(viaTags.image.worst)")
        #expect(fromNames.latents == fromTags.latents, "the same LoRAs at the same strengths, the same run")
        // A strength given wins over the recipe; a tag with one keeps it.
        #expect(try named.lora(named: "style", unetStrength: 0.8, recipe: .lcm).unetStrength == 0.8)
        let weighted = try PromptLoRATags.extract(from: "<lora:style:0.6>").loras[0]
        #expect(try named.lora(for: weighted, recipe: .lcm).unetStrength == 0.6)
        #expect(try named.lora(named: "style").unetStrength == 1, "outside the recipe a LoRA without a strength is at 1")
    }

    @Test("The comparison fails when one strength is changed (0.45 → 0.5, or 0.35 → 0.4)",
          arguments: [[Float(0.35), 0.5], [0.4, 0.45]])
    func changedStrengthFails(strengths: [Float]) throws {
        let c = try Self.fixture()
        let pipeline = try Self.pipeline()
        var request = Self.request(c)
        request.loras = try Self.loras(c, in: pipeline, strengths: strengths)
        let got = try Self.compare(try pipeline.generate(request))
        #expect(!got.latents.ok, "strengths \(strengths) must not pass as diffusers' 0.35 / 0.45 run (max error \(got.latents.worst))")
    }

    @Test("An LCM-LoRA is told by its name or the title its file records")
    func recognition() throws {
        for name in ["lcm-lora-sdv1-5", "LCM_LoRA_SDXL", "pytorch_lora_weights_lcm", "sd15-lcmlora", "LCM"] {
            #expect(LoRAStrengthRecipe.isLCMLoRA(name: name, file: nil), "\(name)")
        }
        for name in ["glcm_texture", "style", "pixel-art", "lc_m"] {
            #expect(!LoRAStrengthRecipe.isLCMLoRA(name: name, file: nil), "\(name)")
        }
        #expect(LoRAStrengthRecipe.lcm.strength(forLoRANamed: "lcm-lora-sdv1-5", file: nil) == 0.35)
        #expect(LoRAStrengthRecipe.lcm.strength(forLoRANamed: "pixel-art", file: nil) == 0.45)
        #expect(LoRAStrengthRecipe.standard.strength(forLoRANamed: "lcm-lora-sdv1-5", file: nil) == 1)
        // A file renamed by the user still says what it is in its kohya metadata.
        let c = try Self.fixture()
        let source = try SafetensorsFile(path: try Self.url(c.loras[0]).path)
        var metadata = source.metadata ?? [:]
        metadata["ss_output_name"] = "lcm-lora-sdv1-5"
        var writer = SafetensorsWriter(metadata: metadata)
        for info in source.tensors { writer.add(source.tensor(info)) }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lorakit-renamed-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try writer.write(to: url)
        let file = try LoRAFile(contentsOf: url)
        #expect(LoRAStrengthRecipe.isLCMLoRA(name: "my-speedup", file: file))
        #expect(!LoRAStrengthRecipe.isLCMLoRA(name: "my-speedup", file: try LoRAFile(contentsOf: Self.url(c.loras[1]))))
    }

    @Test("A set that fuses every parameter of a component as before keeps that component: no rebuild")
    func unchangedComponentsKept() throws {
        let c = try Self.fixture()
        let pipeline = try Self.pipeline()
        let file = try pipeline.openLoRA(at: Self.url(c.loras[1]))  // the style LoRA: UNet and text-encoder layers
        func style(_ unet: Float, _ te: Float) -> [PipelineLoRA] {
            [PipelineLoRA(name: "style", file: file, unetStrength: unet, textEncoderStrength: te)]
        }
        try pipeline.fuse(style(0.8, 0.5))
        #expect(pipeline.unetBuildCount == 1 && pipeline.textEncoderBuildCount == 1)
        let unet = pipeline.unet

        // Only the text-encoder strength changes: the UNet stays the same object.
        try pipeline.fuse(style(0.8, 0.3))
        #expect(pipeline.unet === unet, "the UNet is not rebuilt for a text-encoder-only change")
        #expect(pipeline.unetBuildCount == 1 && pipeline.textEncoderBuildCount == 2)

        // Only the UNet strength changes: the text encoder is not rebuilt.
        try pipeline.fuse(style(0.6, 0.3))
        #expect(pipeline.unet !== unet)
        #expect(pipeline.unetBuildCount == 2 && pipeline.textEncoderBuildCount == 2)

        // What the kept components compute is what a fresh pipeline fusing the last set computes.
        let fresh = try Self.pipeline()
        try fresh.fuse([PipelineLoRA(name: "style", file: try fresh.openLoRA(at: Self.url(c.loras[1])), unetStrength: 0.6,
                                     textEncoderStrength: 0.3)])
        var request = Self.request(c)
        request.loras = style(0.6, 0.3)
        let kept = try pipeline.generate(request)
        request.loras = fresh.activeLoRAs
        let rebuilt = try fresh.generate(request)
        #expect(PipelineLoRATests.close(kept.latents, rebuilt.latents, relative: 1e-5).ok)
        #expect(PipelineLoRATests.close(kept.images, rebuilt.images, relative: 1e-5).ok)

        // Back to no LoRA: the text encoder is the loaded one again; the UNet is built once more on the mapped weights.
        try pipeline.fuse([])
        #expect(pipeline.unetBuildCount == 3 && pipeline.textEncoderBuildCount == 2)
        #expect(pipeline.promptEncoder.stages[0].encoder.replacedParameters.isEmpty)
    }
}
