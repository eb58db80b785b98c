import Foundation
import LoRAKit

/// The configuration of a diffusers model component, read from its `config.json`.
protocol ComponentConfiguration {
    /// The component's folder name in a diffusers pipeline (`unet`, `vae`), which errors name.
    static var component: String { get }
    /// The model part whose tensors the model takes (LoRAKit's model layer).
    static var part: ModelPart { get }
    /// Parses `config.json`; `component` names the component in errors.
    init(json data: Data, component: String) throws(ModelError)
}

/// A model graph built from a diffusers component: its configuration and its weights (UNet, VAE, TAESD).
/// The models' public loading initialisers all go through ``init(parsing:weightFiles:description:loading:overrides:)``;
/// the pipeline builds them from the model layer's tensors with ``init(configuration:tensors:description:loading:overrides:)``.
protocol ComponentModel: AnyObject {
    associatedtype Configuration: ComponentConfiguration
    /// Builds the graph, taking every weight it needs from `weights`.
    init(configuration: Configuration, weights: ComponentWeights) throws
}

extension ComponentModel {
    /// Parses `config.json`, maps the weight files (`overrides` replace the tensors they name) and
    /// builds the graph; a compute-layer failure while building is ``ModelError/computation(_:)``.
    init(parsing configurationJSON: Data, weightFiles: [SafetensorsFile], description: String, loading: WeightLoading,
         overrides: [String: FusedValues] = [:]) throws(ModelError) {
        let configuration = try Configuration(json: configurationJSON, component: Configuration.component)
        let weights = try ComponentWeights(files: weightFiles, part: Configuration.part, description: description,
                                           loading: loading, overrides: overrides)
        do { try self.init(configuration: configuration, weights: weights) } catch { throw ModelError(graphError: error) }
    }

    /// Builds the graph over a component's tensors from LoRAKit's model layer (a diffusers folder, shards, an
    /// LDM-named VAE file or a section of a single-file checkpoint); `overrides` (canonical names and shapes)
    /// replace the parameters they name — LoRA-fused weights — and `adapters` run beside the weights they name
    /// (LoRAs applied at run time).
    init(configuration: Configuration, tensors: ComponentTensors, description: String, loading: WeightLoading,
         overrides: [String: FusedValues] = [:], adapters: [String: [LowRankAdapter]] = [:]) throws(ModelError) {
        let weights = ComponentWeights(tensors: tensors, description: description, loading: loading, overrides: overrides,
                                       adapters: adapters)
        do { try self.init(configuration: configuration, weights: weights) } catch { throw ModelError(graphError: error) }
    }
}

extension UNetConfiguration: ComponentConfiguration {
    static var component: String { "unet" }
    static var part: ModelPart { .unet }
}
extension AutoencoderKLConfiguration: ComponentConfiguration {
    static var component: String { "vae" }
    static var part: ModelPart { .vae }
}
extension AutoencoderTinyConfiguration: ComponentConfiguration {
    static var component: String { "vae" }
    static var part: ModelPart { .vae }
}
