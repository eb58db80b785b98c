import Foundation
import LoRAKit
import Testing
@testable import DiffusionCore

/// Decoding with a tiny autoencoder and step previews, on the tiny SD1-shaped pipeline. The TAESD decode is
/// compared with diffusers' StableDiffusionPipeline built with an `AutoencoderTiny` as its `vae`
/// (`Scripts/fixtures/taesd_pipeline_fixtures.py`): max |swift − diffusers| ≤ 1e-3 on latents and images.
@Suite("Pipeline: TAESD decoding and previews")
struct PipelinePreviewTests {
    static let fixtures: URL? = Bundle.module.url(forResource: "Fixtures", withExtension: nil)
    static let schedulerNames = ["euler_a": "euler_a", "lcm": "lcm"]

    static func pipeline(tiny: Bool) throws -> DiffusionPipeline {
        let base = try #require(fixtures, "fixtures are missing")
        let pipeline = try DiffusionPipeline(folder: base.appendingPathComponent("pipeline/sd1-tiny"))
        if tiny { try pipeline.loadTinyAutoencoder(folder: base.appendingPathComponent("pipeline-taesd/taesd-tiny")) }
        return pipeline
    }

    static func request(_ c: PipelineFixtureTests.Case) -> GenerationRequest {
        GenerationRequest(prompt: c.prompt, negativePrompt: c.negative, width: c.width, height: c.height, steps: c.steps,
                          scheduler: schedulerNames[c.scheduler], guidanceScale: c.cfg, seed: c.seed)
    }

    @Test("Final images decoded by the tiny autoencoder equal diffusers' with pipe.vae = AutoencoderTiny",
          arguments: ["taesd_euler_a_cfg7", "taesd_lcm_cfg1"])
    func tinyDecode(name: String) throws {
        let base = try #require(Self.fixtures).appendingPathComponent("pipeline-taesd")
        let cases = try JSONDecoder().decode(PipelineFixtureTests.Cases.self, from: Data(contentsOf: base.appendingPathComponent("cases.json"))).cases
        let c = try #require(cases.first { $0.name == name })
        let outputs = try SafetensorsFile(path: base.appendingPathComponent("outputs.safetensors").path)
        func tensor(_ key: String) throws -> Tensor {
            let view = try outputs.tensor(named: key)
            return try Tensor(shape: view.shape, scalars: view.floats())
        }
        let pipeline = try Self.pipeline(tiny: true)
        var tiny = Self.request(c), full = tiny
        tiny.decoder = .tinyAutoencoder
        full.decoder = .vae
        // Both runs on one kernel path: a test switching it between them would change the latents' last bits.
        let (result, vae) = try KernelPaths.pinned { (try pipeline.generate(tiny), try pipeline.generate(full)) }
        PipelineFixtureTests.expectClose(result.latents, try tensor("\(name).latents"), "\(name) latents")
        PipelineFixtureTests.expectClose(result.images, try tensor("\(name).image"), "\(name) images")
        #expect(result.rgbImages.map(\.width) == [c.width])
        // The same run decoded by the VAE gives the same latents and another picture.
        #expect(vae.latents == result.latents)
        #expect(vae.images != result.images)
    }

    @Test("Asking for the tiny decoder without one loaded fails before the first step")
    func tinyDecoderMissing() throws {
        let pipeline = try Self.pipeline(tiny: false)
        var request = GenerationRequest(prompt: "a horse", width: 32, height: 32, steps: 2, seed: 1)
        request.decoder = .tinyAutoencoder
        var steps = 0
        #expect(throws: PipelineError.invalidRequest("decoding with the tiny autoencoder needs one loaded (loadTinyAutoencoder(folder:))")) {
            try pipeline.generate(request, onEvent: { if case .step = $0 { steps += 1 } })
        }
        #expect(steps == 0)
        request.decoder = .vae
        request.previewEvery = -1
        #expect(throws: PipelineError.invalidRequest("previewEvery -1 is negative")) { try pipeline.generate(request) }
    }

    @Test("A tiny autoencoder of another spatial factor is refused, naming both factors; a folder without safetensors is refused")
    func incompatibleTiny() throws {
        let base = try #require(Self.fixtures)
        let pipeline = try Self.pipeline(tiny: false)
        let factor8 = base.appendingPathComponent("models/taesd")
        #expect(throws: PipelineError.incompatibleComponent(
            path: factor8.path, reason: "a tiny autoencoder with spatial factor 8; this model's VAE has 4")) {
            try pipeline.loadTinyAutoencoder(folder: factor8)
        }
        #expect(pipeline.tinyAutoencoder == nil)
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("taesd-empty-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: empty) }
        try FileManager.default.copyItem(at: factor8.appendingPathComponent("config.json"), to: empty.appendingPathComponent("config.json"))
        try Data("not a pickle".utf8).write(to: empty.appendingPathComponent("diffusion_pytorch_model.bin"))
        #expect(throws: PipelineError.modelFile(.pickleWeights(path: empty.appendingPathComponent("diffusion_pytorch_model.bin").path))) {
            try pipeline.loadTinyAutoencoder(folder: empty)
        }
        try FileManager.default.removeItem(at: empty.appendingPathComponent("config.json"))
        #expect(throws: PipelineError.missingComponent(name: "config.json", folder: empty.path)) {
            try pipeline.loadTinyAutoencoder(folder: empty)
        }
        let missing = empty.appendingPathComponent("nope")
        #expect(throws: PipelineError.modelFile(.notFound(path: missing.path))) {
            try pipeline.loadTinyAutoencoder(folder: missing)
        }
    }

    /// Runs a request and returns its events in order.
    static func events(_ pipeline: DiffusionPipeline, _ request: GenerationRequest) throws -> (log: [String], previews: [GenerationPreview], result: GenerationResult) {
        var log: [String] = [], previews: [GenerationPreview] = []
        let result = try pipeline.generate(request, onEvent: { event in
            switch event {
            case let .step(index, count, _): log.append("step \(index)/\(count)")
            case let .preview(preview): log.append("preview \(preview.step)/\(preview.count)"); previews.append(preview)
            case .finished: log.append("finished")
            }
        })
        return (log, previews, result)
    }

    @Test("Previews follow every N-th step and the last, after that step's event; none by default")
    func previewCadence() throws {
        let pipeline = try Self.pipeline(tiny: false)
        var request = GenerationRequest(prompt: "a photo of a horse", width: 32, height: 32, steps: 8, scheduler: "euler_a", guidanceScale: 7, seed: 3)
        #expect(try Self.events(pipeline, request).previews.isEmpty)
        request.previewEvery = 3
        request.batchSize = 2
        let run = try Self.events(pipeline, request)
        #expect(run.log == ["step 1/8", "step 2/8", "step 3/8", "preview 3/8", "step 4/8", "step 5/8", "step 6/8", "preview 6/8",
                            "step 7/8", "step 8/8", "preview 8/8", "finished"])
        for preview in run.previews {
            #expect(preview.method == .latentApproximation)
            #expect(preview.images.count == 2)
            #expect(preview.images.allSatisfy { $0.width == 8 && $0.height == 8 })
        }
    }

    @Test("The last preview is the final picture: x̂₀ of Euler's last step is its result (latent map and TAESD)",
          arguments: [false, true])
    func lastPreviewIsFinal(tiny: Bool) throws {
        let pipeline = try Self.pipeline(tiny: tiny)
        var request = GenerationRequest(prompt: "an astronaut riding a horse", width: 32, height: 32, steps: 6, scheduler: "euler", guidanceScale: 5, seed: 11)
        request.previewEvery = 2
        if tiny { request.decoder = .tinyAutoencoder }
        let run = try Self.events(pipeline, request)
        let last = try #require(run.previews.last)
        #expect(run.previews.map(\.step) == [2, 4, 6])
        #expect(last.method == (tiny ? .tinyAutoencoder : .latentApproximation))
        let want = tiny ? run.result.rgbImages[0] : try LatentPreview.image(from: run.result.latents, factors: .sd1)
        #expect(last.images[0].width == want.width && last.images[0].height == want.height)
        let worst = zip(last.images[0].pixels, want.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 255
        #expect(worst <= 1, "last preview vs the final picture: \(worst) levels apart")
        // Earlier previews show a picture still forming: they differ from the last.
        #expect(run.previews[0].images[0] != last.images[0])
    }
}
