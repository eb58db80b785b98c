import Foundation
import Testing
@testable import DiffusionCore

/// Letting the mapped weight pages go before the decode changes nothing in what a run computes, in that run or
/// in the next one (which maps the pages in again).
@Suite("Pipeline: weight pages released before the decode")
struct PipelineWeightPagesTests {
    static func pipeline(releasing: Bool) throws -> DiffusionPipeline {
        let base = try #require(PipelinePreviewTests.fixtures, "fixtures are missing")
        let pipeline = try DiffusionPipeline(folder: base.appendingPathComponent("pipeline/sd1-tiny"))
        pipeline.releasesWeightPagesBeforeDecode = releasing
        return pipeline
    }

    /// Max |a − b| over the scale of `b` (other tests switch the kernels' instruction-set level process-wide, so
    /// two runs agree within the paths' agreement rather than bit for bit).
    static func relativeDifference(_ a: Tensor, _ b: Tensor) -> Float {
        let x = a.scalars, y = b.scalars
        var worst: Float = 0, scale: Float = 1
        for i in y.indices {
            worst = max(worst, abs(x[i] - y[i]))
            scale = max(scale, abs(y[i]))
        }
        return worst / scale
    }

    @Test("Two runs with the pages released equal a run that keeps them")
    func sameResults() throws {
        try KernelPaths.pinned {
            let request = GenerationRequest(prompt: "a red cube", negativePrompt: "blurry", width: 32, height: 32, steps: 3,
                                            scheduler: "euler", guidanceScale: 5, seed: 7)
            let kept = try Self.pipeline(releasing: false).generate(request)
            let releasing = try Self.pipeline(releasing: true)
            let first = try releasing.generate(request)
            let second = try releasing.generate(request)
            #expect(first.latents.shape == kept.latents.shape)
            #expect(Self.relativeDifference(first.latents, kept.latents) <= 1e-5)
            #expect(Self.relativeDifference(first.images, kept.images) <= 1e-5)
            #expect(Self.relativeDifference(second.latents, kept.latents) <= 1e-5)
            #expect(Self.relativeDifference(second.images, kept.images) <= 1e-5)
        }
    }
}
