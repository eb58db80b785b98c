/// What an inpainting run carries from its start to its steps, as diffusers' `StableDiffusionInpaintPipeline`
/// (0.42.1) builds it.
///
/// - A 9-channel inpainting UNet reads, beside the scaled latents, the mask at latent size and the latents of
///   the picture with the repainted region blanked (`image · (mask < 0.5)`), concatenated along the channels.
/// - A standard 4-channel UNet sees only the latents; after every step the kept region is replaced by the
///   picture's latents re-noised to the next step's level with the run's starting noise (clean after the last
///   step): `(1 − m) · add_noise(image, noise, t_next) + m · latents`.
///
/// The generator is drawn in diffusers' order: the picture's latent sample (when the UNet has 4 channels or the
/// strength is below 1), the starting noise, then the masked picture's latent sample (drawn even for a 4-channel
/// UNet, which does not use it, so that a stochastic scheduler's later draws stay in step).
struct InpaintingState {
    /// `[B, 1, h, w]`: the mask at latent size, nearest-neighbour (`F.interpolate`'s default mode).
    let mask: Tensor
    /// 9-channel UNets: `[B, 4, h, w]`, the scaled latents of the masked picture.
    let maskedImageLatents: Tensor?
    /// 4-channel UNets: `[B, 4, h, w]`, the picture's scaled latents and the run's starting noise.
    let imageLatents: Tensor?
    let noise: Tensor?

    /// Checks the request's mask against its init image and the UNet.
    static func validate(mask: Tensor, image: Tensor?, unetChannels: Int, latentChannels: Int) throws(PipelineError) {
        guard let image else { throw .invalidRequest("a mask needs an init image to inpaint") }
        guard mask.rank == 4, mask.shape[0] == 1, mask.shape[1] == 1 else {
            throw .invalidRequest("the mask must be [1, 1, H, W], got \(mask.shape)")
        }
        guard mask.shape[2] == image.shape[2], mask.shape[3] == image.shape[3] else {
            throw .invalidRequest("the mask is \(mask.shape[3])×\(mask.shape[2]) but the init image is \(image.shape[3])×\(image.shape[2])")
        }
        guard mask.scalars.allSatisfy({ $0.isFinite }) else { throw .invalidRequest("the mask has non-finite values") }
        guard unetChannels == latentChannels || unetChannels == 2 * latentChannels + 1 else {
            throw .invalidRequest("inpainting needs a UNet with \(latentChannels) or \(2 * latentChannels + 1) input channels, this one has \(unetChannels)")
        }
    }

    /// diffusers' `prepare_latents` + `prepare_mask_latents`: the starting latents and the state of the run.
    static func start(plan: GenerationPlan, image: Tensor, mask: Tensor, scheduler: inout any Scheduler,
                      generator: inout TorchGenerator) throws(PipelineError) -> (latents: Tensor, state: InpaintingState) {
        let pipeline = plan.pipeline
        let latentChannels = pipeline.vae.configuration.latentChannels
        let standard = pipeline.unet.configuration.inChannels == latentChannels
        let shape = [plan.batch, latentChannels, plan.latentHeight, plan.latentWidth]
        let begin: Int
        do { begin = try scheduler.img2imgBeginIndex(strength: plan.request.strength) } catch { throw .scheduler(error) }
        guard begin < scheduler.timesteps.count else { throw .invalidRequest("strength \(plan.request.strength) leaves no step to run") }
        scheduler.setBeginIndex(begin)
        let fullStrength = plan.request.strength == 1
        do {
            var imageLatents: Tensor?
            if standard || !fullStrength {
                imageLatents = try repeated(try encode(image, pipeline: pipeline, tiled: plan.memory.tiled, generator: &generator), batch: plan.batch)
            }
            let noise = try generator.randn(shape)
            let latents: Tensor
            if fullStrength {
                latents = noise * scheduler.initNoiseSigma
            } else if let imageLatents {
                latents = scheduler.addNoise(original: imageLatents, noise: noise, atIndex: begin)
            } else {
                throw PipelineError.invalidRequest("no image latents to noise")
            }
            // The mask processor binarises whatever it is given (`do_binarize`), tensors included.
            let binary = mask.map { $0 < 0.5 ? 0 : 1 }
            let small = try downsampled(binary, height: plan.latentHeight, width: plan.latentWidth)
            let keep = try masked(image, by: binary)
            let maskedLatents: Tensor?
            if standard {
                // Unused by a 4-channel UNet, but diffusers draws the masked picture's latent sample all the same.
                _ = try generator.randn([1, latentChannels, plan.latentHeight, plan.latentWidth])
                maskedLatents = nil
            } else {
                maskedLatents = try repeated(try encode(keep, pipeline: pipeline, tiled: plan.memory.tiled, generator: &generator), batch: plan.batch)
            }
            let state = InpaintingState(mask: try repeated(small, batch: plan.batch), maskedImageLatents: maskedLatents,
                                        imageLatents: standard ? imageLatents : nil, noise: standard ? noise : nil)
            return (latents, state)
        } catch { throw PipelineError(layerError: error) }
    }

    /// The UNet's input: the scaled latents, then (9-channel UNets) the mask and the masked picture's latents,
    /// repeated for both halves of classifier-free guidance.
    func unetInput(_ scaled: Tensor) throws -> Tensor {
        guard let maskedImageLatents else { return scaled }
        let masks = try Self.repeated(mask, batch: scaled.shape[0])
        let images = try Self.repeated(maskedImageLatents, batch: scaled.shape[0])
        return try Ops.concatChannels([scaled, masks, images])
    }

    /// After a step on a 4-channel UNet: the kept region back from the picture, re-noised to the level of the
    /// scheduler's next model call (clean after the last).
    func blend(_ latents: Tensor, scheduler: any Scheduler) throws(TensorError) -> Tensor {
        guard let imageLatents, let noise else { return latents }
        let proper = scheduler.stepIndex < scheduler.timesteps.count
            ? scheduler.addNoise(original: imageLatents, noise: noise, atIndex: scheduler.stepIndex) : imageLatents
        let plane = mask.shape[2] * mask.shape[3], channels = latents.shape[1]
        let m = mask.scalars, p = proper.scalars, x = latents.scalars
        return try Tensor(shape: latents.shape) { out in
            for i in 0..<out.count {
                let n = i / (channels * plane), s = i % plane
                let w = m[n * plane + s]
                out[i] = (1 - w) * p[i] + w * x[i]
            }
        }
    }

    /// The VAE's latent sample of a picture (one draw of the generator), times the scaling factor.
    static func encode(_ image: Tensor, pipeline: DiffusionPipeline, tiled: Bool, generator: inout TorchGenerator) throws -> Tensor {
        let distribution = try pipeline.vae.encode(image, tiled: tiled)
        let sample = try distribution.sample(noise: try generator.randn(distribution.mean.shape))
        return try ModelError.wrapping { try ModelOps.affine(sample, scale: pipeline.vae.configuration.scalingFactor, shift: 0) }
    }

    /// `image · (mask < 0.5)`: the repainted region set to 0 (mid-gray in [−1, 1]).
    static func masked(_ image: Tensor, by mask: Tensor) throws -> Tensor {
        let plane = mask.shape[2] * mask.shape[3]
        let m = mask.scalars, x = image.scalars
        return try Tensor(shape: image.shape) { out in
            for i in 0..<out.count { out[i] = m[i % plane] < 0.5 ? x[i] : 0 }
        }
    }

    /// `F.interpolate(mask, size=(h, w))` in its default nearest mode: source index `⌊i · in / out⌋`, with the
    /// scale computed in float32 as torch does.
    static func downsampled(_ mask: Tensor, height: Int, width: Int) throws -> Tensor {
        let (inH, inW) = (mask.shape[2], mask.shape[3])
        let scaleH = Float(inH) / Float(height), scaleW = Float(inW) / Float(width)
        let m = mask.scalars
        return try Tensor(shape: [1, 1, height, width]) { out in
            for y in 0..<height {
                let sy = min(Int((Float(y) * scaleH).rounded(.down)), inH - 1)
                for x in 0..<width {
                    let sx = min(Int((Float(x) * scaleW).rounded(.down)), inW - 1)
                    out[y * width + x] = m[sy * inW + sx]
                }
            }
        }
    }

    /// `t.repeat(batch // t.shape[0], 1, 1, 1)`: the whole tensor repeated along the batch (also what
    /// `torch.cat([t] * 2)` gives for the two halves of classifier-free guidance).
    static func repeated(_ t: Tensor, batch: Int) throws -> Tensor {
        guard batch != t.shape[0] else { return t }
        let one = t.scalars
        var values: [Float] = []
        values.reserveCapacity(one.count * batch / t.shape[0])
        for _ in 0..<(batch / t.shape[0]) { values += one }
        return try Tensor(shape: [batch] + t.shape.dropFirst(), scalars: values)
    }
}
