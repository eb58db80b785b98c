import Foundation
import LoRAKit

extension DiffusionPipeline {
    /// Loads a tiny autoencoder (TAESD for SD 1.x/2.x, TAESDXL for SDXL) from a diffusers `AutoencoderTiny`
    /// folder (`config.json` and `diffusion_pytorch_model.safetensors`, as `madebyollin/taesd` ships it) and keeps
    /// it beside the model: step previews then come from it, and a request with ``GenerationRequest/decoder``
    /// `.tinyAutoencoder` decodes its final latents with it. Weights stay mapped.
    /// - Throws: ``PipelineError/modelFile(_:)`` for a missing folder, one with only pickled weights or an
    ///   unreadable file; ``PipelineError/missingComponent(name:folder:)`` without `config.json`;
    ///   ``PipelineError/model(_:)`` for a config or weights that do not make an `AutoencoderTiny`;
    ///   ``PipelineError/incompatibleComponent(path:reason:)`` when its latent channels or spatial factor are not
    ///   the model's.
    public func loadTinyAutoencoder(folder: URL, loading: WeightLoading = .keepHalfPrecision) throws(PipelineError) {
        let path = folder.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw .modelFile(.notFound(path: path)) }
        guard isDirectory.boolValue else {
            throw .modelFile(.notAModel(path: path, reason: "a tiny autoencoder is a diffusers AutoencoderTiny folder (config.json and *.safetensors)"))
        }
        guard let config = try? Data(contentsOf: folder.appendingPathComponent("config.json")) else {
            throw .missingComponent(name: "config.json", folder: path)
        }
        // The weights by LoRAKit's variant rule: `diffusion_pytorch_model.safetensors`, else its `fp16` variant, or shards.
        let tensors: ComponentTensors
        do { tensors = try ModelBundle.openComponent(folder: folder, part: .vae).tensors } catch {
            if case .notAModel = error { throw .missingComponent(name: "weights (diffusion_pytorch_model*.safetensors)", folder: path) }
            throw .modelFile(error)
        }
        let model: AutoencoderTinyModel
        do {
            model = try AutoencoderTinyModel(configuration: try AutoencoderTinyConfiguration(json: config), tensors: tensors,
                                             description: path, loading: loading)
        } catch { throw .model(error) }
        try setTinyAutoencoder(model, path: path)
    }

    /// Keeps `model` as the pipeline's tiny autoencoder (nil removes it).
    /// - Throws: ``PipelineError/incompatibleComponent(path:reason:)`` as ``loadTinyAutoencoder(folder:loading:)``.
    /// Waits for a run in progress to finish (see "Sharing one pipeline" in ``DiffusionPipeline``).
    public func setTinyAutoencoder(_ model: AutoencoderTinyModel?, path: String = "tiny autoencoder") throws(PipelineError) {
        if let model {
            let channels = unet.configuration.outChannels
            guard model.configuration.latentChannels == channels else {
                throw .incompatibleComponent(path: path, reason: "a tiny autoencoder for \(model.configuration.latentChannels)-channel latents; this model's have \(channels)")
            }
            guard model.downscaleFactor == vae.downscaleFactor else {
                throw .incompatibleComponent(path: path, reason: "a tiny autoencoder with spatial factor \(model.downscaleFactor); this model's VAE has \(vae.downscaleFactor)")
            }
        }
        try exclusively("setTinyAutoencoder") { () throws(PipelineError) in tinyAutoencoder = model }
    }

    /// Refuses, before any step runs, a request for the tiny decoder when none is loaded.
    func checkDecoder(for request: GenerationRequest) throws(PipelineError) {
        if request.decoder == .tinyAutoencoder, tinyAutoencoder == nil {
            throw .invalidRequest("decoding with the tiny autoencoder needs one loaded (loadTinyAutoencoder(folder:))")
        }
        guard request.previewEvery >= 0 else { throw .invalidRequest("previewEvery \(request.previewEvery) is negative") }
    }

    /// The final latents decoded by the tiny autoencoder (diffusers: `vae.decode(latents / scaling_factor)` with
    /// `pipe.vae` an `AutoencoderTiny`), post-processed as the VAE's images are.
    func decodeWithTinyAutoencoder(_ latents: Tensor) throws(PipelineError) -> GenerationResult {
        guard let tiny = tinyAutoencoder else { throw .invalidRequest("no tiny autoencoder loaded") }
        do {
            let images = try tiny.decodeToImages(latents)
            return GenerationResult(latents: latents, images: images.unit, rgbImages: images.rgb)
        } catch { throw PipelineError(layerError: error) }
    }

    /// The step-preview maker for a run, or nil when the request asks for none.
    func previewRenderer(for request: GenerationRequest, scheduler: any Scheduler) throws(PipelineError) -> PreviewRenderer? {
        guard request.previewEvery > 0 else { return nil }
        return PreviewRenderer(every: request.previewEvery, settings: scheduler.settings, tiny: tinyAutoencoder,
                               factors: isSDXL ? .sdxl : .sd1)
    }
}

extension AutoencoderTinyModel {
    /// Diffusion-space latents to images: `[B, 3, H, W]` in [0, 1] and 8-bit RGB pictures.
    func decodeToImages(_ latents: Tensor) throws -> (unit: Tensor, rgb: [RGBImage]) {
        let c = configuration
        let z = try ModelError.wrapping { try ModelOps.affine(latents, scale: 1 / c.scalingFactor, shift: c.shiftFactor) }
        let decoded = try decode(z)
        let unit = try ModelError.wrapping { try ModelOps.map(decoded) { Swift.min(Swift.max($0 / 2 + 0.5, 0), 1) } }
        return (unit, try ImageProcessor.images(from: decoded))
    }
}
