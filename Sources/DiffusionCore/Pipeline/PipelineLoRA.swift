import LoRAKit

/// A LoRA to fuse into a pipeline's weights at generation time, with its UNet and text-encoder strengths.
///
/// Two values are equal when they name the same parsed file (the same ``LoRAFile`` object) at the same
/// strengths: that is how a pipeline tells that the set it has fused is the one a request asks for.
public struct PipelineLoRA: Sendable, Equatable {
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

    public static func == (a: PipelineLoRA, b: PipelineLoRA) -> Bool {
        a.name == b.name && a.file === b.file && a.unetStrength == b.unetStrength && a.textEncoderStrength == b.textEncoderStrength
    }
}

/// What fusing a set of LoRAs did.
public struct LoRAFusionReport: Sendable, Equatable {
    /// The LoRAs fused, in order.
    public var loras: [String] = []
    /// UNet weight parameters patched, over all LoRAs (fused or at run time).
    public var unetLayersPatched: Int = 0
    /// Of those, the UNet weights whose LoRAs run beside them at run time (see ``LoRAApplication``).
    public var unetLayersAtRunTime: Int = 0
    /// UNet parameters whose fused values were taken over from the set applied before (patched by the same
    /// LoRA modules at the same strengths); the other fused parameters were computed.
    public var unetParametersReused: Int = 0
    /// Text-encoder weight parameters patched, over all LoRAs and encoders.
    public var textEncoderLayersPatched: Int = 0
    /// Textual-inversion tokens the LoRAs brought along (pivotal tuning: `<s1>`, kohya `bundle_emb.*`), usable
    /// in prompts while the LoRA is active.
    public var embeddings: [String] = []
    /// Patches not applied, with the reason (a layer the model lacks).
    public var skipped: [String] = []

    public init() {}
}

extension DiffusionPipeline {
    /// The base family of this pipeline, as LoRA files name theirs.
    public var baseModel: BaseModel {
        if isSDXL { return .sdxl }
        return (unet.configuration.crossAttentionDim.first ?? 768) == 1024 ? .sd2 : .sd1
    }

    /// Sets the pipeline's own LoRAs — fused into every request's weights, before the request's own LoRAs and
    /// its prompt's `<lora:…>` tags — and fuses them now. See ``fuse(_:)`` for what fusing does.
    @discardableResult
    public func setLoRAs(_ loras: [PipelineLoRA]) throws(PipelineError) -> LoRAFusionReport {
        try exclusively("setLoRAs") { () throws(PipelineError) -> LoRAFusionReport in
            let report = try fuseHoldingTurn(loras)
            self.loras = loras
            return report
        }
    }

    /// Fuses exactly `loras` into the UNet and the text encoder(s), replacing the set fused before, with the
    /// same placement rules as `lora-tool merge` (LoRAKit's `PatchPlacement`: kohya `lora_unet_` / `lora_te_` /
    /// `lora_te1_` / `lora_te2_`, diffusers/PEFT `unet.` / `text_encoder.` / `text_encoder_2.`, OpenCLIP's fused
    /// q/k/v thirds) and each LoRA's UNet and text-encoder strength. Embeddings the LoRAs carry join the
    /// prompt's vocabulary.
    ///
    /// Only the patched layers are computed, each from the mapped originals (never by subtracting an earlier
    /// LoRA, so nothing drifts and DoRA / IA³ come off too), and of those only the ones the previous set did not
    /// patch in the same way; fusing the empty set gives back exactly the loaded weights. Fusing the set already
    /// fused does nothing. A LoRA made for another base model is refused, naming both.
    ///
    /// UNet weights stored in half precision (F16 / BF16) are fused into that type, as PEFT's `fuse_lora` does to
    /// a half-precision model (the delta rounded to the weight's type, then added in it), so a fused layer takes
    /// what the mapped one did; float32 weights and the text encoders are fused in float32. Waits for a run in
    /// progress to finish (see "Sharing one pipeline" in ``DiffusionPipeline``); called from inside a run on this
    /// pipeline (its `onEvent` or `isCancelled` callback), throws ``PipelineError/calledDuringOwnRun(operation:)``.
    @discardableResult
    public func fuse(_ loras: [PipelineLoRA]) throws(PipelineError) -> LoRAFusionReport {
        try exclusively("fuse") { () throws(PipelineError) -> LoRAFusionReport in try fuseHoldingTurn(loras) }
    }

    /// ``fuse(_:)`` for a caller holding the pipeline's turn.
    func fuseHoldingTurn(_ loras: [PipelineLoRA]) throws(PipelineError) -> LoRAFusionReport {
        let application = loraApplication  // read once: a change during this call takes effect at the next
        if let fused = fusion, fused.loras == loras, fused.application.appliesAtRunTime == application.appliesAtRunTime {
            return fused.report
        }
        let base = baseModel
        for lora in loras {
            if let loraBase = lora.file.baseModel.detected, loraBase != base {
                throw .loraBaseMismatch(lora: lora.name, loraBase: loraBase.displayName, model: url.lastPathComponent,
                                        modelBase: base.displayName)
            }
        }
        var report = LoRAFusionReport()
        report.loras = loras.map(\.name)
        let unetInputs = loras.map { FusionInput(name: $0.name, file: $0.file, strength: $0.unetStrength) }
        let teInputs = loras.map { FusionInput(name: $0.name, file: $0.file, strength: $0.textEncoderStrength) }

        // Fused UNet weights keep the file's precision (half precision stays half size); a parameter the new set
        // patches exactly as the old one did is taken over, not recomputed.
        let unetResult = try LoRAFusion.apply(unetInputs, source: unetFusionSource, runtime: application.appliesAtRunTime,
                                              storedPrecision: true, previous: fusion?.unetParameters ?? [:],
                                              skipped: &report.skipped)
        report.unetLayersPatched = unetResult.weightsPatched
        report.unetLayersAtRunTime = unetResult.adapters.count
        report.unetParametersReused = unetResult.reused
        var encoders: [CLIPTextEncoder] = []
        var textEncoderParameters: [[String: FusedParameter]] = []
        let current = promptEncoder.stages.map(\.encoder)
        for (i, (stage, source)) in zip(originalTextEncoders, textEncoderFusionSources).enumerated() {
            let previous = fusion.map { i < $0.textEncoderParameters.count ? $0.textEncoderParameters[i] : [:] } ?? [:]
            // Fused text-encoder weights keep the file's precision too (PEFT's fp16 rounding for a half-precision file).
            let result = try LoRAFusion.apply(teInputs, source: source, storedPrecision: true, previous: previous,
                                              skipped: &report.skipped)
            report.textEncoderLayersPatched += result.weightsPatched
            textEncoderParameters.append(result.fused)
            if result.reusesAll(of: previous), i < current.count {
                encoders.append(current[i])  // every fused parameter as before: the encoder as it is
            } else if result.isEmpty {
                encoders.append(stage)
            } else {
                do { encoders.append(try stage.replacingParameters(fused: result.overrides)) } catch { throw .text(error) }
                textEncoderBuildCount += 1
            }
        }
        for lora in loras {
            for patch in lora.file.modules where !partsPresent.contains(ModelPart(patch.target.component)) {
                report.skipped.append("\(lora.name): \(patch.target) (the model has no \(patch.target.component.rawValue))")
            }
        }
        var embeddings: [TextualInversionEmbedding] = []
        for lora in loras {
            do {
                let carried = try TextualInversionEmbedding.embedded(in: lora.file.file, fileName: lora.name)
                for e in carried where !embeddings.contains(where: { $0.name == e.name }) { embeddings.append(e) }
            } catch { throw .text(error) }
        }
        report.embeddings = embeddings.map(\.name)
        let prompts: PromptEncoder
        do { prompts = try PromptEncoder(tokenizers: tokenizers, encoders: encoders, embeddings: embeddings) } catch { throw .text(error) }
        // The UNet as loaded stays when neither the old nor the new set patches it, and the UNet as it is when
        // the new set fuses every parameter as the old one did (no run-time adapters before or now).
        let unetUnchanged = unetResult.reusesAll(of: fusion?.unetParameters ?? [:]) && fusion?.report.unetLayersAtRunTime ?? 0 == 0
        if !unetUnchanged && (!unetResult.isEmpty || fusion?.unetPatched == true) {
            do {
                // LoRA-fused tensors replace the mapped ones they name; every other tensor stays mapped.
                unet = try UNetModel(configuration: sources.unetConfig, tensors: sources.unetTensors,
                                     description: sources.unetDescription, loading: loading, overrides: unetResult.overrides,
                                     adapters: unetResult.adapters)
            } catch { throw .model(error) }
            unetBuildCount += 1
        }
        promptEncoder = prompts
        fusion = Fusion(loras: loras, application: application, report: report, unetPatched: !unetResult.isEmpty,
                        unetParameters: unetResult.fused, textEncoderParameters: textEncoderParameters)
        fusionCount += 1
        return report
    }

    /// The LoRAs applied now (the pipeline's own, then the last request's).
    public var activeLoRAs: [PipelineLoRA] { fusion?.loras ?? [] }

    /// What applying ``activeLoRAs`` did; nil before any set was applied.
    public var activeLoRAReport: LoRAFusionReport? { fusion?.report }
}

/// The set of LoRAs a pipeline has fused and what fusing it did.
struct Fusion {
    var loras: [PipelineLoRA]
    var application: LoRAApplication
    var report: LoRAFusionReport
    var unetPatched: Bool
    /// What the set fused into the UNet and each text encoder, for the next set to take over where it patches a
    /// parameter the same way (the UNet holds the same buffers: nothing is duplicated).
    var unetParameters: [String: FusedParameter] = [:]
    var textEncoderParameters: [[String: FusedParameter]] = []
}
