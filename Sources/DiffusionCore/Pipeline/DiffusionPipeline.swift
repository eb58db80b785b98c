import Foundation
import LoRAKit

/// A Stable Diffusion pipeline (SD 1.x, SD 2.x, SDXL; LCM-distilled UNets too) loaded once and run for many
/// requests: txt2img and img2img with classifier-free guidance, any scheduler of the zoo, and torch's CPU
/// generator for the noise, so a seed gives diffusers' numbers.
///
/// It loads a diffusers folder (variant and sharded weights by LoRAKit's model layer) or a single-file SD 1.x /
/// SD 2.x / SDXL checkpoint in original LDM/SGM names, its architecture told from the tensor shapes
/// (see ``init(contentsOf:options:)``). Weights stay mapped.
///
/// ```swift
/// let pipeline = try DiffusionPipeline(contentsOf: URL(fileURLWithPath: "models/sd15"))
/// let result = try pipeline.generate(GenerationRequest(prompt: "a photo of an astronaut", steps: 25, seed: 42))
/// ```
///
/// ## Sharing one pipeline
///
/// A pipeline may be used from several threads or tasks at once. Runs (``generate(_:onEvent:isCancelled:)``,
/// ``events(_:)``) and changes of its LoRAs or tiny autoencoder (``fuse(_:)``, ``setLoRAs(_:)``,
/// ``setTinyAutoencoder(_:path:)``) take turns: concurrent calls **queue** and are served one at a time in
/// arrival order, each with exactly the result it would have had alone — a run's LoRA set stays applied until it
/// has finished, whatever other callers ask for meanwhile. The same calls made from inside a run on the same
/// pipeline (from its `onEvent` or `isCancelled` callback, on the run's thread) would change the running job or
/// wait for themselves: they throw ``PipelineError/calledDuringOwnRun(operation:)`` at once and change nothing
/// (make them after the run returns, or from another thread, where they queue). A queued run whose `isCancelled` turns true (or
/// whose ``events(_:)`` consumer is cancelled) leaves the queue within about 10 ms with
/// ``PipelineError/cancelled``, without waiting for the run ahead of it. Settings (``loraApplication``,
/// ``loraLibrary``, ``releasesWeightPagesBeforeDecode``) and the read-only properties may be used at any time;
/// a setting changed during a run takes effect at the next. ``generate(_:onEvent:isCancelled:)`` is synchronous:
/// a call waiting for its turn blocks its thread, so from async code prefer ``events(_:)``, which runs and waits
/// on a thread of its own. To run generations in parallel, load one pipeline per concurrent run (the weights are
/// mapped, so the page cache holds them once).
public final class DiffusionPipeline: @unchecked Sendable {
    /// The folder or file loaded.
    public let url: URL
    /// The folder or file loaded (``url``).
    public var folder: URL { url }
    /// What runs and LoRA changes may change, read and written under a short lock.
    let state: LockedValue<PipelineState>
    /// Makes runs and LoRA-set changes take turns (see "Sharing one pipeline").
    let runLock = PipelineRunLock()
    /// The prompt encoder as generation runs it: the text encoder(s) with the active LoRAs fused in, and the
    /// embeddings those LoRAs carry.
    public internal(set) var promptEncoder: PromptEncoder {
        get { state.read { $0.promptEncoder } }
        set { state.withLock { $0.promptEncoder = newValue } }
    }
    /// The UNet as generation runs it: the mapped weights, with the active LoRAs fused into the layers they patch.
    public internal(set) var unet: UNetModel {
        get { state.read { $0.unet } }
        set { state.withLock { $0.unet = newValue } }
    }
    /// The pipeline's own LoRAs (see ``setLoRAs(_:)``), fused into every request before the request's own.
    public internal(set) var loras: [PipelineLoRA] {
        get { state.read { $0.loras } }
        set { state.withLock { $0.loras = newValue } }
    }
    /// Where `<lora:NAME:W>` prompt tags and ``GenerationRequest`` LoRA names are looked up: by default
    /// `$LORAKIT_HOME/loras`, else `~/.lorakit/loras` (as `lora-tool merge` and `generate` look them up).
    public var loraLibrary: LoRALibrary {
        get { state.read { $0.loraLibrary } }
        set { state.withLock { $0.loraLibrary = newValue } }
    }
    /// Whether UNet LoRAs are fused into the weights (default) or run beside them (see ``LoRAApplication``);
    /// takes effect at the next change of the LoRA set.
    public var loraApplication: LoRAApplication {
        get { state.read { $0.loraApplication } }
        set { state.withLock { $0.loraApplication = newValue } }
    }
    /// What each weight component was built from: the model layer's tensors (what LoRAs fuse against) and config.
    let sources: PipelineSources
    let loading: WeightLoading
    let unetFusionSource: FusionSource
    let tokenizers: [CLIPTokenizer]
    /// The text encoders as loaded (what LoRA-fused encoders are derived from).
    let originalTextEncoders: [CLIPTextEncoder]
    let textEncoderFusionSources: [FusionSource]
    /// The weight-holding parts this pipeline has.
    let partsPresent: Set<ModelPart>
    /// The set fused now.
    var fusion: Fusion? {
        get { state.read { $0.fusion } }
        set { state.withLock { $0.fusion = newValue } }
    }
    /// How many times a LoRA set was fused (a set equal to the fused one is not fused again).
    var fusionCount: Int {
        get { state.read { $0.fusionCount } }
        set { state.withLock { $0.fusionCount = newValue } }
    }
    /// How many times a LoRA set change built a UNet / a text encoder with fused weights (one that fuses every
    /// parameter as the set before did builds none).
    var unetBuildCount: Int {
        get { state.read { $0.unetBuildCount } }
        set { state.withLock { $0.unetBuildCount = newValue } }
    }
    var textEncoderBuildCount: Int {
        get { state.read { $0.textEncoderBuildCount } }
        set { state.withLock { $0.textEncoderBuildCount = newValue } }
    }
    public let vae: AutoencoderKLModel
    /// Whether a run lets the mapped pages of the text-encoder weights go once the prompts are encoded, and those
    /// of the UNet before it decodes (default on): the denoising loop and the decode's full-size activations then
    /// do not add to weights they no longer use, which sets the peak memory of a run (SDXL at 1024×1024 above
    /// all). The next run maps the pages in again from the page cache.
    public var releasesWeightPagesBeforeDecode: Bool {
        get { state.read { $0.releasesWeightPagesBeforeDecode } }
        set { state.withLock { $0.releasesWeightPagesBeforeDecode = newValue } }
    }
    /// A tiny autoencoder (TAESD) for previews and, on request, the final decode; see ``loadTinyAutoencoder(folder:loading:)``.
    public internal(set) var tinyAutoencoder: AutoencoderTinyModel? {
        get { state.read { $0.tinyAutoencoder } }
        set { state.withLock { $0.tinyAutoencoder = newValue } }
    }
    /// The model's scheduler configuration (`scheduler/scheduler_config.json`, or the family's built-in one).
    public let schedulerConfig: SchedulerConfig
    /// SDXL pipelines encode an empty negative prompt as zeros (`force_zeros_for_empty_prompt`, on by default).
    public let forceZerosForEmptyPrompt: Bool
    /// What was read: weight files, variant, shards, and which configurations came from the model and which
    /// from built-in family tables.
    public let loadReport: ModelLoadReport

    /// Whether this is an SDXL pipeline (two text encoders, `text_time` UNet conditioning).
    public var isSDXL: Bool { promptEncoder.isSDXL }

    /// Loads every component of a diffusers pipeline folder; weights stay mapped.
    public convenience init(folder: URL, loading: WeightLoading = .keepHalfPrecision) throws(PipelineError) {
        try self.init(contentsOf: folder, options: ModelLoadOptions(loading: loading))
    }

    /// Loads a model: a diffusers pipeline folder (`model_index.json`; the weight variant and shards chosen by
    /// LoRAKit's model layer), or a single-file SD 1.x / SD 2.x / SDXL checkpoint (`.safetensors` in LDM/SGM
    /// names) whose architecture is told from its tensor shapes, with tokenizers and scheduler from the family's
    /// built-in configuration (or from ``ModelLoadOptions/configFolder``). Pickles (`.ckpt`, `.pt`, `.bin`,
    /// `.pth`) are refused. ``loadReport`` says what was read.
    public init(contentsOf url: URL, options: ModelLoadOptions = ModelLoadOptions()) throws(PipelineError) {
        self.url = url
        let bundle: ModelBundle
        do { bundle = try ModelBundle.open(url, options: .init(variant: options.variant)) } catch { throw .modelFile(error) }
        let sources = try PipelineSources.load(bundle, options: options)
        self.sources = sources
        loading = options.loading
        var encoders: [CLIPTextEncoder] = []
        for source in sources.textEncoders {
            do { encoders.append(try CLIPTextEncoder(config: source.config, tensors: source.tensors)) } catch { throw .text(error) }
        }
        let promptEncoder: PromptEncoder
        do { promptEncoder = try PromptEncoder(tokenizers: sources.tokenizers, encoders: encoders) } catch { throw .text(error) }
        tokenizers = sources.tokenizers
        originalTextEncoders = encoders
        textEncoderFusionSources = sources.textEncoders.map { FusionSource(part: $0.part, tensors: $0.tensors) }
        partsPresent = Set([.unet] + sources.textEncoders.map(\.part))
        unetFusionSource = FusionSource(part: .unet, tensors: sources.unetTensors)
        let unet: UNetModel
        do {
            unet = try UNetModel(configuration: sources.unetConfig, tensors: sources.unetTensors, description: sources.unetDescription,
                                 loading: options.loading)
            vae = try AutoencoderKLModel(configuration: sources.vaeConfig, tensors: sources.vaeTensors,
                                         description: sources.vaeDescription, loading: options.loading)
        } catch { throw .model(error) }
        schedulerConfig = sources.schedulerConfig
        forceZerosForEmptyPrompt = sources.forceZerosForEmptyPrompt
        loadReport = sources.report
        state = LockedValue(PipelineState(promptEncoder: promptEncoder, unet: unet))
    }

    /// Runs a request to the end, reporting each step to `onEvent` and stopping between steps when
    /// `isCancelled` says so. Concurrent calls on one pipeline queue (see "Sharing one pipeline"); a call still
    /// waiting for its turn when `isCancelled` says so throws ``PipelineError/cancelled`` without running.
    public func generate(_ request: GenerationRequest, onEvent: (GenerationEvent) -> Void = { _ in },
                         isCancelled: () -> Bool = { false }) throws(PipelineError) -> GenerationResult {
        try exclusively("generate", isCancelled: isCancelled) { () throws(PipelineError) -> GenerationResult in
            try run(request, onEvent: onEvent, isCancelled: isCancelled)
        }
    }

    /// Runs `body` holding the pipeline's turn (waiting for it in the queue of callers).
    /// - Parameter operation: the public call, as ``PipelineError/calledDuringOwnRun(operation:)`` names it.
    /// - Throws: ``PipelineError/cancelled`` when `isCancelled` says so while waiting;
    ///   ``PipelineError/calledDuringOwnRun(operation:)`` when the calling thread holds the turn already (a call
    ///   from a run's own callbacks); what `body` throws.
    func exclusively<T>(_ operation: String, isCancelled: () -> Bool = { false },
                        _ body: () throws(PipelineError) -> T) throws(PipelineError) -> T {
        switch runLock.acquire(isCancelled: isCancelled) {
        case .acquired: break
        case .cancelled: throw .cancelled
        case .heldByCaller: throw .calledDuringOwnRun(operation: operation)
        }
        defer { runLock.release() }
        return try body()
    }

    /// One run, the pipeline's turn held.
    private func run(_ request: GenerationRequest, onEvent: (GenerationEvent) -> Void,
                     isCancelled: () -> Bool) throws(PipelineError) -> GenerationResult {
        let applied = try prepareLoRAs(for: request)
        var plan = try GenerationPlan(pipeline: self, request: request)
        let releasesPages = releasesWeightPagesBeforeDecode  // one reading per run
        if releasesPages { releaseTextEncoderWeightPages() }
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
        if releasesPages { releaseDenoisingWeightPages() }
        var result = request.decoder == .vae ? try plan.decode(latents) : try decodeWithTinyAutoencoder(latents)
        result.loras = applied.loras.map(\.lora)
        result.appliedLoRAs = applied.loras
        result.notes = applied.notes
        if plan.memory.tiled, request.decoder == .vae, plan.memory.tiledVAEBytes < plan.memory.wholeImageVAEBytes {
            result.notes.append("the VAE ran in tiles (a whole-image pass needs about "
                                + "\(MemoryPlan.gigabytes(plan.memory.wholeImageVAEBytes)))")
        }
        onEvent(.finished(result))
        return result
    }

    /// The run as an asynchronous sequence of events: steps as they finish, then the result. Cancelling the
    /// consuming task stops the run between two steps, or takes it out of the queue when it is still waiting for
    /// its turn (see "Sharing one pipeline").
    ///
    /// The run (and its wait for its turn) happens on a thread of its own, not on the cooperative pool of Swift
    /// concurrency: a run queued behind another does not hold one of the pool's few threads while it waits.
    public func events(_ request: GenerationRequest) -> AsyncThrowingStream<GenerationEvent, Error> {
        AsyncThrowingStream { continuation in
            let cancelled = LockedValue(false)
            let thread = Thread { [self] in
                do {
                    _ = try self.generate(request, onEvent: { continuation.yield($0) }, isCancelled: { cancelled.read { $0 } })
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            thread.name = "DiffusionPipeline.events"
            thread.stackSize = 8 << 20
            continuation.onTermination = { _ in cancelled.withLock { $0 = true } }
            thread.start()
        }
    }
}

extension DiffusionPipeline {
    /// Drops the resident pages of the mapped UNet and text-encoder weights (LoRA-fused layers are not mapped and
    /// stay).
    func releaseDenoisingWeightPages() {
        sources.unetTensors.releasePages()
        releaseTextEncoderWeightPages()
    }

    /// Drops the resident pages of the mapped text-encoder weights once the prompts are encoded: the denoising
    /// loop does not need them.
    func releaseTextEncoderWeightPages() {
        for encoder in sources.textEncoders { encoder.tensors.releasePages() }
    }
}

/// What runs and LoRA changes may change in a pipeline.
struct PipelineState {
    var promptEncoder: PromptEncoder
    var unet: UNetModel
    var loras: [PipelineLoRA] = []
    var loraLibrary = LoRALibrary()
    var loraApplication: LoRAApplication = .fused
    var releasesWeightPagesBeforeDecode = true
    var tinyAutoencoder: AutoencoderTinyModel?
    var fusion: Fusion?
    var fusionCount = 0
    var unetBuildCount = 0
    var textEncoderBuildCount = 0
    /// LoRA files opened for prompt tags and request names, by path (so an unchanged set is not fused again).
    var openedLoRAs: [String: LoRAFile] = [:]
}
