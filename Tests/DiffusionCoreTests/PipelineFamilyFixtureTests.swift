import Foundation
import LoRAKit
import Testing
@testable import DiffusionCore

/// End-to-end generation for SD2 (v-prediction), SDXL (micro-conditioning, img2img, inpainting two images per
/// prompt) and inpainting (9-channel inpainting UNet and a standard UNet) against diffusers, on the tiny pipelines of
/// `Scripts/fixtures/pipeline_family_fixtures.py`: same seed, no noise passed in, so the starting noise, every
/// scheduler draw, the text encoders, the UNet and the VAE all have to agree.
/// Tolerance: max |swift − diffusers| ≤ 1e-3 · max(1, max |diffusers|) on the final latents and on the images.
@Suite("Pipeline families and inpainting against diffusers")
struct PipelineFamilyFixtureTests {
    struct Case: Decodable {
        let name: String
        let folder: String
        let pipeline: String
        let scheduler: String
        let steps: Int
        let cfg: Float
        let seed: UInt64
        let prompt: String
        let negative: String
        let width: Int?
        let height: Int?
        let strength: Double?
        let guidanceRescale: Float?
        let originalSize: [Int]?
        let cropsCoordsTopLeft: [Int]?
        let targetSize: [Int]?
        let numImagesPerPrompt: Int?

        enum CodingKeys: String, CodingKey {
            case name, folder, pipeline, scheduler, steps, cfg, seed, prompt, negative, width, height, strength
            case guidanceRescale = "guidance_rescale", originalSize = "original_size"
            case cropsCoordsTopLeft = "crops_coords_top_left", targetSize = "target_size"
            case numImagesPerPrompt = "num_images_per_prompt"
        }
    }

    struct Cases: Decodable { let cases: [Case] }

    static let base: URL? = Bundle.module.url(forResource: "pipeline-families", withExtension: nil, subdirectory: "Fixtures")
    static let schedulerNames = ["euler": "euler", "euler_a": "euler_a", "ddim": "ddim", "dpmpp_2m_karras": "dpmpp_2m_k", "lcm": "lcm"]

    static func cases() throws -> [Case] {
        let base = try #require(base, "pipeline-families fixtures are missing")
        return try JSONDecoder().decode(Cases.self, from: Data(contentsOf: base.appendingPathComponent("cases.json"))).cases
    }

    static func reference(_ key: String) throws -> Tensor {
        let base = try #require(base)
        let outputs = try SafetensorsFile(path: base.appendingPathComponent("outputs.safetensors").path)
        let view = try outputs.tensor(named: key)
        return try Tensor(shape: view.shape, scalars: view.floats())
    }

    /// The committed init picture and mask through the image reader and diffusers' image and mask processors.
    static func inpaintingInputs(width: Int, height: Int) throws -> (image: Tensor, mask: Tensor) {
        let base = try #require(base)
        let image = try ImageReader.read(contentsOf: base.appendingPathComponent("init.png"))
        let mask = try ImageReader.read(contentsOf: base.appendingPathComponent("mask.png"))
        return (try ImageProcessor.tensor(from: image.rgb, width: width, height: height),
                try ImageProcessor.maskTensor(from: mask.rgb, width: width, height: height))
    }

    static func request(_ c: Case) throws -> GenerationRequest {
        var request = GenerationRequest(prompt: c.prompt, negativePrompt: c.negative, width: c.width, height: c.height,
                                        steps: c.steps, scheduler: schedulerNames[c.scheduler], guidanceScale: c.cfg,
                                        guidanceRescale: c.guidanceRescale ?? 0, seed: c.seed)
        if let o = c.originalSize { request.originalSize = (width: o[1], height: o[0]) }
        if let t = c.targetSize { request.targetSize = (width: t[1], height: t[0]) }
        if let crop = c.cropsCoordsTopLeft { request.cropTopLeft = (top: crop[0], left: crop[1]) }
        if let strength = c.strength { request.strength = strength }
        if let n = c.numImagesPerPrompt { request.batchSize = n }
        switch c.pipeline {
        case "sdxl_img2img":
            request.initImage = try reference("sdxl_init_image")
        case "inpaint", "sdxl_inpaint":
            let inputs = try inpaintingInputs(width: try #require(c.width), height: try #require(c.height))
            request.initImage = inputs.image
            request.mask = inputs.mask
        default:
            break
        }
        return request
    }

    @Test("The fixture holds the ten reference runs")
    func caseCount() throws {
        #expect(try Self.cases().map(\.name) == [
            "sd2_vpred_euler_cfg7", "sd2_vpred_ddim_rescale", "sdxl_euler_microcond", "sdxl_dpmpp_2m_karras_negative",
            "sdxl_img2img_euler_a_0_6", "inpaint9_euler_a_s1", "inpaint9_ddim_s0_75", "inpaint4_euler_a_s0_8",
            "inpaint4_lcm_s1", "sdxl_inpaint_euler_a_0_8_batch2"])
    }

    @Test("Final latents and images equal diffusers'", arguments: [
        "sd2_vpred_euler_cfg7", "sd2_vpred_ddim_rescale", "sdxl_euler_microcond", "sdxl_dpmpp_2m_karras_negative",
        "sdxl_img2img_euler_a_0_6", "inpaint9_euler_a_s1", "inpaint9_ddim_s0_75", "inpaint4_euler_a_s0_8", "inpaint4_lcm_s1",
        "sdxl_inpaint_euler_a_0_8_batch2"])
    func generation(name: String) throws {
        let base = try #require(Self.base)
        let c = try #require(try Self.cases().first { $0.name == name })
        let pipeline = try DiffusionPipeline(folder: base.appendingPathComponent(c.folder).standardizedFileURL)
        #expect(pipeline.isSDXL == c.pipeline.hasPrefix("sdxl"))
        var steps = 0
        let result = try pipeline.generate(try Self.request(c), onEvent: { if case .step = $0 { steps += 1 } })
        #expect(steps > 0)
        PipelineFixtureTests.expectClose(result.latents, try Self.reference("\(name).latents"), "\(name) latents")
        PipelineFixtureTests.expectClose(result.images, try Self.reference("\(name).image"), "\(name) images")
    }
}

@Suite("Inpainting requests")
struct InpaintingRequestTests {
    static var sd1: URL? { Bundle.module.url(forResource: "pipeline", withExtension: nil, subdirectory: "Fixtures")?.appendingPathComponent("sd1-tiny") }
    static var inpaint: URL? { PipelineFamilyFixtureTests.base?.appendingPathComponent("sd1-inpaint-tiny") }

    @Test("A white mask over everything on a standard UNet repaints all of it: the img2img run of the same seed")
    func fullMaskIsImg2Img() throws {
        let pipeline = try DiffusionPipeline(folder: try #require(Self.sd1))
        let inputs = try PipelineFamilyFixtureTests.inpaintingInputs(width: 32, height: 32)
        var request = GenerationRequest(prompt: "a photo of a horse", steps: 5, scheduler: "ddim", guidanceScale: 4, seed: 9,
                                        initImage: inputs.image, strength: 0.7)
        let img2img = try pipeline.generate(request).latents
        request.mask = try Tensor(shape: [1, 1, 32, 32], repeating: 1)
        let inpainted = try pipeline.generate(request).latents
        PipelineFixtureTests.expectClose(inpainted, img2img, "all-white mask vs img2img")
    }

    @Test("A black mask keeps everything: the last step puts back the picture's own latents wherever the mask is 0")
    func emptyMaskKeepsPicture() throws {
        let pipeline = try DiffusionPipeline(folder: try #require(Self.sd1))
        let inputs = try PipelineFamilyFixtureTests.inpaintingInputs(width: 32, height: 32)
        let zero = try Tensor(shape: [1, 1, 32, 32], repeating: 0)
        let a = try pipeline.generate(GenerationRequest(prompt: "a horse", steps: 4, scheduler: "euler_a", seed: 1,
                                                        initImage: inputs.image, strength: 1, mask: zero)).latents
        let b = try pipeline.generate(GenerationRequest(prompt: "an astronaut", steps: 6, scheduler: "dpmpp_2m_k", seed: 1,
                                                        initImage: inputs.image, strength: 0.5, mask: zero)).latents
        // Both end on the picture's latent sample, which depends only on the seed's first draw.
        PipelineFixtureTests.expectClose(a, b, "black mask")
    }

    @Test("A mask without an init image, of another size, or a 9-channel UNet without a mask is a typed error")
    func invalid() throws {
        let pipeline = try DiffusionPipeline(folder: try #require(Self.sd1))
        let inputs = try PipelineFamilyFixtureTests.inpaintingInputs(width: 32, height: 32)
        #expect(throws: PipelineError.invalidRequest("a mask needs an init image to inpaint")) {
            _ = try pipeline.generate(GenerationRequest(prompt: "x", width: 32, height: 32, steps: 2, mask: inputs.mask))
        }
        let small = try Tensor(shape: [1, 1, 16, 32], repeating: 1)
        #expect(throws: PipelineError.invalidRequest("the mask is 32×16 but the init image is 32×32")) {
            _ = try pipeline.generate(GenerationRequest(prompt: "x", steps: 2, initImage: inputs.image, mask: small))
        }
        #expect(throws: PipelineError.invalidRequest("the init image is 32×32 but 64×32 was asked for")) {
            _ = try pipeline.generate(GenerationRequest(prompt: "x", width: 64, height: 32, steps: 2, initImage: inputs.image))
        }
        let inpainting = try DiffusionPipeline(folder: try #require(Self.inpaint))
        #expect(throws: PipelineError.invalidRequest("this UNet takes 9 input channels (an inpainting model): give an init image and a mask")) {
            _ = try inpainting.generate(GenerationRequest(prompt: "x", width: 32, height: 32, steps: 2))
        }
    }
}

@Suite("SDXL time ids")
struct SDXLTimeIDTests {
    /// The tiny SDXL UNet's config with its added-embedding width set to `ids` time ids beside 20 pooled values.
    static func configuration(ids: Int) throws -> UNetConfiguration {
        let url = try #require(PipelineFamilyFixtureTests.base).appendingPathComponent("sdxl-tiny/unet/config.json")
        var object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        object["projection_class_embeddings_input_dim"] = ids * 8 + 20
        return try UNetConfiguration(json: try JSONSerialization.data(withJSONObject: object))
    }

    @Test("Six ids: original size, crop, target size as (height, width), the same for the negative")
    func base() throws {
        var r = GenerationRequest(prompt: "x")
        r.originalSize = (width: 160, height: 96)
        r.cropTopLeft = (top: 8, left: 16)
        let ids = try GenerationPlan.timeIDs(request: r, width: 64, height: 32, pooledWidth: 20, unet: try Self.configuration(ids: 6))
        #expect(ids.positive == [96, 160, 8, 16, 32, 64])
        #expect(ids.negative == ids.positive)
    }

    @Test("Five ids (refiners, diffusers' requires_aesthetics_score): original size, crop, then the aesthetic score")
    func refiner() throws {
        var r = GenerationRequest(prompt: "x")
        r.aestheticScore = 7
        let ids = try GenerationPlan.timeIDs(request: r, width: 64, height: 32, pooledWidth: 20, unet: try Self.configuration(ids: 5))
        #expect(ids.positive == [32, 64, 0, 0, 7])
        #expect(ids.negative == [32, 64, 0, 0, 2.5])
    }

    @Test("An added embedding that fits neither is a typed error")
    func mismatch() throws {
        #expect(throws: PipelineError.self) {
            _ = try GenerationPlan.timeIDs(request: GenerationRequest(prompt: "x"), width: 64, height: 32, pooledWidth: 20,
                                           unet: try Self.configuration(ids: 4))
        }
    }
}

@Suite("Lanczos pass order")
struct LanczosPassOrderTests {
    struct Fixture: Decodable { let resizes: [[Int]] }

    @Test("Resizing equals Pillow 13 byte for byte, whichever pass it runs first")
    func passOrder() throws {
        let base = try #require(PipelineFamilyFixtureTests.base)
        let sizes = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: base.appendingPathComponent("cases.json"))).resizes
        #expect(sizes.contains { PillowResampler.verticalFirst(width: 40, height: 40, toWidth: $0[0], toHeight: $0[1]) })
        #expect(sizes.contains { !PillowResampler.verticalFirst(width: 40, height: 40, toWidth: $0[0], toHeight: $0[1]) })
        let picture = try ImageReader.read(contentsOf: base.appendingPathComponent("init.png")).rgb
        for size in sizes {
            let resized = try ImageProcessor.resized(picture, width: size[0], height: size[1])
            let want = try PipelineFamilyFixtureTests.reference("resize_\(size[0])x\(size[1])").scalars.map { UInt8($0) }
            #expect(resized.pixels == want, "\(size[0])×\(size[1])")
        }
    }
}

extension InpaintingRequestTests {
    @Test("A soft mask is binarised at one half, as diffusers' mask processor does")
    func softMask() throws {
        let pipeline = try DiffusionPipeline(folder: try #require(PipelineFamilyFixtureTests.base).appendingPathComponent("sd1-inpaint-tiny"))
        let inputs = try PipelineFamilyFixtureTests.inpaintingInputs(width: 32, height: 32)
        let soft = inputs.mask.map { $0 == 1 ? 0.75 : 0.2 }
        var request = GenerationRequest(prompt: "a horse", steps: 3, scheduler: "euler", seed: 4, initImage: inputs.image,
                                        strength: 1, mask: inputs.mask)
        let hard = try pipeline.generate(request).latents
        request.mask = soft
        PipelineFixtureTests.expectClose(try pipeline.generate(request).latents, hard, "soft mask")
    }
}
