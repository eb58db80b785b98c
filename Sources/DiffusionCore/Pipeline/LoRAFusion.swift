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
}

/// One LoRA's share of a fusion: the file and the strength it is fused at into one part.
struct FusionInput {
    let name: String
    let file: LoRAFile
    let strength: Float
}

/// One patch applied to one parameter: a module of a LoRA file at a strength. Two steps are equal when they name
/// the same module of the same parsed file at the same strength.
struct FusionStep: Equatable, @unchecked Sendable {
    /// The LoRA's name, as errors give it.
    let name: String
    let file: LoRAFile
    let module: Int
    let strength: Float

    var patch: LoRAModule { file.modules[module] }

    static func == (a: FusionStep, b: FusionStep) -> Bool {
        a.file === b.file && a.module == b.module && a.strength == b.strength
    }
}

/// What a LoRA set did to one parameter (the steps, in order, and the values they gave), kept so that the next
/// set reuses it when it patches that parameter the same way.
struct FusedParameter: Sendable {
    let steps: [FusionStep]
    let values: FusedValues
}

/// What a LoRA set does to one model part: fused parameters (canonical name → values in canonical shape, every
/// other parameter staying the mapped original) and, when asked for, low-rank adapters run beside the weights
/// they name.
struct FusionResult {
    var fused: [String: FusedParameter] = [:]
    var adapters: [String: [LowRankAdapter]] = [:]
    /// Weight (not bias) parameters changed, fused or by an adapter.
    var weightsPatched = 0
    /// Fused parameters taken over unchanged from the previous set; the others were computed.
    var reused = 0

    var isEmpty: Bool { fused.isEmpty && adapters.isEmpty }

    /// Whether this result is exactly `previous`: no adapters, and every fused parameter taken over from it (so
    /// the same parameters, fused the same way). A component built from `previous` needs no rebuilding.
    func reusesAll(of previous: [String: FusedParameter]) -> Bool {
        adapters.isEmpty && reused == fused.count && fused.count == previous.count
    }

    /// The fused values by canonical name.
    var overrides: [String: FusedValues] { fused.mapValues(\.values) }
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
    ///   - storedPrecision: weights stored as F16 / BF16 are fused into that type, as PEFT fuses into a half-precision
    ///     model (``HalfPrecisionFusion``), and fused biases are rounded to their stored type; otherwise every fused
    ///     parameter is float32.
    ///   - previous: what the previous set fused into this part: a parameter patched by the same steps is taken
    ///     over, only the others are computed.
    ///   - skipped: receives "NAME: target (reason)" for patches whose layer the model lacks.
    static func apply(_ inputs: [FusionInput], source: FusionSource, runtime: Bool = false, storedPrecision: Bool = false,
                      previous: [String: FusedParameter] = [:], skipped: inout [String]) throws(PipelineError) -> FusionResult {
        var plans: [String: [FusionStep]] = [:]
        var order: [(name: String, isBias: Bool)] = []
        var adapters: [String: [LowRankAdapter]] = [:]
        var weights: Set<String> = []
        for input in inputs {
            for (index, patch) in input.file.modules.enumerated() where ModelPart(patch.target.component) == source.part {
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
                let step = FusionStep(name: input.name, file: input.file, module: index, strength: input.strength)
                var targets: [(name: String, isBias: Bool)] = [(weightName, false)]
                if placement.bias != nil { targets.append((PatchPlacement.biasKey(patch.target).name, true)) }
                for target in targets where source.tensors.contains(target.name) {
                    if plans[target.name] == nil { order.append(target) }
                    plans[target.name, default: []].append(step)
                    if !target.isBias { weights.insert(target.name) }
                }
            }
        }

        var result = FusionResult(adapters: adapters, weightsPatched: weights.count)
        var jobs: [(name: String, isBias: Bool, tensor: ModelTensor, steps: [FusionStep])] = []
        for target in order {
            let steps = plans[target.name] ?? []
            if let earlier = previous[target.name], earlier.steps == steps {
                result.fused[target.name] = earlier
                result.reused += 1
            } else if let tensor = try? source.tensors.tensor(target.name) {
                jobs.append((target.name, target.isBias, tensor, steps))
            }
        }
        // Largest first, so that the last parameters to finish are small ones and the cores stay busy.
        jobs.sort { $0.tensor.elementCount > $1.tensor.elementCount }
        var outcomes = [Result<FusedValues, PipelineError>?](repeating: nil, count: jobs.count)
        outcomes.withUnsafeMutableBufferPointer { slots in
            let slots = UncheckedSendableBox(slots)
            Parallel.withSingleThreadedBLAS {
                Parallel.forEachChunk(jobs.count, chunks: jobs.count) { i, _ in
                    let job = jobs[i]
                    do throws(PipelineError) {
                        let values = try fuse(job.steps, into: job.tensor, isBias: job.isBias, storedPrecision: storedPrecision)
                        // The model now runs the fused copy: the original's mapped pages are not needed until the
                        // LoRA is removed (they come back from the page cache then).
                        if !job.isBias { job.tensor.releasePages() }
                        slots.value[i] = .success(values)
                    } catch {
                        slots.value[i] = .failure(error)
                    }
                }
            }
        }
        for (job, outcome) in zip(jobs, outcomes) {
            guard let outcome else { continue }
            result.fused[job.name] = FusedParameter(steps: job.steps, values: try outcome.get())
        }
        return result
    }

    /// `steps` applied in order to the original values of `tensor`.
    static func fuse(_ steps: [FusionStep], into tensor: ModelTensor, isBias: Bool,
                     storedPrecision: Bool) throws(PipelineError) -> FusedValues {
        let shape = tensor.shape
        let half: WeightMatrix.Element? = switch tensor.dtype {
        case .f16 where storedPrecision: .float16
        case .bf16 where storedPrecision: .bfloat16
        default: nil
        }
        if let half, !isBias, shape.count >= 2 {
            return try fuseHalf(steps, into: tensor, element: half, shape: shape)
        }
        var values = tensor.floats()
        for step in steps {
            do {
                try PatchPlacement.applyCanonical(step.patch, isBias: isBias, strength: step.strength, to: &values, shape: shape)
            } catch {
                throw .lora(name: step.name, target: step.patch.target.description, underlying: error)
            }
        }
        if let half { values = HalfPrecisionFusion.rounded(values, to: half) }
        do { return .float32(try Tensor(shape: shape, scalars: values)) } catch {
            throw .model(.invalidWeight(name: tensor.name, file: "", underlying: error))
        }
    }

    /// `steps` fused into a half-precision copy of `tensor`: plain LoRA / LoCon patches tile by tile
    /// (``HalfPrecisionFusion``), the other families on the widened values, rounded back once.
    static func fuseHalf(_ steps: [FusionStep], into tensor: ModelTensor, element: WeightMatrix.Element,
                         shape: [Int]) throws(PipelineError) -> FusedValues {
        let rows = shape[0], columns = shape.dropFirst().reduce(1, *)
        let buffer = HalfBuffer(count: rows * columns, element: element)
        var written = false
        for step in steps {
            let patch = step.patch
            if let factors = HalfPrecisionFusion.factors(of: patch, rows: rows, columns: columns) {
                // PEFT's scaling (α/r × the fuse scale) is a double rounded once to float32.
                let scale = Float(Double(patch.scale) * Double(step.strength))
                if written {
                    HalfPrecisionFusion.add(factors, scale: scale, base: buffer.base, into: buffer, rows: rows, columns: columns)
                } else {
                    tensor.withUnsafeBytes { raw in
                        HalfPrecisionFusion.add(factors, scale: scale, base: raw.baseAddress!.assumingMemoryBound(to: UInt16.self),
                                                into: buffer, rows: rows, columns: columns)
                    }
                }
            } else {
                var values = written ? buffer.floats() : tensor.floats()
                do {
                    try PatchPlacement.applyCanonical(patch, isBias: false, strength: step.strength, to: &values, shape: shape)
                } catch {
                    throw .lora(name: step.name, target: patch.target.description, underlying: error)
                }
                values.withUnsafeBufferPointer { buffer.store($0.baseAddress!, count: $0.count) }
            }
            written = true
        }
        if !written {
            tensor.withUnsafeBytes { raw in
                buffer.base.update(from: raw.baseAddress!.assumingMemoryBound(to: UInt16.self), count: buffer.count)
            }
        }
        return .half(buffer, shape: shape)
    }
}
