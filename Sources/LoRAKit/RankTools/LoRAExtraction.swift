import Foundation

/// Extracts a LoRA from the difference of two models (a base and a fine-tune of it), as kohya
/// `networks/extract_lora_from_models.py` does (NUMERICS §3.1).
///
/// Modules are the ones kohya's LoRA network targets: every Linear / Conv2d inside a UNet
/// transformer block (`…attentions.N.…`) and inside the text encoders' attention and MLP
/// (`self_attn.{q,k,v,out}_proj`, `mlp.fc1/fc2`); with ``Options/convRank`` also every Linear /
/// Conv2d of the resnets, downsamplers and upsamplers. Per module ΔW = W_tuned − W_base (Float32)
/// is reshaped to [out, in·kh·kw], factorised by `LAPACKE_sgesdd`, truncated to
/// `min(rank, in, out)` (`convRank` for k×k convs), split kohya's way (`up = U·diag(S)`,
/// `down = Vᵀ`), clamped at the signed `clampQuantile` of the concatenated factors, and written
/// with `alpha = rank` (scale 1). When no text-encoder module differs by more than
/// ``Options/minDiff`` (max |ΔW|), the text encoders are skipped (kohya decides once for all
/// encoders together).
///
/// The models are read one tensor at a time from the mapped files (diffusers folders, single
/// component files or single-file LDM/SGM checkpoints, in any mix). Output names are kohya's
/// (`lora_unet_<diffusers path>`, `lora_te_` / `lora_te1_` / `lora_te2_` + transformers path).
///
/// ```swift
/// let report = try LoRAExtraction.extract(base: sd15, tuned: finetune,
///                                         options: .init(rank: 32, convRank: 16), output: out)
/// print(report.modules.count, report.textEncodersExtracted)
/// ```
public enum LoRAExtraction {
    /// What to extract.
    public struct Options: Sendable {
        /// Rank of linear and 1×1-conv modules (kohya `--dim`, default 4).
        public var rank: Int
        /// Rank of k×k conv modules (kohya `--conv_dim`); nil leaves resnets and samplers out.
        public var convRank: Int?
        /// Signed quantile the factors are clamped at (kohya: 0.99); nil disables clamping.
        public var clampQuantile: Float?
        /// Text encoders are extracted only when some module's max |ΔW| exceeds this (kohya: 0.01).
        public var minDiff: Float
        /// Storage type of the factors.
        public var dtype: DType
        /// Replace an existing output (never an input).
        public var overwrite: Bool

        public init(rank: Int = 4, convRank: Int? = nil, clampQuantile: Float? = 0.99, minDiff: Float = 0.01,
                    dtype: DType = .f32, overwrite: Bool = false) {
            self.rank = rank
            self.convRank = convRank
            self.clampQuantile = clampQuantile
            self.minDiff = minDiff
            self.dtype = dtype
            self.overwrite = overwrite
        }
    }

    /// One extracted module.
    public struct ModuleResult: Sendable, Codable, Equatable {
        /// kohya key stem (`lora_unet_…`).
        public var name: String
        /// Whether the layer is a k×k conv (ranked by ``Options/convRank``).
        public var isKernelConv: Bool
        /// The rank written (also its alpha).
        public var rank: Int
        /// ‖S[:rank]‖ / ‖S‖ before clamping.
        public var frobeniusRetained: Double
        /// The factors as written (clamped, in the output dtype) against the exact ΔW.
        public var written: WrittenRetention
        /// max |W_tuned − W_base| of the layer.
        public var maxAbsDifference: Float
    }

    /// What an extraction did.
    public struct Report: Sendable, Codable, Equatable {
        public var outputPath = ""
        /// Family of the two models (nil when it could not be told).
        public var baseModel: BaseModel?
        public var baseModelEvidence = ""
        public var modules: [ModuleResult] = []
        /// Whether text-encoder modules were written.
        public var textEncodersExtracted = false
        /// Largest text-encoder |ΔW| seen while deciding: the overall maximum when they were skipped,
        /// the first value above ``Options/minDiff`` otherwise (nil without text encoders).
        public var textEncoderMaxDifference: Float?
        /// Components present in both models that were left out (identical text encoders).
        public var skippedComponents: [ModelComponent] = []
        /// The largest rank written.
        public var maxRank = 0
        /// Mean Frobenius retention over the modules (of the unclamped rank cut, as kohya reports it).
        public var meanFrobeniusRetained = 0.0
        /// The factors as written against the exact ΔW, and the clamp's share.
        public var written = RetentionSummary()
    }

    /// Progress of the SVD pass.
    public struct Progress: Sendable {
        /// kohya stem of the module just finished.
        public var module: String
        public var done: Int
        public var total: Int
    }

    /// Extracts `tuned − base` and writes the LoRA to `output` (kohya metadata and hashes).
    /// - Parameters:
    ///   - base: the original model (diffusers folder, component file or single-file checkpoint).
    ///   - tuned: the fine-tuned model, of the same family and shapes.
    ///   - progress: called after each module, on the calling thread.
    /// - Throws: ``RankToolsError``: `.merge` when a model cannot be opened, `.modelMismatch` when the
    ///   models differ in family, layers or shapes, `.invalidOption`, `.invalidOutput`. Nothing is left
    ///   at `output` on failure; the models are never modified.
    public static func extract(base: URL, tuned: URL, options: Options, output: URL,
                               progress: (@Sendable (Progress) -> Void)? = nil) throws(RankToolsError) -> Report {
        guard options.rank > 0, (options.convRank ?? 1) > 0 else { throw .invalidOption("ranks must be positive") }
        if let q = options.clampQuantile, !(q > 0 && q <= 1) { throw .invalidOption("the clamp quantile must be in (0, 1]") }
        guard options.minDiff.isFinite, options.minDiff >= 0 else { throw .invalidOption("min-diff must be a finite number ≥ 0") }
        guard ElementConversion.canEncode(to: options.dtype) else { throw .invalidOption("cannot store factors as \(options.dtype.rawValue)") }
        let a = try ExtractionModel(base)
        let b = try ExtractionModel(tuned)
        let inputs = [base, tuned] + a.urls + b.urls
        try RankToolsOutput.checkOutput(output, overwrite: options.overwrite, protecting: inputs)

        var report = Report()
        report.outputPath = output.path
        (report.baseModel, report.baseModelEvidence) = a.family
        if let fa = a.family.0, let fb = b.family.0, fa != fb {
            throw .modelMismatch(parameter: "model family",
                                 reason: "the base is \(fa.displayName) (\(a.family.1)), the tuned model \(fb.displayName) (\(b.family.1))")
        }
        let modules = selectModules(a, includeResnets: options.convRank != nil)
        guard !modules.isEmpty else { throw .nothingToWrite(reason: "the base model has no LoRA-targeted layers") }
        for module in modules {
            guard let shapeB = b.shape(of: module.weight) else {
                throw .modelMismatch(parameter: module.weight.description, reason: "the tuned model has no such layer")
            }
            if shapeB != module.shape {
                throw .modelMismatch(parameter: module.weight.description, reason: "shape \(module.shape) in the base, \(shapeB) in the tuned model")
            }
        }

        // Text encoders: one decision for all of them, as kohya makes it.
        let textModules = modules.filter { $0.target.component != .unet }
        var keepText = false
        if !textModules.isEmpty {
            var largest: Float = 0
            for module in textModules {
                let d = maxAbs(try difference(module, a, b))
                largest = max(largest, d)
                if d > options.minDiff { keepText = true; largest = d; break }
            }
            report.textEncoderMaxDifference = largest
            report.textEncodersExtracted = keepText
            if !keepText { report.skippedComponents = Array(Set(textModules.map(\.target.component))).sorted() }
        }
        let work = keepText ? modules : modules.filter { $0.target.component == .unet }

        let naming = KohyaNaming(base: report.baseModel, usesSecondEncoder: a.components.contains(.textEncoder2))
        var writer = SafetensorsWriter(metadata: metadata(options: options, family: report.baseModel, base: base, tuned: tuned))
        for (i, module) in work.enumerated() {
            let name = naming.stem(module.target)
            let delta = try difference(module, a, b)
            let isKernelConv = module.shape.count == 4 && module.shape[2...].contains { $0 != 1 }
            let wanted = isKernelConv ? (options.convRank ?? options.rank) : options.rank
            let extracted: Extracted
            do {
                extracted = try factorise(delta, shape: module.shape, rank: wanted, clampQuantile: options.clampQuantile, dtype: options.dtype)
            } catch {
                throw .inModule(module: name, underlying: error)
            }
            let factors = extracted.factors
            writer.add(name: name + ".lora_up.weight", shape: factors.upShape, floats: factors.up, as: options.dtype)
            writer.add(name: name + ".lora_down.weight", shape: factors.downShape, floats: factors.down, as: options.dtype)
            writer.add(name: name + ".alpha", shape: [], floats: [Float(factors.rank)], as: options.dtype)
            report.modules.append(.init(name: name, isKernelConv: isKernelConv, rank: factors.rank,
                                        frobeniusRetained: extracted.choice.frobeniusRetained, written: extracted.written,
                                        maxAbsDifference: maxAbs(delta)))
            report.maxRank = max(report.maxRank, factors.rank)
            progress?(Progress(module: name, done: i + 1, total: work.count))
        }
        report.meanFrobeniusRetained = report.modules.map(\.frobeniusRetained).reduce(0, +) / Double(report.modules.count)
        report.written = RetentionSummary(report.modules.map(\.written))
        var recorded = options
        (recorded.rank, recorded.convRank) = RecordedRanks.effective(
            rank: options.rank, convRank: options.convRank, written: report.modules.map { ($0.isKernelConv, $0.rank) })
        writer.metadata = metadata(options: recorded, family: report.baseModel, base: base, tuned: tuned)
        try RankToolsOutput.writeWithHashes(writer, to: output, overwrite: options.overwrite, protecting: inputs)
        return report
    }

    /// One extracted module: its kohya factors, how much of ΔW's spectrum they keep, and what the
    /// stored factors retain.
    struct Extracted {
        var factors: LowRankFactors
        var choice: RankChoice
        var written: WrittenRetention
    }

    /// kohya's per-module factorisation of a layer delta of natural `shape` ([out, in] or
    /// [out, in, kh, kw]): rank capped at min(rank, out, in), SVD of the [out, in·kh·kw] matrix,
    /// `up = U·diag(S)`, `down = Vᵀ`, both clamped at the signed `clampQuantile`.
    static func factorise(_ delta: [Float], shape: [Int], rank wanted: Int, clampQuantile: Float?,
                          dtype: DType = .f32) throws(RankToolsError) -> Extracted {
        guard shape.count == 2 || shape.count == 4, shape.allSatisfy({ $0 > 0 }), delta.count == shape.reduce(1, *) else {
            throw .moduleFailed(module: "\(shape)", reason: "a layer of shape \(shape) is neither a Linear nor a Conv2d weight")
        }
        let rows = shape[0], columns = delta.count / rows
        let rank = min(wanted, rows, shape[1])
        let svd = try SingularDecomposition.dense(delta, rows: rows, columns: columns)
        let cut = svd.factors(rank: rank)
        var factors = LowRankFactors(up: cut.up, down: cut.down, rank: rank, layer: shape)
        if let q = clampQuantile { QuantileClamp.apply(&factors, quantile: q) }
        let written = try WrittenRetention.measure(exact: delta, cut: cut,
                                                   written: (WrittenRetention.stored(factors.up, as: dtype), WrittenRetention.stored(factors.down, as: dtype)),
                                                   rows: rows, rank: min(rank, svd.count), columns: columns)
        return Extracted(factors: factors, choice: RankChoice(rank: rank, spectrum: svd.s), written: written)
    }

    /// A targeted layer: its canonical weight key, module and shape (in the base model).
    struct Module {
        var weight: ParameterKey
        var target: ModuleTarget
        var shape: [Int]
    }

    /// kohya's module selection on canonical parameter names (NUMERICS §2.1): Linear / Conv2d
    /// weights (2-D or 4-D) inside UNet transformer blocks, the text encoders' attention and MLP,
    /// and with `includeResnets` the resnets, downsamplers and upsamplers.
    static func selectModules(_ model: ExtractionModel, includeResnets: Bool) -> [Module] {
        var result: [Module] = []
        for key in model.keys where key.name.hasSuffix(".weight") {
            guard let shape = model.shape(of: key), shape.count == 2 || shape.count == 4 else { continue }
            let path = String(key.name.dropLast(".weight".count))
            let parts = path.split(separator: ".")
            guard let component = key.component.loraComponent else { continue }
            let wanted: Bool
            switch component {
            case .unet:
                let inTransformer = parts.indices.contains { i in parts[i] == "attentions" && i + 2 < parts.count }
                let inResnet = parts.indices.contains { i in
                    ["resnets", "downsamplers", "upsamplers"].contains(parts[i]) && i + 2 < parts.count
                }
                wanted = inTransformer || (includeResnets && inResnet)
            case .textEncoder, .textEncoder2:
                wanted = parts.count >= 2 && parts.first == "text_model" && parts.contains("layers")
                    && (parts[parts.count - 2] == "self_attn" || parts[parts.count - 2] == "mlp")
            }
            if wanted { result.append(Module(weight: key, target: ModuleTarget(component: component, path: path), shape: shape)) }
        }
        return result.sorted { $0.target < $1.target }
    }

    /// W_tuned − W_base of a module, in Float32.
    static func difference(_ module: Module, _ a: ExtractionModel, _ b: ExtractionModel) throws(RankToolsError) -> [Float] {
        let wa = try a.values(of: module.weight)
        var wb = try b.values(of: module.weight)
        guard wa.count == wb.count else {
            throw .modelMismatch(parameter: module.weight.description, reason: "\(wa.count) values in the base, \(wb.count) in the tuned model")
        }
        for i in wb.indices { wb[i] -= wa[i] }
        return wb
    }

    static func maxAbs(_ values: [Float]) -> Float {
        var m: Float = 0
        for v in values { m = max(m, abs(v)) }
        return m
    }

    /// kohya's minimal extraction metadata (`ss_network_alpha` = str(float(dim))), plus the inputs.
    static func metadata(options: Options, family: BaseModel?, base: URL, tuned: URL) -> [String: String] {
        var args = "{}"
        if let conv = options.convRank {
            args = "{\"conv_dim\": \"\(conv)\", \"conv_alpha\": \"\(PythonFloat.format(Double(conv)))\"}"
        }
        var meta: [String: String] = [
            "ss_network_module": "networks.lora",
            "ss_network_dim": "\(options.rank)",
            "ss_network_alpha": PythonFloat.format(Double(options.rank)),
            "ss_network_args": args,
            "ss_v2": family == .sd2 ? "True" : "False",
            "lorakit_extract_base": base.lastPathComponent,
            "lorakit_extract_tuned": tuned.lastPathComponent,
            "lorakit_extract_min_diff": "\(options.minDiff)",
            "lorakit_extract_clamp_quantile": options.clampQuantile.map { "\($0)" } ?? "none",
        ]
        if let family {
            meta["ss_base_model_version"] = switch family {
            case .sd1: "sd_v1"
            case .sd2: "sd_v2"
            case .sdxl: "sdxl_base_v1-0"
            }
        }
        return meta
    }
}

/// One model opened for extraction (through ``ModelBundle``, the chosen weight variant): its
/// UNet and text-encoder files (mapped) and their canonical indexes.
struct ExtractionModel {
    let files: [WeightFile]
    let family: (BaseModel?, String)

    init(_ url: URL) throws(RankToolsError) {
        let model: ModelBundle
        do { model = try ModelBundle.open(url) } catch { throw .model(error) }
        files = model.chosenFiles(parts: MergePlan.patchedParts)
        guard !files.isEmpty else {
            throw .unsupportedModel(path: url.path, reason: "no unet/, text_encoder/ or text_encoder_2/ safetensors weights")
        }
        family = model.family
    }

    var urls: [URL] { files.map(\.url) }
    var components: Set<ModelPart> { files.reduce(into: Set()) { $0.formUnion($1.index.components) } }
    var keys: [ParameterKey] { files.flatMap { $0.index.locations.keys } }

    private func locate(_ key: ParameterKey) -> (WeightFile, ParameterLocation, TensorInfo)? {
        for file in files {
            if let location = file.index.location(of: key), let info = file.safetensors.info(named: location.tensorName) {
                return (file, location, info)
            }
        }
        return nil
    }

    /// The parameter's shape (a fused OpenCLIP third has a third of the rows); nil when absent.
    func shape(of key: ParameterKey) -> [Int]? {
        guard let (_, location, info) = locate(key) else { return nil }
        return location.canonicalShape(stored: info.shape)
    }

    /// The parameter's values in Float32 (one tensor decoded; its pages released afterwards).
    func values(of key: ParameterKey) throws(RankToolsError) -> [Float] {
        guard let (file, location, info) = locate(key) else {
            throw .modelMismatch(parameter: key.description, reason: "not in the model")
        }
        guard info.dtype.isFloatingPoint else {
            throw .invalidInput(path: file.url.path, reason: "\(info.name) is \(info.dtype.rawValue), not a floating-point weight")
        }
        if location.fusedThird != nil, (info.shape.first ?? 0) % 3 != 0 || info.shape.isEmpty {
            throw .invalidInput(path: file.url.path, reason: "fused tensor \(info.name) of shape \(info.shape) does not split in three")
        }
        // The canonical parameter: a fused third's rows, a transposed matrix turned back.
        let tensor = ModelTensor(name: key.name, view: file.safetensors.tensor(info), location: location)
        let values = tensor.floats()
        tensor.releasePages()
        return values
    }
}
