import Foundation
import LoRAKit

/// Everything a pipeline is built from, gathered from a model opened by LoRAKit's model layer: each weight
/// component's tensors and configuration, the tokenizers, the scheduler configuration, and the report of where
/// each came from.
struct PipelineSources {
    struct TextEncoderSource {
        var part: ModelPart
        var config: CLIPTextConfig
        var tensors: ComponentTensors
    }

    var unetConfig: UNetConfiguration
    var unetTensors: ComponentTensors
    var unetDescription: String
    var vaeConfig: AutoencoderKLConfiguration
    var vaeTensors: ComponentTensors
    var vaeDescription: String
    var textEncoders: [TextEncoderSource]
    var tokenizers: [CLIPTokenizer]
    var schedulerConfig: SchedulerConfig
    var forceZerosForEmptyPrompt: Bool
    var report: ModelLoadReport

    /// The text encoders with their tokenizers, in pipeline order.
    static let textParts: [(tokenizer: ModelPart, encoder: ModelPart)] = [(.tokenizer, .textEncoder), (.tokenizer2, .textEncoder2)]

    static func load(_ bundle: ModelBundle, options: ModelLoadOptions) throws(PipelineError) -> PipelineSources {
        switch bundle.layout {
        case .diffusersFolder: return try loadFolder(bundle, options: options)
        case .checkpoint: return try SingleFileSources.load(bundle, options: options)
        case .componentFile:
            let parts = bundle.parts.map(\.rawValue).joined(separator: ", ")
            throw .unreadable(path: bundle.url.path, reason: "one component (\(parts)), not a whole model: give a diffusers folder or a single-file checkpoint")
        }
    }

    private static func loadFolder(_ bundle: ModelBundle, options: ModelLoadOptions) throws(PipelineError) -> PipelineSources {
        let path = bundle.url.path
        func component(_ part: ModelPart) throws(PipelineError) -> ModelBundle.Component {
            guard let c = bundle.component(part) else { throw .missingComponent(name: part.rawValue, folder: path) }
            return c
        }
        func configFile(_ part: ModelPart) throws(PipelineError) -> URL {
            guard let url = try component(part).configFile else {
                throw .missingComponent(name: "\(part.rawValue)/\(part == .scheduler ? "scheduler_config.json" : "config.json")", folder: path)
            }
            return url
        }
        var entries: [ModelLoadReport.Component] = []
        func entry(_ part: ModelPart, configuration: String) throws(PipelineError) {
            let weights = try component(part).weights
            entries.append(.init(part: part, origin: .modelFiles, weightFiles: weights?.files.map(\.path) ?? [],
                                 variant: weights?.variant, shardIndex: weights?.shardIndex?.path, configuration: configuration))
        }
        guard bundle.component(.textEncoder) != nil else { throw .missingComponent(name: "text_encoder", folder: path) }

        var encoders: [TextEncoderSource] = []
        var tokenizers: [CLIPTokenizer] = []
        for (tok, enc) in textParts where bundle.component(enc) != nil {
            let url = try configFile(enc)
            do {
                encoders.append(TextEncoderSource(part: enc, config: try CLIPTextConfig(contentsOf: url), tensors: try tensors(bundle, enc)))
            } catch { throw PipelineError(layerError: error) }
            try entry(enc, configuration: url.path)
            guard let folder = try component(tok).folder else { throw .missingComponent(name: tok.rawValue, folder: path) }
            do { tokenizers.append(try CLIPTokenizer(folder: folder)) } catch { throw .text(error) }
            entries.append(.init(part: tok, origin: .modelFiles, weightFiles: [], variant: nil, shardIndex: nil, configuration: folder.path))
        }

        let unetURL = try configFile(.unet)
        let unetConfig = try readConfig(unetURL) { (data) throws(ModelError) in try UNetConfiguration(json: data) }
        try entry(.unet, configuration: unetURL.path)
        let vaeURL = try configFile(.vae)
        let vaeConfig = try readConfig(vaeURL) { (data) throws(ModelError) in try AutoencoderKLConfiguration(json: data) }
        let unetFolder = try component(.unet).folder?.path ?? path
        var vae = (tensors: try tensors(bundle, .vae), description: try component(.vae).folder?.path ?? path)
        if let replacement = options.vae {
            vae = try replacementVAE(replacement, options: options)
            entries.append(.init(part: .vae, origin: .replacement, weightFiles: vae.tensors.paths, variant: nil, shardIndex: nil,
                                 configuration: vaeURL.path))
        } else {
            try entry(.vae, configuration: vaeURL.path)
        }
        let schedulerURL = try configFile(.scheduler)
        let scheduler: SchedulerConfig
        do { scheduler = try SchedulerConfig.load(contentsOf: schedulerURL) } catch { throw .scheduler(error) }
        entries.append(.init(part: .scheduler, origin: .modelFiles, weightFiles: [], variant: nil, shardIndex: nil, configuration: schedulerURL.path))

        let family = bundle.family
        let report = ModelLoadReport(path: path, layout: "diffusers-folder", family: family.0?.displayName, familyEvidence: family.1,
                                     components: entries.sorted { $0.part < $1.part })
        return PipelineSources(
            unetConfig: unetConfig, unetTensors: try tensors(bundle, .unet), unetDescription: unetFolder,
            vaeConfig: vaeConfig, vaeTensors: vae.tensors, vaeDescription: vae.description,
            textEncoders: encoders, tokenizers: tokenizers, schedulerConfig: scheduler,
            forceZerosForEmptyPrompt: modelIndexFlag(bundle.url, "force_zeros_for_empty_prompt") ?? true, report: report)
    }

    static func tensors(_ bundle: ModelBundle, _ part: ModelPart) throws(PipelineError) -> ComponentTensors {
        do { return try bundle.tensors(part) } catch { throw .modelFile(error) }
    }

    /// A VAE given on its own: a `vae/` folder or one file (diffusers or LDM names).
    static func replacementVAE(_ url: URL, options: ModelLoadOptions) throws(PipelineError) -> (tensors: ComponentTensors, description: String) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw .modelFile(.notFound(path: url.path))
        }
        do {
            if isDirectory.boolValue {
                return (try ModelBundle.openComponent(folder: url, part: .vae, variant: options.variant).tensors, url.path)
            }
            let bundle = try ModelBundle.open(url, options: .init(component: .vae))
            return (try bundle.tensors(.vae), url.path)
        } catch { throw .modelFile(error) }
    }

    /// A component configuration file, parsed.
    static func readConfig<C>(_ url: URL, _ parse: (Data) throws(ModelError) -> C) throws(PipelineError) -> C {
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw .unreadable(path: url.path, reason: "not readable") }
        do { return try parse(data) } catch { throw .model(error) }
    }

    /// A boolean of `model_index.json`, if the file has it.
    static func modelIndexFlag(_ folder: URL, _ key: String) -> Bool? {
        guard let data = try? Data(contentsOf: folder.appendingPathComponent("model_index.json")),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        return object[key] as? Bool
    }
}
