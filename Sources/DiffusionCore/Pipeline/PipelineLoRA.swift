import LoRAKit

/// A LoRA to fuse into a pipeline's weights at generation time, with its UNet and text-encoder strengths.
public struct PipelineLoRA: Sendable {
    public var name: String
    public var file: LoRAFile
    public var unetStrength: Float
    public var textEncoderStrength: Float

    public init(name: String, file: LoRAFile, unetStrength: Float, textEncoderStrength: Float? = nil) {
        self.name = name
        self.file = file
        self.unetStrength = unetStrength
        self.textEncoderStrength = textEncoderStrength ?? unetStrength
    }
}

/// What fusing a set of LoRAs did.
public struct LoRAFusionReport: Sendable, Equatable {
    /// UNet layers patched, over all LoRAs.
    public var unetLayersPatched: Int
    /// Patches not applied, with the reason (layer missing; text-encoder patches, which the runtime does not
    /// fuse yet).
    public var skipped: [String]
}

extension DiffusionPipeline {
    /// The base family of this pipeline, as LoRA files name theirs.
    public var baseModel: BaseModel {
        if isSDXL { return .sdxl }
        return (unet.configuration.crossAttentionDim.first ?? 768) == 1024 ? .sd2 : .sd1
    }

    /// Fuses `loras` into the UNet's weights with the same placement rules as `lora-tool merge`
    /// (LoRAKit's `PatchPlacement`), replacing any earlier set. Only the patched layers are recomputed (from the
    /// mapped originals, so removing a LoRA gives back exactly the original weights); every other layer stays
    /// mapped. A LoRA made for another base model is refused, naming both.
    @discardableResult
    public func setLoRAs(_ loras: [PipelineLoRA]) throws(PipelineError) -> LoRAFusionReport {
        let base = baseModel
        for lora in loras {
            if let loraBase = lora.file.baseModel.detected, loraBase != base {
                throw .loraBaseMismatch(lora: lora.name, loraBase: loraBase.displayName, model: folder.lastPathComponent,
                                        modelBase: base.displayName)
            }
        }
        let source = unetSource
        let indexes = source.files.map { ParameterIndex.diffusersComponent($0, component: .unet) }
        var overrides: [String: [Float]] = [:]
        var patched: Set<String> = []
        var skipped: [String] = []
        for lora in loras {
            for patch in lora.file.modules {
                guard patch.target.component == .unet else {
                    skipped.append("\(lora.name): \(patch.target) (text-encoder LoRA layers are not fused at generation time yet)")
                    continue
                }
                var found = false
                for (f, index) in indexes.enumerated() {
                    guard let placement = PatchPlacement.resolve(patch, in: index) else { continue }
                    found = true
                    var locations = [(placement.weight, false)]
                    if let bias = placement.bias { locations.append((bias, true)) }
                    for (location, isBias) in locations {
                        guard let info = source.files[f].info(named: location.tensorName) else { continue }
                        var values = overrides[location.tensorName] ?? source.files[f].tensor(info).floats()
                        do {
                            try PatchPlacement.apply(patch, isBias: isBias, strength: lora.unetStrength, at: location,
                                                     to: &values, storedShape: info.shape)
                        } catch {
                            throw .lora(name: lora.name, target: "\(patch.target)", underlying: error)
                        }
                        overrides[location.tensorName] = values
                        patched.insert(location.tensorName)
                    }
                }
                if !found { skipped.append("\(lora.name): \(patch.target) (the model has no such layer)") }
            }
        }
        do {
            unet = try UNetModel(configurationJSON: source.config, weightFiles: source.files, description: source.description,
                                 loading: source.loading, overrides: overrides)
        } catch { throw .model(error) }
        self.loras = loras
        return LoRAFusionReport(unetLayersPatched: patched.filter { $0.hasSuffix(".weight") }.count, skipped: skipped)
    }
}
