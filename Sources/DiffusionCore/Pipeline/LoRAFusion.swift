import LoRAKit

/// The mapped original weights of one model part, indexed under canonical names, that LoRAs are fused from.
struct FusionSource: Sendable {
    let part: ModelPart
    let files: [SafetensorsFile]
    let indexes: [ParameterIndex]

    /// A part read from diffusers component files (`unet/…`, `text_encoder/model.safetensors`).
    init(part: ModelPart, diffusersFiles files: [SafetensorsFile]) {
        self.part = part
        self.files = files
        indexes = files.map { ParameterIndex.diffusersComponent($0, component: part) }
    }

    /// Where `patch` lands, by `lora-tool merge`'s placement rules, and in which file.
    func placement(of patch: any WeightPatch) -> (file: Int, placement: PatchPlacement)? {
        for (f, index) in indexes.enumerated() {
            if let placement = PatchPlacement.resolve(patch, in: index) { return (f, placement) }
        }
        return nil
    }

    /// The original values of the canonical parameter at `location` of file `f`, with its canonical shape.
    func original(_ location: ParameterLocation, file f: Int, name: String) -> (values: [Float], shape: [Int])? {
        guard let info = files[f].info(named: location.tensorName) else { return nil }
        let tensor = ModelTensor(canonicalName: name, view: files[f].tensor(info), location: location)
        return (tensor.floats(), tensor.shape)
    }
}

/// One LoRA's share of a fusion: the file and the strength it is fused at into one part.
struct FusionInput {
    let name: String
    let file: LoRAFile
    let strength: Float
}

/// Fused weights as a runtime takes them: canonical parameter name → canonical float32 values, every other
/// parameter staying the mapped original.
enum LoRAFusion {
    /// The overrides `inputs` give part `source.part`: each patch of that part resolved with
    /// ``PatchPlacement`` and applied, in order, to the original values (never to earlier fused values of
    /// another request, so nothing drifts). Patches of other parts are left to their own call.
    /// - Parameter skipped: receives "NAME: target (reason)" for patches whose layer the model lacks.
    /// - Returns: the overrides and the number of weight (not bias) parameters patched.
    static func overrides(_ inputs: [FusionInput], source: FusionSource,
                          skipped: inout [String]) throws(PipelineError) -> (values: [String: [Float]], weightsPatched: Int) {
        var overrides: [String: [Float]] = [:]
        var weights: Set<String> = []
        for input in inputs {
            for patch in input.file.modules where ModelPart(patch.target.component) == source.part {
                guard let (f, placement) = source.placement(of: patch) else {
                    skipped.append("\(input.name): \(patch.target) (the model has no such layer)")
                    continue
                }
                if placement.biasMissing {
                    skipped.append("\(input.name): \(patch.target).bias (the model layer has no bias; the weight is patched)")
                }
                var targets: [(name: String, location: ParameterLocation, isBias: Bool)] =
                    [(PatchPlacement.weightKey(patch.target).name, placement.weight, false)]
                if let bias = placement.bias { targets.append((PatchPlacement.biasKey(patch.target).name, bias, true)) }
                for target in targets {
                    guard let original = source.original(target.location, file: f, name: target.name) else { continue }
                    var values = overrides[target.name] ?? original.values
                    do {
                        try PatchPlacement.applyCanonical(patch, isBias: target.isBias, strength: input.strength,
                                                          to: &values, shape: original.shape)
                    } catch {
                        throw .lora(name: input.name, target: patch.target.description, underlying: error)
                    }
                    overrides[target.name] = values
                    if !target.isBias { weights.insert(target.name) }
                }
            }
        }
        return (overrides, weights.count)
    }
}
