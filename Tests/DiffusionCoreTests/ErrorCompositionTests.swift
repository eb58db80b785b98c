import Foundation
import LoRAKit
import Testing
@testable import DiffusionCore

/// The runtime's errors keep the error of the layer below as a typed value: a weight file that is not
/// safetensors reaches the pipeline's caller as the safetensors error inside the model-file error, a weight the
/// compute layer refuses as the tensor error inside the model error.
@Suite("Runtime errors compose")
struct RuntimeErrorCompositionTests {
    private static let garbage = Data([0x01, 0x02, 0x03])

    /// The error the safetensors layer gives for `url`.
    private func safetensorsError(_ url: URL) throws -> SafetensorsError {
        do { _ = try SafetensorsFile(contentsOf: url) } catch { return error }
        Issue.record("\(url.path) opened")
        throw CancellationError()
    }

    @Test("a pipeline whose UNet weights are not safetensors: the safetensors error inside the model-file error")
    func pipelineKeepsTheFileError() throws {
        let base = try #require(PipelineFixtureTests.base, "pipeline fixtures are missing")
        let tmp = try TextFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let folder = tmp.appendingPathComponent("sd1-tiny")
        try FileManager.default.copyItem(at: base.appendingPathComponent("sd1-tiny"), to: folder)
        let unet = folder.appendingPathComponent("unet/diffusion_pytorch_model.safetensors")
        try FileManager.default.removeItem(at: unet)
        try Self.garbage.write(to: unet)
        let expected = ModelFileError.unreadable(path: unet.path, error: try safetensorsError(unet))
        #expect(throws: PipelineError.modelFile(expected)) { try DiffusionPipeline(folder: folder) }
        #expect(PipelineError.modelFile(expected).description == expected.description)
    }

    @Test("a text encoder or embedding file that is not safetensors keeps the safetensors error")
    func textKeepsTheFileError() throws {
        let folder = try TextFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.copyItem(at: try TextFixtures.url("encoders/sd1/config.json"), to: folder.appendingPathComponent("config.json"))
        let weights = folder.appendingPathComponent("model.safetensors")
        try Self.garbage.write(to: weights)
        let underlying = try safetensorsError(weights)
        #expect(throws: TextError.unreadableWeights(file: weights.path, underlying: underlying)) { try CLIPTextEncoder(folder: folder) }
        #expect(TextError.unreadableWeights(file: weights.path, underlying: underlying).description
            == "cannot read text encoder weights \(weights.path): \(underlying)")

        let embedding = folder.appendingPathComponent("style.safetensors")
        try Self.garbage.write(to: embedding)
        #expect(throws: TextError.unreadableEmbedding(file: "style.safetensors", underlying: underlying)) {
            try TextualInversionEmbedding(contentsOf: embedding)
        }
    }

    @Test("a weight of an integer type: the compute layer's reason inside the model error")
    func weightKeepsTheTensorError() throws {
        let tmp = try TextFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let url = tmp.appendingPathComponent("w.safetensors")
        var writer = SafetensorsWriter()
        writer.add(.init(name: "norm.weight", dtype: .i32, shape: [2], source: .bytes([UInt8](repeating: 0, count: 8))))
        try writer.write(to: url)
        let file = try SafetensorsFile(contentsOf: url)
        let weights = try ComponentWeights(files: [file], part: .vae, description: "vae")
        let expected = ModelError.invalidWeight(name: "norm.weight", file: "vae", underlying: .unsupportedWeightType(name: "norm.weight", dtype: "I32"))
        #expect(throws: expected) { try weights.vector("norm.weight", count: 2) }
        #expect(expected.description == "vae: weight \"norm.weight\" cannot be used: element type I32 is not a float type")
    }

    @Test("model and pipeline errors compare by their typed underlying values")
    func equality() {
        let a = TensorError.negativeDimension(shape: [-1]), b = TensorError.negativeDimension(shape: [-2])
        #expect(ModelError.computation(a) == ModelError.computation(a))
        #expect(ModelError.computation(a) != ModelError.computation(b))
        #expect(PipelineError.model(.computation(a)) != PipelineError.tensor(a))
        #expect(TextError.computation(a) != TextError.computation(b))
        #expect(PipelineError(layerError: a) == .tensor(a))
        #expect(PipelineError(layerError: ModelError.computation(a)) == .model(.computation(a)))
        #expect(PipelineError(layerError: ModelFileError.notFound(path: "/m")) == .modelFile(.notFound(path: "/m")))
        #expect(ModelError(graphError: a) == .computation(a))
        #expect(ModelError(graphError: ModelError.invalidInput("x")) == .invalidInput("x"))
    }
}
