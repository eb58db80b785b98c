import ArgumentParser
import DiffusionCore
import Foundation

/// `generate`'s model-loading options: which weight variant of a diffusers folder to read (`--variant fp16`, as
/// diffusers' `variant=`), and for a single-file checkpoint a diffusers folder of configurations (`--config`, as
/// diffusers' `config=`), a replacement VAE (`--vae`) and the prediction type (`--prediction-type`).
struct GenerateModelOptions: ParsableArguments {
    @Option(help: "The weight variant of a diffusers folder to read, e.g. fp16 (default: the plain weights, else fp16).")
    var variant: String?

    @Option(name: .customLong("config"), help: "For a single-file checkpoint: a diffusers folder whose configs and tokenizers replace the built-in ones of the detected family.")
    var configFolder: String?

    @Option(help: "A VAE to use instead of the model's: a diffusers vae/ folder or a .safetensors VAE file (diffusers or LDM names).")
    var vae: String?

    @Option(name: .customLong("prediction-type"), help: "For a single-file checkpoint: epsilon or v_prediction when the family default is wrong (SD 2.x 512-pixel base models are epsilon).")
    var predictionType: String?

    /// The files these options read (never outputs).
    var inputs: [URL] { [configFolder, vae].compactMap { $0.map { URL(fileURLWithPath: $0) } } }

    var loadOptions: ModelLoadOptions {
        ModelLoadOptions(variant: variant, configFolder: configFolder.map { URL(fileURLWithPath: $0) },
                         vae: vae.map { URL(fileURLWithPath: $0) }, predictionType: predictionType)
    }
}
