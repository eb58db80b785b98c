import Foundation
import LoRAKit

/// A Stable Diffusion pipeline (SD 1.x, SD 2.x, SDXL; LCM-distilled UNets too) loaded once from a diffusers
/// folder and run for many requests: txt2img and img2img with classifier-free guidance, any scheduler of the
/// zoo, and torch's CPU generator for the noise, so a seed gives diffusers' numbers.
///
/// ```swift
/// let pipeline = try DiffusionPipeline(folder: URL(fileURLWithPath: "models/sd15"))
/// let result = try pipeline.generate(GenerationRequest(prompt: "a photo of an astronaut", steps: 25, seed: 42))
/// ```
public final class DiffusionPipeline: @unchecked Sendable {
    public let folder: URL
    /// The prompt encoder as generation runs it: the text encoder(s) with the active LoRAs fused in, and the
    /// embeddings those LoRAs carry.
    public internal(set) var promptEncoder: PromptEncoder
    /// The UNet as generation runs it: the mapped weights, with the active LoRAs fused into the layers they patch.
    public internal(set) var unet: UNetModel
    /// The pipeline's own LoRAs (see ``setLoRAs(_:)``), fused into every request before the request's own.
    public internal(set) var loras: [PipelineLoRA] = []
    /// Where `<lora:NAME:W>` prompt tags and ``GenerationRequest`` LoRA names are looked up: by default
    /// `$LORAKIT_HOME/loras`, else `~/.lorakit/loras` (as `lora-tool merge` and `generate` look them up).
    public var loraLibrary = LoRALibrary()
    let unetSource: (config: Data, files: [SafetensorsFile], description: String, loading: WeightLoading)
    let unetFusionSource: FusionSource
    let tokenizers: [CLIPTokenizer]
    /// The text encoders as loaded (what LoRA-fused encoders are derived from).
    let originalTextEncoders: [CLIPTextEncoder]
    let textEncoderFusionSources: [FusionSource]
    /// The weight-holding parts this pipeline has.
    let partsPresent: Set<ModelPart>
    /// The set fused now.
    var fusion: Fusion?
    /// How many times a LoRA set was fused (a set equal to the fused one is not fused again).
    var fusionCount = 0
    /// LoRA files opened for prompt tags and request names, by path (so an unchanged set is not fused again).
    var openedLoRAs: [String: LoRAFile] = [:]
    public let vae: AutoencoderKLModel
    /// A tiny autoencoder (TAESD) for previews and, on request, the final decode; see ``loadTinyAutoencoder(folder:loading:)``.
    public internal(set) var tinyAutoencoder: AutoencoderTinyModel?
    /// The model's own `scheduler/scheduler_config.json`.
    public let schedulerConfig: SchedulerConfig
    /// SDXL pipelines encode an empty negative prompt as zeros (`force_zeros_for_empty_prompt`, on by default).
    public let forceZerosForEmptyPrompt: Bool

    /// Whether this is an SDXL pipeline (two text encoders, `text_time` UNet conditioning).
    public var isSDXL: Bool { promptEncoder.isSDXL }

    /// Loads every component of a diffusers pipeline folder; weights stay mapped.
    public init(folder: URL, loading: WeightLoading = .keepHalfPrecision) throws(PipelineError) {
        self.folder = folder
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory) else {
            throw .unreadable(path: folder.path, reason: "no such file or folder")
        }
        guard isDirectory.boolValue else {
            let ext = folder.pathExtension.lowercased()
            if ["ckpt", "pt", "pth", "bin"].contains(ext) {
                throw .unreadable(path: folder.path, reason: "a pickle checkpoint; pickles can run code when loaded and are never opened here: use a .safetensors file or a diffusers folder")
            }
            throw .unreadable(path: folder.path, reason: "generation needs a diffusers model folder; single-file checkpoints are not loaded by the pipeline yet")
        }
        let files = PipelineFiles(folder: folder)
        guard files.has("text_encoder") else { throw .missingComponent(name: "text_encoder", folder: folder.path) }
        var tokenizers: [CLIPTokenizer] = [], encoders: [CLIPTextEncoder] = [], sources: [FusionSource] = []
        for (tok, enc, part) in [("tokenizer", "text_encoder", ModelPart.textEncoder), ("tokenizer_2", "text_encoder_2", .textEncoder2)] {
            guard files.has(enc) else { continue }
            do {
                tokenizers.append(try CLIPTokenizer(folder: try files.component(tok)))
                let (_, weightFiles) = try files.weights(enc)
                let config = try CLIPTextConfig(contentsOf: try files.component(enc).appendingPathComponent("config.json"))
                encoders.append(try CLIPTextEncoder(config: config, files: weightFiles))
                sources.append(FusionSource(part: part, diffusersFiles: weightFiles))
            } catch { throw PipelineError(layerError: error) }
        }
        do { promptEncoder = try PromptEncoder(tokenizers: tokenizers, encoders: encoders) } catch { throw .text(error) }
        self.tokenizers = tokenizers
        originalTextEncoders = encoders
        textEncoderFusionSources = sources
        partsPresent = Set([.unet] + sources.map(\.part))
        let (unetConfig, unetFiles) = try files.weights("unet")
        unetSource = (unetConfig, unetFiles, files.describe("unet"), loading)
        unetFusionSource = FusionSource(part: .unet, diffusersFiles: unetFiles)
        do {
            unet = try UNetModel(configurationJSON: unetConfig, weightFiles: unetFiles, description: files.describe("unet"), loading: loading)
        } catch { throw .model(error) }
        let (vaeConfig, vaeFiles) = try files.weights("vae")
        do {
            vae = try AutoencoderKLModel(configurationJSON: vaeConfig, weightFiles: vaeFiles, description: files.describe("vae"), loading: loading)
        } catch { throw .model(error) }
        let schedulerURL = try files.component("scheduler").appendingPathComponent("scheduler_config.json")
        do { schedulerConfig = try SchedulerConfig.load(contentsOf: schedulerURL) } catch { throw .scheduler(error) }
        forceZerosForEmptyPrompt = files.modelIndexFlag("force_zeros_for_empty_prompt") ?? true
    }

    /// Runs a request to the end, reporting each step to `onEvent` and stopping between steps when
    /// `isCancelled` says so.
    public func generate(_ request: GenerationRequest, onEvent: (GenerationEvent) -> Void = { _ in },
                         isCancelled: () -> Bool = { false }) throws(PipelineError) -> GenerationResult {
        let applied = try prepareLoRAs(for: request)
        var plan = try GenerationPlan(pipeline: self, request: request)
        try checkDecoder(for: request)
        var generator = TorchGenerator(seed: request.seed)
        var scheduler = try plan.makeScheduler()
        var latents = try plan.initialLatents(scheduler: &scheduler, generator: &generator)
        let total = scheduler.timesteps.count - scheduler.stepIndex
        let previews = try previewRenderer(for: request, scheduler: scheduler)
        var done = 0
        while let t = scheduler.currentTimestep {
            if isCancelled() { throw .cancelled }
            let prediction = try plan.predictNoise(latents: latents, timestep: t, scheduler: scheduler)
            let denoised = try previews?.denoisedIfDue(step: done + 1, of: total, latents: latents, prediction: prediction, scheduler: scheduler)
            do { latents = try scheduler.step(modelOutput: prediction, sample: latents, random: &generator) } catch {
                throw .scheduler(error)
            }
            latents = try plan.afterStep(latents, scheduler: scheduler)
            done += 1
            onEvent(.step(index: done, count: total, timestep: t))
            if let denoised, let previews { onEvent(.preview(try previews.render(denoised, step: done, count: total))) }
        }
        var result = request.decoder == .vae ? try plan.decode(latents) : try decodeWithTinyAutoencoder(latents)
        result.loras = applied.loras
        result.notes = applied.notes
        onEvent(.finished(result))
        return result
    }

    /// The run as an asynchronous sequence of events: steps as they finish, then the result. Cancelling the
    /// consuming task stops the run between two steps.
    public func events(_ request: GenerationRequest) -> AsyncThrowingStream<GenerationEvent, Error> {
        AsyncThrowingStream { continuation in
            let task = Task.detached { [self] in
                do {
                    _ = try self.generate(request, onEvent: { continuation.yield($0) }, isCancelled: { Task.isCancelled })
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
