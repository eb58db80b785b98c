import Foundation
import LoRAKit

/// What the tensor shapes of a single-file checkpoint do not say, per family: the values of the reference
/// diffusers configurations (`stable-diffusion-v1-5`, `stable-diffusion-2-1`, `stable-diffusion-xl-base-1.0`).
struct ModelFamilyConfig: Sendable {
    /// How attention heads are counted (diffusers' `attention_head_dim`, which UNet2DConditionModel reads as heads).
    enum Heads: Sendable {
        /// The same number of heads in every block (SD 1.x: 8).
        case count(Int)
        /// Heads of this width: a block of C channels has C / width heads (SD 2.x, SDXL: 64).
        case width(Int)
    }

    /// One text encoder with its tokenizer.
    struct TextEncoder: Sendable {
        var part: ModelPart
        var tokenizer: ModelPart
        /// `quick_gelu` (OpenAI CLIP ViT-L) or `gelu` (OpenCLIP).
        var hiddenAct: String
        /// Layers the diffusers model has fewer than the file (SD 2.x's OpenCLIP-H: 23 of 24, the last is unused).
        var droppedLayers: Int
        /// The pad token (SD 1.x `<|endoftext|>`; SD 2.x and SDXL's second tokenizer `!`).
        var padToken: String
        /// `CLIPTextModelWithProjection` (SDXL's second encoder).
        var withProjection: Bool
    }

    var family: BaseModel
    var heads: Heads
    var upcastAttention: Bool
    /// SDXL's `addition_time_embed_dim` (each of the six time ids' sinusoidal width).
    var additionTimeEmbedDim: Int?
    var unetSampleSize: Int
    var vaeScalingFactor: Float
    var vaeSampleSize: Int
    var vaeForceUpcast: Bool
    var textEncoders: [TextEncoder]
    var scheduler: SchedulerConfig
    var forceZerosForEmptyPrompt: Bool

    static func forFamily(_ family: BaseModel) -> ModelFamilyConfig? {
        all.first { $0.family == family }
    }

    static let all: [ModelFamilyConfig] = [
        ModelFamilyConfig(
            family: .sd1, heads: .count(8), upcastAttention: false, additionTimeEmbedDim: nil, unetSampleSize: 64,
            vaeScalingFactor: 0.18215, vaeSampleSize: 512, vaeForceUpcast: true,
            textEncoders: [TextEncoder(part: .textEncoder, tokenizer: .tokenizer, hiddenAct: "quick_gelu", droppedLayers: 0,
                                       padToken: "<|endoftext|>", withProjection: false)],
            scheduler: .stableDiffusion15, forceZerosForEmptyPrompt: false),
        ModelFamilyConfig(
            family: .sd2, heads: .width(64), upcastAttention: true, additionTimeEmbedDim: nil, unetSampleSize: 96,
            vaeScalingFactor: 0.18215, vaeSampleSize: 768, vaeForceUpcast: true,
            textEncoders: [TextEncoder(part: .textEncoder, tokenizer: .tokenizer, hiddenAct: "gelu", droppedLayers: 1,
                                       padToken: "!", withProjection: false)],
            scheduler: .stableDiffusion21, forceZerosForEmptyPrompt: false),
        ModelFamilyConfig(
            family: .sdxl, heads: .width(64), upcastAttention: false, additionTimeEmbedDim: 256, unetSampleSize: 128,
            vaeScalingFactor: 0.13025, vaeSampleSize: 1024, vaeForceUpcast: true,
            textEncoders: [
                TextEncoder(part: .textEncoder, tokenizer: .tokenizer, hiddenAct: "quick_gelu", droppedLayers: 0,
                            padToken: "<|endoftext|>", withProjection: false),
                TextEncoder(part: .textEncoder2, tokenizer: .tokenizer2, hiddenAct: "gelu", droppedLayers: 0,
                            padToken: "!", withProjection: true),
            ],
            scheduler: .stableDiffusionXL, forceZerosForEmptyPrompt: true),
    ]
}

extension SchedulerConfig {
    /// The SD 2.1 (768-pixel, v-prediction) `scheduler/scheduler_config.json` (a `DDIMScheduler` config).
    static var stableDiffusion21: SchedulerConfig {
        var c = stableDiffusion15
        c.className = "DDIMScheduler"
        c.predictionType = .vPrediction
        return c
    }
}
