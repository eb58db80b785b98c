import Foundation

/// The per-request state of a generation: the conditioning as the UNet takes it (negative and positive halves
/// stacked for classifier-free guidance), sizes, and the steps of diffusers' `__call__`.
struct GenerationPlan {
    let pipeline: DiffusionPipeline
    let request: GenerationRequest
    let batch: Int
    let latentHeight: Int
    let latentWidth: Int
    /// Classifier-free guidance runs (scale > 1 and the UNet is not LCM-distilled), as diffusers decides.
    let guided: Bool
    /// `[2B or B, S, D]`.
    let context: Tensor
    let added: UNetAddedConditions?
    let timestepCondition: Tensor?
    /// The memory the run's stages need, and whether the VAE runs in tiles.
    let memory: MemoryPlan
    /// Inpainting runs: the mask and latents the steps need (set by ``initialLatents(scheduler:generator:)``).
    var inpainting: InpaintingState?

    init(pipeline: DiffusionPipeline, request r: GenerationRequest) throws(PipelineError) {
        self.pipeline = pipeline
        self.request = r
        let config = pipeline.unet.configuration
        let factor = pipeline.vae.downscaleFactor
        let defaultSide = (config.sampleSize ?? 64) * factor
        let width = r.width ?? r.initImage?.shape.last ?? defaultSide
        let height = r.height ?? (r.initImage.map { $0.shape[2] }) ?? defaultSide
        guard width > 0, height > 0, width % factor == 0, height % factor == 0 else {
            throw .invalidRequest("size \(width)×\(height) is not a positive multiple of \(factor)")
        }
        guard width <= GenerationRequest.maximumSide, height <= GenerationRequest.maximumSide else {
            throw .invalidRequest("size \(width)×\(height) is over \(GenerationRequest.maximumSide) pixels on a side")
        }
        if let image = r.initImage {
            guard image.rank == 4, image.shape[0] == 1, image.shape[1] == 3 else {
                throw .invalidRequest("the init image must be [1, 3, H, W], got \(image.shape)")
            }
            guard image.shape[2] == height, image.shape[3] == width else {
                throw .invalidRequest("the init image is \(image.shape[3])×\(image.shape[2]) but \(width)×\(height) was asked for")
            }
        }
        let latentChannels = pipeline.vae.configuration.latentChannels
        if let mask = r.mask {
            try InpaintingState.validate(mask: mask, image: r.initImage, unetChannels: config.inChannels, latentChannels: latentChannels)
        } else if config.inChannels != latentChannels {
            throw .invalidRequest("this UNet takes \(config.inChannels) input channels (an inpainting model): give an init image and a mask")
        }
        guard r.steps > 0, r.steps <= 1000 else { throw .invalidRequest("steps \(r.steps) outside 1…1000") }
        guard r.batchSize > 0, r.batchSize <= 64 else { throw .invalidRequest("batch size \(r.batchSize) outside 1…64") }
        guard r.guidanceScale.isFinite, r.guidanceRescale.isFinite else { throw .invalidRequest("guidance scale is not finite") }
        batch = r.batchSize
        latentHeight = height / factor
        latentWidth = width / factor
        guided = r.guidanceScale > 1 && config.timeCondProjDim == nil
        let vae = pipeline.vae
        memory = try MemoryPlan.make(width: width, height: height, batch: batch, rows: (guided ? 2 : 1) * batch,
                                     factor: factor, vaeChannels: vae.configuration.blockOutChannels.first ?? 128,
                                     vaeTileSide: vae.tileSampleSize, unetChannels: config.blockOutChannels.first ?? 320,
                                     tiling: r.vaeTiling, usesVAE: r.decoder == .vae || r.initImage != nil)

        let pair: PromptPairConditioning
        do { pair = try pipeline.promptEncoder.encode(prompt: r.prompt, negativePrompt: r.negativePrompt, clipSkip: r.clipSkip) } catch {
            throw .text(error)
        }
        let zeroNegative = pipeline.isSDXL && pipeline.forceZerosForEmptyPrompt && r.negativePrompt.isEmpty
        let positive = pair.positive.hiddenStates.scalars
        let negative = zeroNegative ? [Float](repeating: 0, count: positive.count) : pair.negative.hiddenStates.scalars
        let tokens = pair.positive.hiddenStates.shape[0], width2 = pair.positive.hiddenStates.shape[1]
        let halves = guided ? [negative, positive] : [positive]
        var values: [Float] = []
        for half in halves { for _ in 0..<batch { values += half } }
        do { context = try Tensor(shape: [halves.count * batch, tokens, width2], scalars: values) } catch { throw .tensor(error) }

        if pipeline.isSDXL {
            guard let pooled = pair.positive.pooled?.scalars else { throw .invalidRequest("the SDXL text encoder gave no pooled output") }
            let negativePooled = zeroNegative ? [Float](repeating: 0, count: pooled.count) : (pair.negative.pooled?.scalars ?? pooled)
            let ids = try Self.timeIDs(request: r, width: width, height: height, pooledWidth: pooled.count, unet: config)
            var embeds: [Float] = [], times: [Float] = []
            for (half, halfIDs) in (guided ? [(negativePooled, ids.negative), (pooled, ids.positive)] : [(pooled, ids.positive)]) {
                for _ in 0..<batch { embeds += half; times += halfIDs }
            }
            let rows = (guided ? 2 : 1) * batch
            do {
                added = UNetAddedConditions(textEmbeds: try Tensor(shape: [rows, pooled.count], scalars: embeds),
                                            timeIds: try Tensor(shape: [rows, ids.positive.count], scalars: times))
            } catch { throw .tensor(error) }
        } else {
            added = nil
        }
        if let dimension = config.timeCondProjDim {
            do {
                timestepCondition = try GuidanceEmbedding.embed(
                    guidanceScaleMinusOne: [Float](repeating: r.guidanceScale - 1, count: batch), dimension: dimension)
            } catch { throw .model(error) }
        } else {
            timestepCondition = nil
        }
    }

    /// SDXL's `add_time_ids` for the prompt and the negative: original size, crop corner and target size
    /// (each `(height, width)` / `(top, left)`), or for refiners, whose UNet was trained on five ids
    /// (`requires_aesthetics_score`), original size, crop and the aesthetic score.
    static func timeIDs(request r: GenerationRequest, width: Int, height: Int, pooledWidth: Int,
                        unet config: UNetConfiguration) throws(PipelineError) -> (positive: [Float], negative: [Float]) {
        let original = r.originalSize ?? (width, height)
        let target = r.targetSize ?? (width, height)
        let head: [Float] = [Float(original.height), Float(original.width), Float(r.cropTopLeft.top), Float(r.cropTopLeft.left)]
        let timeWidth = config.additionTimeEmbedDim ?? 256
        let expected = config.projectionClassEmbeddingsInputDim ?? (6 * timeWidth + pooledWidth)
        switch (expected - pooledWidth) {
        case 6 * timeWidth:
            let ids = head + [Float(target.height), Float(target.width)]
            return (ids, ids)
        case 5 * timeWidth:
            return (head + [Float(r.aestheticScore)], head + [Float(r.negativeAestheticScore)])
        default:
            throw .invalidRequest("the UNet's added embedding takes \(expected) values, which fits neither 6 nor 5 time ids of width \(timeWidth) beside \(pooledWidth) pooled values")
        }
    }

    func makeScheduler() throws(PipelineError) -> any Scheduler {
        let steps = ScheduleRequest(steps: request.steps)
        if let name = request.scheduler {
            do { return try SchedulerRegistry.makeScheduler(named: name, config: pipeline.schedulerConfig, request: steps) } catch {
                throw .scheduler(error)
            }
        }
        let className = pipeline.schedulerConfig.className ?? "PNDMScheduler"
        guard let kind = SchedulerKind(rawValue: className) else {
            throw .invalidRequest("the model's scheduler \(className) is not in the zoo; name one")
        }
        do { return try kind.make(config: pipeline.schedulerConfig, request: steps) } catch { throw .scheduler(error) }
    }

    /// txt2img: `randn · init_noise_sigma`. img2img: the image's latent sample (first draw), noised to the
    /// start of the shortened schedule with a second draw, as diffusers' img2img pipeline draws them.
    /// Inpainting: see ``InpaintingState``.
    mutating func initialLatents(scheduler: inout any Scheduler, generator: inout TorchGenerator) throws(PipelineError) -> Tensor {
        if let mask = request.mask, let image = request.initImage {
            let (latents, state) = try InpaintingState.start(plan: self, image: image, mask: mask, scheduler: &scheduler,
                                                             generator: &generator)
            inpainting = state
            return latents
        }
        let shape = [batch, pipeline.unet.configuration.outChannels, latentHeight, latentWidth]
        guard let image = request.initImage else {
            do { return try generator.randn(shape) * scheduler.initNoiseSigma } catch { throw .random(error) }
        }
        let begin: Int
        do { begin = try scheduler.img2imgBeginIndex(strength: request.strength) } catch { throw .scheduler(error) }
        guard begin < scheduler.timesteps.count else { throw .invalidRequest("strength \(request.strength) leaves no step to run") }
        scheduler.setBeginIndex(begin)
        do {
            let distribution = try pipeline.vae.encode(image, tiled: memory.tiled)
            let sample = try distribution.sample(noise: try generator.randn(distribution.mean.shape))
            let scaled = try ModelError.wrapping { try ModelOps.affine(sample, scale: pipeline.vae.configuration.scalingFactor, shift: 0) }
            let one = scaled.scalars
            var repeated: [Float] = []
            for _ in 0..<batch { repeated += one }
            let clean = try Tensor(shape: shape, scalars: repeated)
            let noise = try generator.randn(shape)
            return scheduler.addNoise(original: clean, noise: noise, atIndex: begin)
        } catch { throw PipelineError(layerError: error) }
    }

    /// The model output the scheduler steps with: one batched UNet call, guided and rescaled as diffusers does.
    func predictNoise(latents: Tensor, timestep t: Float, scheduler: any Scheduler) throws(PipelineError) -> Tensor {
        do {
            let input = guided ? try Tensor(shape: [2 * latents.shape[0]] + latents.shape.dropFirst(), scalars: latents.scalars + latents.scalars) : latents
            let scaled = try inpainting?.unetInput(scheduler.scaleModelInput(input)) ?? scheduler.scaleModelInput(input)
            let step = try Tensor(shape: [], scalars: [t])
            let output = try pipeline.unet(sample: scaled, timestep: step, context: context, added: added,
                                           timestepCondition: timestepCondition)
            guard guided else { return output }
            let halves = try output.chunked(2, axis: 0)
            return try Guidance.combine(unconditional: halves[0].contiguous(), conditional: halves[1].contiguous(),
                                        scale: request.guidanceScale, rescale: request.guidanceRescale)
        } catch { throw PipelineError(layerError: error) }
    }

    /// What follows each scheduler step: inpainting with a standard UNet puts the kept region back.
    func afterStep(_ latents: Tensor, scheduler: any Scheduler) throws(PipelineError) -> Tensor {
        guard let inpainting else { return latents }
        do { return try inpainting.blend(latents, scheduler: scheduler) } catch { throw .tensor(error) }
    }

    func decode(_ latents: Tensor) throws(PipelineError) -> GenerationResult {
        do {
            let c = pipeline.vae.configuration
            let z = try ModelError.wrapping { try ModelOps.affine(latents, scale: 1 / c.scalingFactor, shift: c.shiftFactor) }
            let decoded = try pipeline.vae.decode(z, tiled: memory.tiled)
            let images = try ModelError.wrapping { try ModelOps.map(decoded) { Swift.min(Swift.max($0 / 2 + 0.5, 0), 1) } }
            return GenerationResult(latents: latents, images: images, rgbImages: try ImageProcessor.images(from: decoded))
        } catch { throw PipelineError(layerError: error) }
    }
}

/// Classifier-free guidance as diffusers computes it: `u + s·(c − u)`, then with `guidance_rescale` the
/// std-matching of "Common Diffusion Noise Schedules and Sample Steps are Flawed" (std over all but the batch
/// axis, unbiased, as torch's `std`).
enum Guidance {
    static func combine(unconditional u: Tensor, conditional c: Tensor, scale: Float, rescale: Float) throws -> Tensor {
        let uv = u.scalars, cv = c.scalars
        var g = [Float](repeating: 0, count: uv.count)
        for i in g.indices { g[i] = uv[i] + scale * (cv[i] - uv[i]) }
        if rescale > 0 {
            let batch = u.shape[0], per = uv.count / batch
            for n in 0..<batch {
                let range = (n * per)..<((n + 1) * per)
                let ratio = std(cv[range]) / std(g[range])
                for i in range { g[i] = rescale * (g[i] * ratio) + (1 - rescale) * g[i] }
            }
        }
        return try Tensor(shape: u.shape, scalars: g)
    }

    static func std(_ x: ArraySlice<Float>) -> Float {
        guard x.count > 1 else { return 0 }
        let mean = x.reduce(Double(0)) { $0 + Double($1) } / Double(x.count)
        let variance = x.reduce(Double(0)) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(x.count - 1)
        return Float(variance.squareRoot())
    }
}
