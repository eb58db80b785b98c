import Foundation
import LoRAKit

/// How ``DiffusionPipeline/init(contentsOf:options:)`` opens a model.
public struct ModelLoadOptions: Sendable, Equatable {
    /// The weight variant to read (`"fp16"` reads `*.fp16.safetensors`), as diffusers' `variant=`: a component
    /// without it reads its plain weights. nil applies LoRAKit's rule: plain weights, else `fp16`.
    public var variant: String?
    /// For a single-file checkpoint, a diffusers folder whose `unet/`, `vae/`, `text_encoder*/`, `tokenizer*/` and
    /// `scheduler/` configurations replace the built-in ones of the detected family (diffusers' `config=`).
    public var configFolder: URL?
    /// A VAE to use instead of the model's own: a diffusers `vae/` folder or a VAE file (diffusers or LDM names),
    /// configured like the model's VAE (its scaling factor).
    public var vae: URL?
    /// For a single-file checkpoint, the prediction type (`epsilon`, `v_prediction`) when the file's family default
    /// is wrong for it (SD 2.x 512-pixel base models predict noise).
    public var predictionType: String?
    /// How half-precision weights are held in memory.
    public var loading: WeightLoading

    public init(variant: String? = nil, configFolder: URL? = nil, vae: URL? = nil, predictionType: String? = nil,
                loading: WeightLoading = .keepHalfPrecision) {
        self.variant = variant
        self.configFolder = configFolder
        self.vae = vae
        self.predictionType = predictionType
        self.loading = loading
    }
}
