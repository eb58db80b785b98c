import LoRAKit

/// The mapped original weights of one model part, under canonical names, that LoRAs are fused from: the same
/// tensors (and index) the model was loaded from, whatever the file's naming (a diffusers file, shards, or a
/// single-file checkpoint's LDM/SGM names through the model layer's tables).
struct FusionSource: Sendable {
    let part: ModelPart
    let tensors: ComponentTensors

    init(part: ModelPart, tensors: ComponentTensors) {
        self.part = part
        self.tensors = tensors
    }

    /// Where `patch` lands, by `lora-tool merge`'s placement rules.
    func placement(of patch: any WeightPatch) -> PatchPlacement? {
        PatchPlacement.resolve(patch, in: tensors.index)
    }

    /// The original values of the canonical parameter `name`, with its canonical shape.
    func original(name: String) -> (values: [Float], shape: [Int])? {
        guard let tensor = try? tensors.tensor(name) else { return nil }
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
                guard let placement = source.placement(of: patch) else {
                    skipped.append("\(input.name): \(patch.target) (the model has no such layer)")
                    continue
                }
                if placement.biasMissing {
                    skipped.append("\(input.name): \(patch.target).bias (the model layer has no bias; the weight is patched)")
                }
                var targets: [(name: String, isBias: Bool)] = [(PatchPlacement.weightKey(patch.target).name, false)]
                if placement.bias != nil { targets.append((PatchPlacement.biasKey(patch.target).name, true)) }
                for target in targets {
                    guard let original = source.original(name: target.name) else { continue }
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
