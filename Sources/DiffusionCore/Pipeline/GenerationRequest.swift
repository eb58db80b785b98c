import LoRAKit

/// What one generation asks for. Defaults are diffusers' pipeline defaults where they have one.
public struct GenerationRequest: Sendable, Equatable {
    public var prompt: String
    public var negativePrompt: String
    /// The largest width or height a request may ask for (ComfyUI's `MAX_RESOLUTION`); larger is
    /// ``PipelineError/invalidRequest(_:)``.
    public static let maximumSide = 16384
    /// Image size in pixels (multiples of the VAE's factor, 8 for SD; at most ``maximumSide``). Nil: the UNet's
    /// `sample_size` × factor.
    public var width: Int?
    public var height: Int?
    public var steps: Int
    /// Any scheduler name of the zoo (InvokeAI id, A1111 label, diffusers class); nil keeps the model's own.
    public var scheduler: String?
    /// Classifier-free guidance scale; at ≤ 1 the unconditional pass is skipped, as diffusers does.
    public var guidanceScale: Float
    /// diffusers' `guidance_rescale` (0 = off).
    public var guidanceRescale: Float
    /// torch CPU generator seed: the same seed gives diffusers' starting noise.
    public var seed: UInt64
    /// Images per prompt (diffusers' `num_images_per_prompt`).
    public var batchSize: Int
    /// diffusers' `clip_skip` (nil: none; A1111's "Clip skip 2" is 1).
    public var clipSkip: Int?
    /// img2img and inpainting: the start image `[1, 3, H, W]` in [-1, 1] (``ImageProcessor/tensor(from:width:height:)``),
    /// and how much of the schedule to run over it.
    public var initImage: Tensor?
    public var strength: Double
    /// Inpainting: `[1, 1, H, W]` at the init image's size, 1 where the picture is repainted and 0 where it is
    /// kept (white = repaint, as A1111 and diffusers; ``ImageProcessor/maskTensor(from:width:height:)`` makes it
    /// from a picture). Values are binarised at 0.5, as diffusers' mask processor does. A 9-channel inpainting UNet takes the mask and the masked image's latents as extra
    /// channels; a standard UNet is run the diffusers way, the kept region re-noised from the image after each
    /// step. Needs ``initImage``.
    public var mask: Tensor?
    /// SDXL micro-conditioning: the size the picture is said to come from (nil: the generated size), the
    /// crop's top-left corner, and the size it is said to be shown at (nil: the generated size), as diffusers'
    /// `original_size`, `crops_coords_top_left` and `target_size`.
    public var originalSize: (width: Int, height: Int)?
    public var cropTopLeft: (top: Int, left: Int)
    /// What turns the final latents into images: the model's VAE (default) or the pipeline's tiny autoencoder
    /// (TAESD, see ``DiffusionPipeline/tinyAutoencoder``), much faster and a little softer.
    public var decoder: LatentDecoder = .vae
    /// Whole-image or tiled VAE passes (``VAETiling``); `.automatic` tiles only an image too large for the
    /// machine's memory at once.
    public var vaeTiling: VAETiling = .automatic
    /// A ``GenerationEvent/preview(_:)`` every this many steps (and at the last one); 0 (default) sends none.
    /// Previews come from the tiny autoencoder when the pipeline has one, else the family's latent→RGB map.
    public var previewEvery: Int = 0
    /// LoRAs for this request, fused after the pipeline's own and before the prompt's `<lora:…>` tags; the
    /// pipeline fuses again only when the whole set differs from the one fused.
    public var loras: [PipelineLoRA] = []
    /// The strength of a prompt-tag LoRA that gives none (`<lora:NAME>`) and has no A1111 preferred weight:
    /// 1, or the LCM recipe's 0.35 / 0.45 (``lcm(prompt:negativePrompt:seed:)`` sets it). For ``loras`` given
    /// here, ``DiffusionPipeline/lora(named:unetStrength:textEncoderStrength:recipe:)`` applies the same rule.
    public var loraRecipe: LoRAStrengthRecipe = .standard
    public var targetSize: (width: Int, height: Int)?
    /// SDXL refiners (`requires_aesthetics_score` in `model_index.json`) take these instead of the target size:
    /// diffusers' `aesthetic_score` (6) and `negative_aesthetic_score` (2.5).
    public var aestheticScore: Double
    public var negativeAestheticScore: Double

    public init(prompt: String, negativePrompt: String = "", width: Int? = nil, height: Int? = nil, steps: Int = 50,
                scheduler: String? = nil, guidanceScale: Float = 7.5, guidanceRescale: Float = 0, seed: UInt64 = 0,
                batchSize: Int = 1, clipSkip: Int? = nil, initImage: Tensor? = nil, strength: Double = 0.8,
                mask: Tensor? = nil, originalSize: (width: Int, height: Int)? = nil, cropTopLeft: (top: Int, left: Int) = (0, 0),
                targetSize: (width: Int, height: Int)? = nil, aestheticScore: Double = 6, negativeAestheticScore: Double = 2.5) {
        self.prompt = prompt
        self.negativePrompt = negativePrompt
        self.width = width
        self.height = height
        self.steps = steps
        self.scheduler = scheduler
        self.guidanceScale = guidanceScale
        self.guidanceRescale = guidanceRescale
        self.seed = seed
        self.batchSize = batchSize
        self.clipSkip = clipSkip
        self.initImage = initImage
        self.strength = strength
        self.mask = mask
        self.originalSize = originalSize
        self.cropTopLeft = cropTopLeft
        self.targetSize = targetSize
        self.aestheticScore = aestheticScore
        self.negativeAestheticScore = negativeAestheticScore
    }

    /// The LCM recipe (InvokeAI's and the LCM-LoRA authors' recommendation): LCM scheduler, 4 steps, CFG 1, and
    /// prompt-tag LoRAs without a strength at 0.35 for the LCM-LoRA and 0.45 for the others
    /// (``LoRAStrengthRecipe/lcm``).
    public static func lcm(prompt: String, negativePrompt: String = "", seed: UInt64 = 0) -> GenerationRequest {
        var request = GenerationRequest(prompt: prompt, negativePrompt: negativePrompt, steps: 4, scheduler: "lcm",
                                        guidanceScale: 1, seed: seed)
        request.loraRecipe = .lcm
        return request
    }

    public static func == (a: GenerationRequest, b: GenerationRequest) -> Bool {
        a.prompt == b.prompt && a.negativePrompt == b.negativePrompt && a.width == b.width && a.height == b.height
            && a.steps == b.steps && a.scheduler == b.scheduler && a.guidanceScale == b.guidanceScale
            && a.guidanceRescale == b.guidanceRescale && a.seed == b.seed && a.batchSize == b.batchSize
            && a.clipSkip == b.clipSkip && a.initImage == b.initImage && a.strength == b.strength
            && a.originalSize?.width == b.originalSize?.width && a.originalSize?.height == b.originalSize?.height
            && a.cropTopLeft == b.cropTopLeft && a.decoder == b.decoder && a.vaeTiling == b.vaeTiling && a.previewEvery == b.previewEvery && a.loras == b.loras
            && a.loraRecipe == b.loraRecipe
            && a.mask == b.mask
            && a.targetSize?.width == b.targetSize?.width && a.targetSize?.height == b.targetSize?.height
            && a.aestheticScore == b.aestheticScore && a.negativeAestheticScore == b.negativeAestheticScore
    }
}

/// What decodes the final latents of a run.
public enum LatentDecoder: String, Sendable, Equatable, CaseIterable {
    /// The model's own `AutoencoderKL` (what diffusers' pipelines use).
    case vae
    /// The pipeline's tiny autoencoder (TAESD / TAESDXL), as diffusers runs with `pipe.vae = AutoencoderTiny(…)`.
    case tinyAutoencoder
}

/// What a run reports as it goes.
public enum GenerationEvent: Sendable {
    /// Model call `index` (from 1) of `count` is done, at `timestep`.
    case step(index: Int, count: Int, timestep: Float)
    /// A look at the picture so far, after the step of the same index (see ``GenerationRequest/previewEvery``).
    case preview(GenerationPreview)
    /// The finished run.
    case finished(GenerationResult)
}

/// The outcome of a generation: the final latents (diffusion space) and the decoded images.
public struct GenerationResult: Sendable {
    /// `[B, 4, h, w]`, as diffusers' `output_type="latent"` returns them.
    public var latents: Tensor
    /// `[B, 3, H, W]` in [0, 1], as diffusers' `output_type="pt"` returns them.
    public var images: Tensor
    /// The images as 8-bit RGB.
    public var rgbImages: [RGBImage]
    /// The LoRAs fused for this run (the pipeline's, the request's, the prompt tags'), in that order.
    public var loras: [PipelineLoRA] = []
    /// The same LoRAs, each with where it was asked for (what the PNG metadata needs to write them faithfully,
    /// see ``GenerationMetadata/loras(of:hashingFiles:)``).
    public var appliedLoRAs: [AppliedLoRA] = []
    /// Things the caller should tell the user: prompt tags of extra-network kinds that were removed and not
    /// applied (`<hypernet:…>`), LoRA patches the model has no layer for.
    public var notes: [String] = []
}

/// A LoRA of a run and where it was asked for.
public struct AppliedLoRA: Sendable, Equatable {
    public enum Origin: Sendable, Equatable {
        /// The pipeline's own (``DiffusionPipeline/setLoRAs(_:)``).
        case pipeline
        /// The request's ``GenerationRequest/loras``.
        case request
        /// A `<lora:…>` / `<lyco:…>` tag of the prompt.
        case promptTag(PromptLoRARequest)
        /// A tag of the negative prompt.
        case negativePromptTag(PromptLoRARequest)
    }

    public var lora: PipelineLoRA
    public var origin: Origin

    public init(lora: PipelineLoRA, origin: Origin) {
        self.lora = lora
        self.origin = origin
    }
}
