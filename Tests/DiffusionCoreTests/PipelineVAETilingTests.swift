import Foundation
import Testing
@testable import DiffusionCore

/// Tiled VAE passes in the pipeline (``VAETiling``) and the memory plan that chooses them and refuses sizes no
/// stage could run at. The tiled decode itself is checked against diffusers' `enable_tiling()` in
/// `ModelFixtureTests`; here the pipeline must hand the run's latents to it, and only when asked or needed.
@Suite("Pipeline: tiled VAE and the memory plan")
struct PipelineVAETilingTests {
    static let gb = 1_000_000_000

    @Test("vaeTiling .on decodes the run's latents in tiles; .off and .automatic at a small size decode them whole")
    func tiledDecodeInPipeline() throws {
        let pipeline = try PipelinePreviewTests.pipeline(tiny: false)
        #expect(pipeline.vae.tileSampleSize == 32)
        // 64×48 pixels: larger than one 32-pixel tile both ways.
        var request = GenerationRequest(prompt: "a red house", width: 64, height: 48, steps: 2, scheduler: "euler_a",
                                        guidanceScale: 5, seed: 7)
        var tiledRequest = request, automatic = request
        request.vaeTiling = .off
        tiledRequest.vaeTiling = .on
        automatic.vaeTiling = .automatic
        let (whole, tiled, auto) = try KernelPaths.pinned {
            (try pipeline.generate(request), try pipeline.generate(tiledRequest), try pipeline.generate(automatic))
        }
        #expect(tiled.latents == whole.latents)
        #expect(tiled.images != whole.images)
        #expect(auto.images == whole.images)
        #expect(tiled.notes.contains { $0.contains("tiles") })
        #expect(!whole.notes.contains { $0.contains("tiles") } && !auto.notes.contains { $0.contains("tiles") })

        // The tiled images are the model's tiled decode of the same latents.
        let c = pipeline.vae.configuration
        let z = try ModelOps.affine(tiled.latents, scale: 1 / c.scalingFactor, shift: c.shiftFactor)
        let expected = try KernelPaths.pinned { try pipeline.vae.decode(z, tiled: true) }
        let want = expected.scalars.map { Swift.min(Swift.max($0 / 2 + 0.5, 0), 1) }
        let worst = zip(tiled.images.scalars, want).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-6)
    }

    @Test("img2img with tiling on encodes the init image in tiles")
    func tiledEncodeInPipeline() throws {
        let pipeline = try PipelinePreviewTests.pipeline(tiny: false)
        var pixels = [Float](repeating: 0, count: 3 * 48 * 64)
        for i in pixels.indices { pixels[i] = Float((i * 37) % 101) / 50 - 1 }
        let image = try Tensor(shape: [1, 3, 48, 64], scalars: pixels)
        var request = GenerationRequest(prompt: "a red house", steps: 2, scheduler: "euler", guidanceScale: 1, seed: 3,
                                        initImage: image, strength: 0.5)
        var tiledRequest = request
        request.vaeTiling = .off
        tiledRequest.vaeTiling = .on
        let (whole, tiled) = try KernelPaths.pinned { (try pipeline.generate(request), try pipeline.generate(tiledRequest)) }
        // The encoder's tiles blend differently from the whole pass, so the starting latents differ.
        #expect(tiled.latents != whole.latents)
        let f = pipeline.vae.downscaleFactor
        #expect(tiled.latents.shape == [1, 4, 48 / f, 64 / f])
    }

    @Test("automatic tiling starts above half of the machine's memory; the estimates follow the measured figures")
    func automaticThreshold() throws {
        func plan(_ side: Int, _ tiling: VAETiling = .automatic, memory: Int = 24 * PipelineVAETilingTests.gb, batch: Int = 1) throws -> MemoryPlan {
            try MemoryPlan.make(width: side, height: side, batch: batch, rows: 2 * batch, factor: 8, vaeChannels: 128,
                                vaeTileSide: 512, unetChannels: 320, tiling: tiling, physicalBytes: memory)
        }
        // 3,072 bytes per pixel at 128 channels: 0.8 GB at 512², 3.2 GB at 1024² (measured 1.04 and 3.36 GB with weights).
        #expect(try plan(512).wholeImageVAEBytes == 3072 * 512 * 512)
        #expect(try !plan(1024).tiled)
        #expect(try !plan(1920).tiled)                       // 11.3 GB: under half of 24 GB …
        #expect(try plan(1920, memory: 20 * Self.gb).tiled)  // … over half of 20 GB
        #expect(try plan(1984).tiled)                        // 12.09 GB: just over half of 24 GB
        #expect(try plan(2048).tiled)
        #expect(try plan(1024, memory: 4 * Self.gb).tiled)
        #expect(try !plan(4096, .off, memory: 64 * Self.gb).tiled)
        #expect(try plan(256, .on).tiled)
        // One tile's pass plus the output image, never more than the whole pass.
        let big = try plan(4096)
        #expect(big.tiledVAEBytes == 3072 * 512 * 512 + 12 * 4096 * 4096)
        #expect(try plan(256, .on).tiledVAEBytes == plan(256, .on).wholeImageVAEBytes)
        #expect(try plan(512, batch: 2).wholeImageVAEBytes == 2 * 3072 * 512 * 512)
        // Every tile carries the whole batch; a batch within one tile is decoded whole (no tiled figure, no note).
        #expect(try plan(4096, batch: 2).tiledVAEBytes == 2 * (3072 * 512 * 512 + 12 * 4096 * 4096))
        #expect(try plan(512, .on, batch: 4).tiledVAEBytes == plan(512, .on, batch: 4).wholeImageVAEBytes)
    }

    @Test("sizes no stage fits are refused with the figures, before any work")
    func refusals() throws {
        func plan(_ side: Int, _ tiling: VAETiling, memory: Int) throws(PipelineError) -> MemoryPlan {
            try MemoryPlan.make(width: side, height: side, batch: 1, rows: 2, factor: 8, vaeChannels: 128,
                                vaeTileSide: 512, unetChannels: 320, tiling: tiling, physicalBytes: memory)
        }
        // The whole-image decode of 4096² needs 51.5 GB: refused when tiling is off, tiled otherwise.
        do {
            _ = try plan(4096, .off, memory: 24 * Self.gb)
            Issue.record("a 51.5 GB whole-image decode was not refused")
        } catch {
            guard case let .invalidRequest(message) = error else { Issue.record("wrong error \(error)"); return }
            #expect(message.contains("51.5 GB") && message.contains("--vae-tiling on") && message.contains("24.0 GB"))
        }
        #expect(try plan(4096, .automatic, memory: 24 * Self.gb).tiled)
        // With the tiny autoencoder decoding and no init image the VAE does not run: nothing to refuse for it.
        #expect(throws: Never.self) {
            try MemoryPlan.make(width: 4096, height: 4096, batch: 1, rows: 2, factor: 8, vaeChannels: 128, vaeTileSide: 512,
                                unetChannels: 320, tiling: .off, usesVAE: false, physicalBytes: 24 * Self.gb)
        }
        // 16384²: the UNet's activations alone (2 rows of 2048² latents at 14 × 320 floats) are 150 GB.
        do {
            _ = try plan(16384, .automatic, memory: 24 * Self.gb)
            Issue.record("a 150 GB UNet was not refused")
        } catch {
            guard case let .invalidRequest(message) = error else { Issue.record("wrong error \(error)"); return }
            #expect(message.contains("UNet") && message.contains("150.3 GB"))
        }
        // The largest sizes and batches never overflow the arithmetic.
        #expect(throws: PipelineError.self) {
            try MemoryPlan.make(width: 16384, height: 16384, batch: 64, rows: 128, factor: 8, vaeChannels: 1 << 40,
                                vaeTileSide: 1 << 40, unetChannels: 1 << 40, tiling: .on, physicalBytes: Int.max / 2)
        }
    }

    @Test("the pipeline refuses a size whose UNet would not fit, before the first step")
    func pipelineRefusesHugeSize() throws {
        let pipeline = try PipelinePreviewTests.pipeline(tiny: false)
        let memory = Int(clamping: ProcessInfo.processInfo.physicalMemory)
        // The tiny UNet's first block width: the side at which its activations exceed this machine's memory.
        let channels = pipeline.unet.configuration.blockOutChannels[0]
        let latentSide = Int((Double(memory) / Double(14 * 4 * channels * 2)).squareRoot()) + 8
        let side = (latentSide * 8 + 7) / 8 * 8
        guard side <= GenerationRequest.maximumSide else { return }  // a machine too large for this check
        var steps = 0
        let request = GenerationRequest(prompt: "a horse", width: side, height: side, steps: 2, seed: 1)
        #expect(throws: PipelineError.self) { try pipeline.generate(request, onEvent: { if case .step = $0 { steps += 1 } }) }
        #expect(steps == 0)
    }
}
