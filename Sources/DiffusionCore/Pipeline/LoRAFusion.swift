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

/// What a LoRA set does to one model part: fused weights (canonical parameter name → canonical float32 values,
/// every other parameter staying the mapped original) and, when asked for, low-rank adapters run beside the weights they
/// name.
struct FusionResult {
    var overrides: [String: [Float]] = [:]
    var adapters: [String: [LowRankAdapter]] = [:]
    /// Weight (not bias) parameters changed, fused or by an adapter.
    var weightsPatched = 0

    var isEmpty: Bool { overrides.isEmpty && adapters.isEmpty }
}

enum LoRAFusion {
    /// The adapter applying `patch` at `strength` beside a weight of canonical shape `weightShape`, when the patch
    /// is a plain LoRA / LoCon (no mid, no DoRA, no bias delta) whose factors span that shape.
    static func adapter(_ patch: LoRAModule, strength: Float, weightShape: [Int]) -> LowRankAdapter? {
        guard !patch.patchesBias, let factors = patch.lowRankFactors, factors.chains,
              factors.outFeatures == weightShape.first, factors.columns == weightShape.dropFirst().reduce(1, *) else { return nil }
        // A conv-shaped down [r, in, 1, 1] for a linear weight (or the reverse) is the same matrix.
        let downShape = weightShape.count == 4 ? [factors.rank] + Array(weightShape.dropFirst()) : [factors.rank, factors.columns]
        return try? LowRankAdapter(up: factors.up, upShape: factors.upShape, down: factors.down, downShape: downShape,
                                   scale: patch.scale * strength)
    }

    /// What `inputs` do to part `source.part`: each patch of that part resolved with ``PatchPlacement`` and
    /// applied, in order, to the original values (never to earlier fused values of another request, so nothing
    /// drifts). Patches of other parts are left to their own call.
    /// - Parameters:
    ///   - runtime: plain LoRA / LoCon patches become ``LowRankAdapter``s run beside the mapped weight instead of
    ///     fused values (the other families are fused all the same).
    ///   - skipped: receives "NAME: target (reason)" for patches whose layer the model lacks.
    static func apply(_ inputs: [FusionInput], source: FusionSource, runtime: Bool = false,
                      skipped: inout [String]) throws(PipelineError) -> FusionResult {
        var overrides: [String: [Float]] = [:]
        var adapters: [String: [LowRankAdapter]] = [:]
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
                let weightName = PatchPlacement.weightKey(patch.target).name
                if runtime, let shape = try? source.tensors.tensor(weightName).shape,
                   let adapter = adapter(patch, strength: input.strength, weightShape: shape) {
                    adapters[weightName, default: []].append(adapter)
                    weights.insert(weightName)
                    continue
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
        return FusionResult(overrides: overrides, adapters: adapters, weightsPatched: weights.count)
    }
}
