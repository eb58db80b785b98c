import Foundation
import LoRAKit

/// The sources of a pipeline read from a single-file checkpoint (LDM/SGM names): the weights through the model
/// layer's name tables, the architecture told from the tensor shapes (``ShapeInference``), and what a single file
/// does not hold — tokenizers, scheduler, head counts — from the built-in configuration of the detected family
/// (``ModelFamilyConfig``), or from a diffusers folder given as ``ModelLoadOptions/configFolder``.
enum SingleFileSources {
    static func load(_ bundle: ModelBundle, options: ModelLoadOptions) throws(PipelineError) -> PipelineSources {
        let path = bundle.url.path
        var (detected, evidence) = bundle.family
        if detected == nil, let folder = options.configFolder {
            (detected, evidence) = family(ofConfigFolder: folder)
        }
        guard let family = detected, let defaults = ModelFamilyConfig.forFamily(family) else {
            throw .unreadable(path: path, reason: "not an SD 1.x, SD 2.x or SDXL checkpoint (\(evidence))")
        }
        let override = options.configFolder
        var entries: [ModelLoadReport.Component] = []
        let weightFiles = [path]
        func configOrigin(_ file: String) -> (ModelLoadReport.Origin, String) {
            guard let override else { return (.inferred, "tensor shapes + built-in \(family.displayName)") }
            return (.configFolder, override.appendingPathComponent(file).path)
        }

        // UNet.
        guard bundle.component(.unet) != nil else { throw .missingComponent(name: "unet (model.diffusion_model.*)", folder: path) }
        let unetTensors = try PipelineSources.tensors(bundle, .unet)
        let unetConfig: UNetConfiguration
        if let override {
            unetConfig = try PipelineSources.readConfig(override.appendingPathComponent("unet/config.json")) { (d) throws(ModelError) in
                try UNetConfiguration(json: d)
            }
        } else {
            let inferred: [String: Any]
            let pooled = bundle.component(.textEncoder2) == nil ? nil
                : (try? bundle.tensors(.textEncoder2)).flatMap { ShapeInference.shape($0, "text_projection.weight")?.first }
            do { inferred = try ShapeInference.unetConfig(unetTensors, family: defaults, file: path, pooledWidth: pooled) } catch {
                throw .model(error)
            }
            unetConfig = try parse(inferred) { (d) throws(ModelError) in
                try UNetConfiguration(json: d)
            }
        }
        let unetOrigin = configOrigin("unet/config.json")
        entries.append(.init(part: .unet, origin: unetOrigin.0, weightFiles: weightFiles, variant: nil, shardIndex: nil, configuration: unetOrigin.1))

        // VAE (the file's, or the replacement).
        var vaeTensors: ComponentTensors, vaeDescription = path
        if let replacement = options.vae {
            (vaeTensors, vaeDescription) = try PipelineSources.replacementVAE(replacement, options: options)
        } else {
            guard bundle.component(.vae) != nil else { throw .missingComponent(name: "vae (first_stage_model.*)", folder: path) }
            vaeTensors = try PipelineSources.tensors(bundle, .vae)
        }
        let vaeConfig: AutoencoderKLConfiguration
        if let override {
            vaeConfig = try PipelineSources.readConfig(override.appendingPathComponent("vae/config.json")) { (d) throws(ModelError) in
                try AutoencoderKLConfiguration(json: d)
            }
        } else {
            let inferred: [String: Any]
            do { inferred = try ShapeInference.vaeConfig(vaeTensors, family: defaults, file: vaeDescription) } catch { throw .model(error) }
            vaeConfig = try parse(inferred) { (d) throws(ModelError) in
                try AutoencoderKLConfiguration(json: d)
            }
        }
        let vaeOrigin = configOrigin("vae/config.json")
        entries.append(.init(part: .vae, origin: options.vae == nil ? vaeOrigin.0 : .replacement, weightFiles: vaeTensors.paths,
                             variant: nil, shardIndex: nil, configuration: vaeOrigin.1))

        // Text encoders and their tokenizers.
        var encoders: [PipelineSources.TextEncoderSource] = []
        var tokenizers: [CLIPTokenizer] = []
        for e in defaults.textEncoders {
            guard bundle.component(e.part) != nil else {
                throw .missingComponent(name: "\(e.part.rawValue) (the \(family.displayName) text encoder)", folder: path)
            }
            let tensors = try PipelineSources.tensors(bundle, e.part)
            let config: CLIPTextConfig
            do throws(TextError) {
                if let override {
                    config = try CLIPTextConfig(contentsOf: override.appendingPathComponent("\(e.part.rawValue)/config.json"))
                } else {
                    config = try ShapeInference.textConfig(tensors, encoder: e)
                }
            } catch { throw .text(error) }
            encoders.append(.init(part: e.part, config: config, tensors: tensors))
            let origin = configOrigin("\(e.part.rawValue)/config.json")
            entries.append(.init(part: e.part, origin: origin.0, weightFiles: weightFiles, variant: nil, shardIndex: nil, configuration: origin.1))
            let tokenizerFolder = override?.appendingPathComponent(e.tokenizer.rawValue)
            do {
                if let tokenizerFolder, FileManager.default.fileExists(atPath: tokenizerFolder.path) {
                    tokenizers.append(try CLIPTokenizer(folder: tokenizerFolder))
                    entries.append(.init(part: e.tokenizer, origin: .configFolder, weightFiles: [], variant: nil, shardIndex: nil,
                                         configuration: tokenizerFolder.path))
                } else {
                    tokenizers.append(try CLIPTokenizer.builtIn(padToken: e.padToken))
                    entries.append(.init(part: e.tokenizer, origin: .builtIn, weightFiles: [], variant: nil, shardIndex: nil,
                                         configuration: "CLIP BPE vocabulary (bpe_simple_vocab_16e6), pad token \(e.padToken)"))
                }
            } catch { throw .text(error) }
        }

        // Scheduler: the folder's, else the family's, with the prediction type the file or the caller says.
        var scheduler = defaults.scheduler
        var schedulerOrigin: (ModelLoadReport.Origin, String) = (.builtIn, "\(defaults.scheduler.className ?? "") of \(family.displayName)")
        if let url = override?.appendingPathComponent("scheduler/scheduler_config.json"), FileManager.default.fileExists(atPath: url.path) {
            do { scheduler = try SchedulerConfig.load(contentsOf: url) } catch { throw .scheduler(error) }
            schedulerOrigin = (.configFolder, url.path)
        } else if bundle.hasVPredictionMarker {
            // SGM checkpoints trained for v-prediction carry a `v_pred` marker tensor (as diffusers reads it).
            scheduler.predictionType = .vPrediction
            schedulerOrigin.1 += ", v-prediction (the file's v_pred marker)"
        }
        if let requested = options.predictionType {
            guard let type = PredictionType(rawValue: requested) else {
                throw .invalidRequest("prediction type \(requested) is not one of epsilon, v_prediction, sample")
            }
            scheduler.predictionType = type
            schedulerOrigin.1 += ", prediction type \(requested) (requested)"
        }
        entries.append(.init(part: .scheduler, origin: schedulerOrigin.0, weightFiles: [], variant: nil, shardIndex: nil,
                             configuration: schedulerOrigin.1))

        let report = ModelLoadReport(path: path, layout: "single-file", family: family.displayName, familyEvidence: evidence,
                                     components: entries.sorted { $0.part < $1.part })
        return PipelineSources(
            unetConfig: unetConfig, unetTensors: unetTensors, unetDescription: path,
            vaeConfig: vaeConfig, vaeTensors: vaeTensors, vaeDescription: vaeDescription,
            textEncoders: encoders, tokenizers: tokenizers, schedulerConfig: scheduler,
            forceZerosForEmptyPrompt: defaults.forceZerosForEmptyPrompt, report: report)
    }

    /// The family of a diffusers configuration folder, for a checkpoint whose shapes match no family (a fine-tune
    /// of another width): a second text encoder is SDXL, an OpenCLIP (`gelu`) first encoder SD 2.x, else SD 1.x.
    static func family(ofConfigFolder folder: URL) -> (BaseModel?, String) {
        let fm = FileManager.default
        if fm.fileExists(atPath: folder.appendingPathComponent("text_encoder_2/config.json").path) {
            return (.sdxl, "the configuration folder has text_encoder_2")
        }
        if let config = try? CLIPTextConfig(contentsOf: folder.appendingPathComponent("text_encoder/config.json")) {
            return config.hiddenAct == "gelu" ? (.sd2, "the configuration folder's text encoder is OpenCLIP (gelu)")
                : (.sd1, "the configuration folder's text encoder is CLIP (\(config.hiddenAct))")
        }
        return (nil, "the configuration folder has no text_encoder/config.json")
    }

    /// A configuration built as a `config.json` dictionary, parsed by the component's own reader (so it is checked
    /// as a file would be).
    static func parse<C>(_ dictionary: [String: Any], _ reader: (Data) throws(ModelError) -> C) throws(PipelineError) -> C {
        let data: Data
        do { data = try JSONSerialization.data(withJSONObject: dictionary) } catch {
            throw .invalidRequest("inferred configuration is not JSON: \(error.localizedDescription)")
        }
        do { return try reader(data) } catch { throw .model(error) }
    }
}
