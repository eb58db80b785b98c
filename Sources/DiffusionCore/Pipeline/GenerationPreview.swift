import Foundation

/// How a step preview was drawn.
public enum PreviewMethod: String, Sendable, Equatable {
    /// The tiny autoencoder (TAESD) decoded the denoised estimate: a full-size picture.
    case tinyAutoencoder
    /// The family's linear latent→RGB map (``LatentPreviewFactors``) over the denoised estimate: one pixel per
    /// latent pixel (1/8 of the final size for SD).
    case latentApproximation
}

/// A look at the picture so far: the denoised estimate x̂₀ of the step (what ComfyUI and InvokeAI preview),
/// one picture per batch entry.
public struct GenerationPreview: Sendable, Equatable {
    /// The step (from 1) this preview follows.
    public var step: Int
    public var count: Int
    public var method: PreviewMethod
    public var images: [RGBImage]
}

/// Makes the step previews of one run: when one is due, the denoised estimate from the step's model output,
/// then pictures of it with the tiny autoencoder if one is loaded, else the latent→RGB approximation.
struct PreviewRenderer {
    let every: Int
    let schedule: NoiseSchedule
    let predictionType: PredictionType
    let tiny: AutoencoderTinyModel?
    let factors: LatentPreviewFactors

    init(every: Int, settings: SchedulerSettings, tiny: AutoencoderTinyModel?, factors: LatentPreviewFactors) {
        self.every = every
        self.schedule = NoiseSchedule(settings: settings, terminalAlphaCumprodFloor: true)
        self.predictionType = settings.predictionType
        self.tiny = tiny
        self.factors = factors
    }

    /// Previews follow every `every`-th step and the last one.
    func isDue(step: Int, of count: Int) -> Bool { step % every == 0 || step == count }

    /// x̂₀ before the scheduler steps, when a preview is due after this step. The model input
    /// `scaleModelInput(x)` is in DDPM space (`√ᾱ·x₀ + √(1−ᾱ)·ε`) for every scheduler of the zoo; ᾱ comes from
    /// the scheduler's σ at this call (`ᾱ = 1/(1+σ²)`) where it has a σ grid, else from the training table.
    func denoisedIfDue(step: Int, of count: Int, latents: Tensor, prediction: Tensor, scheduler: any Scheduler) throws(PipelineError) -> Tensor? {
        guard isDue(step: step, of: count) else { return nil }
        guard prediction.shape == latents.shape else {
            throw .invalidRequest("model output \(prediction.shape) for latents \(latents.shape)")
        }
        let index = scheduler.stepIndex
        let alphaCumprod: Float
        if index < scheduler.sigmas.count {
            let sigma = scheduler.sigmas[index]
            alphaCumprod = 1 / (1 + sigma * sigma)
        } else {
            alphaCumprod = schedule.alphaCumprod(at: Int(scheduler.timesteps[index].rounded()))
        }
        let input = scheduler.scaleModelInput(latents)
        return Prediction.originalAndEpsilon(prediction, sample: input, alphaCumprod: alphaCumprod, type: predictionType).x0
    }

    func render(_ denoised: Tensor, step: Int, count: Int) throws(PipelineError) -> GenerationPreview {
        if let tiny {
            do {
                return GenerationPreview(step: step, count: count, method: .tinyAutoencoder, images: try tiny.decodeToImages(denoised).rgb)
            } catch { throw PipelineError(layerError: error) }
        }
        var images: [RGBImage] = []
        for index in 0..<denoised.shape[0] {
            do { images.append(try LatentPreview.image(from: denoised, index: index, factors: factors)) } catch { throw .image(error) }
        }
        return GenerationPreview(step: step, count: count, method: .latentApproximation, images: images)
    }
}
