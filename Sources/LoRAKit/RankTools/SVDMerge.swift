import Foundation

/// Merges several LoRAs into one of a chosen rank, as kohya `networks/svd_merge_lora.py` does
/// (NUMERICS §3.3): per module the full ΔW = Σ λᵢ·sᵢ·ΔWᵢ is re-factorised by SVD to the rank
/// (`convRank` for k×k convs; capped at min(in, out)), `up = U·diag(S)`, `down = Vᵀ`, both clamped
/// at the signed 0.99 quantile of their values, `alpha = rank`. Written in kohya layout.
///
/// Plain low-rank modules are not expanded: their factors are concatenated and the SVD of the
/// product is taken from the small core (same result as the SVD of the summed ΔW). Other additive
/// families (LoHa, LoKr, Tucker LoCon, full) contribute their dense ΔW. IA³ and DoRA modules
/// cannot be summed into a weight-independent ΔW and are skipped (reported).
///
/// ```swift
/// let report = try SVDMerge.merge([(a, MergeSource(lora: a, strength: 0.6)), (b, MergeSource(lora: b, strength: 0.4))],
///                                 options: .init(rank: 32), output: out)
/// ```
public enum SVDMerge {
    public struct Options: Sendable {
        /// Rank of linear and 1×1-conv modules.
        public var rank: Int
        /// Rank of k×k conv modules; nil uses ``rank``.
        public var convRank: Int?
        /// Signed quantile the factors are clamped at (kohya: 0.99); nil disables clamping.
        public var clampQuantile: Float?
        /// Storage type of the factors.
        public var dtype: DType
        /// Fail instead of skipping modules that cannot be merged, or on unused keys.
        public var strict: Bool
        /// Replace an existing output (never an input).
        public var overwrite: Bool
        /// Merge LoRAs made for different model families anyway.
        public var allowBaseMismatch: Bool

        public init(rank: Int, convRank: Int? = nil, clampQuantile: Float? = 0.99, dtype: DType = .f32,
                    strict: Bool = false, overwrite: Bool = false, allowBaseMismatch: Bool = false) {
            self.rank = rank
            self.convRank = convRank
            self.clampQuantile = clampQuantile
            self.dtype = dtype
            self.strict = strict
            self.overwrite = overwrite
            self.allowBaseMismatch = allowBaseMismatch
        }
    }

    /// What an SVD merge did.
    public struct Report: Sendable, Codable, Equatable {
        public var outputPath = ""
        public var modulesWritten = 0
        /// The largest rank written.
        public var maxRank = 0
        /// Mean Frobenius retention Σ S[:rank]² / Σ S² (square-rooted) over the modules, before clamping.
        public var meanFrobeniusRetained = 0.0
        /// The factors as written (clamped, in the output dtype) against the exact Σ λ·s·ΔW.
        public var written = RetentionSummary()
        public var skipped: [MergeReport.SkippedModule] = []
        public var unusedKeys: [MergeReport.UnusedKey] = []
    }

    /// Merges `sources` and writes the result to `output` (kohya metadata and hashes).
    /// - Throws: ``RankToolsError``; nothing is left at `output` on failure; inputs are never modified.
    public static func merge(_ sources: [(lora: LoRAFile, source: MergeSource)], options: Options, output: URL) throws(RankToolsError) -> Report {
        guard !sources.isEmpty else { throw .invalidOption("no LoRA given") }
        for (lora, source) in sources { if let reason = lora.notALoRAReason { throw .notALoRA(lora: source.name, reason: reason) } }
        guard options.rank > 0, (options.convRank ?? 1) > 0 else { throw .invalidOption("ranks must be positive") }
        if let q = options.clampQuantile, !(q > 0 && q <= 1) { throw .invalidOption("the clamp quantile must be in (0, 1]") }
        guard ElementConversion.canEncode(to: options.dtype) else { throw .invalidOption("cannot store factors as \(options.dtype.rawValue)") }
        if let mismatch = LoRAFamilyCheck.mismatch(sources, allowMismatch: options.allowBaseMismatch) {
            throw .mixedBaseModels(loras: mismatch.loras, families: mismatch.families)
        }
        let inputs = sources.compactMap { RankToolsOutput.url(of: $0.lora) }
        try RankToolsOutput.checkOutput(output, overwrite: options.overwrite, protecting: inputs)
        var report = Report()
        report.outputPath = output.path
        var order: [ModuleTarget] = []
        var groups: [ModuleTarget: [(module: LoRAModule, strength: Float, name: String)]] = [:]
        for (lora, source) in sources {
            report.unusedKeys += source.unusedKeys
            for module in lora.modules {
                if groups[module.target] == nil { order.append(module.target) }
                groups[module.target, default: []].append((module, source.strength(for: module.target.component), source.name))
            }
        }
        if options.strict, let first = report.unusedKeys.first {
            throw .moduleFailed(module: first.key, reason: "unused key (\(first.reason)); refusing in strict mode")
        }
        let naming = KohyaNaming(base: sources.lazy.compactMap { $0.lora.baseModel.detected }.first,
                                 usesSecondEncoder: order.contains { $0.component == .textEncoder2 })
        var writer = SafetensorsWriter(metadata: metadata(sources, options: options))
        var fro: [Double] = []
        var written: [WrittenRetention] = []
        var ranks: [(usesConvRank: Bool, rank: Int)] = []
        for target in order.sorted() {
            let parts = groups[target] ?? []
            do {
                let merged = try mergeModule(parts.map { ($0.module, $0.strength) }, options: options)
                let key = naming.stem(target)
                let factors = merged.factors
                writer.add(name: key + ".lora_up.weight", shape: factors.upShape, floats: factors.up, as: options.dtype)
                writer.add(name: key + ".lora_down.weight", shape: factors.downShape, floats: factors.down, as: options.dtype)
                writer.add(name: key + ".alpha", shape: [], floats: [Float(factors.rank)], as: options.dtype)
                report.modulesWritten += 1
                report.maxRank = max(report.maxRank, merged.factors.rank)
                fro.append(merged.frobeniusRetained)
                written.append(merged.written)
                ranks.append((factors.downShape.count == 4 && factors.downShape[2...].contains { $0 != 1 }, factors.rank))
            } catch {
                if options.strict { throw error }
                report.skipped.append(.init(module: target.description, reason: error.description))
            }
        }
        guard report.modulesWritten > 0 else { throw .nothingToWrite(reason: "no module could be merged") }
        report.meanFrobeniusRetained = fro.reduce(0, +) / Double(fro.count)
        report.written = RetentionSummary(written)
        var recorded = options
        (recorded.rank, recorded.convRank) = RecordedRanks.effective(rank: options.rank, convRank: options.convRank, written: ranks)
        writer.metadata = metadata(sources, options: recorded)
        try RankToolsOutput.writeWithHashes(writer, to: output, overwrite: options.overwrite, protecting: inputs)
        return report
    }

    /// One merged module: its kohya factors, the share of the summed ΔW's spectrum they keep, and
    /// what the stored factors retain.
    struct Merged {
        var factors: LowRankFactors
        var frobeniusRetained: Double
        var written: WrittenRetention
    }

    /// Σ λ·s·ΔW of the parts, re-factorised to the module's rank.
    static func mergeModule(_ parts: [(module: LoRAModule, strength: Float)], options: Options) throws(RankToolsError) -> Merged {
        let name = parts.first?.module.target.description ?? "?"
        for (module, _) in parts {
            if module.isDoRA { throw .moduleFailed(module: name, reason: "DoRA depends on the base weight; it cannot be SVD-merged") }
            if !module.family.isAdditive { throw .moduleFailed(module: name, reason: "IA3 scales the weight; it has no additive ΔW") }
            if !module.patchesWeight { throw .moduleFailed(module: name, reason: "the module has no weight delta") }
        }
        let svd: SingularDecomposition
        let shape: [Int]
        /// The exact Σ λ·s·ΔW as a dense [rows, columns] matrix (formed only to measure what is written).
        let exact: () throws(RankToolsError) -> [Float]
        if let factors = try? LoRAConcatenation.concatenate(parts, target: parts[0].module.target) {
            shape = factors.layerShape
            let columns = factors.columns
            svd = try SingularDecomposition.product(up: factors.up, down: factors.down, rows: shape[0], rank: factors.rank, columns: columns)
            exact = { () throws(RankToolsError) in
                try RankToolsError.la { () throws(LinearAlgebraError) in
                    try BLAS.product(m: shape[0], n: columns, k: factors.rank, factors.up, factors.down)
                }
            }
        } else {
            let dense = try denseSum(parts, name: name)
            (svd, shape) = (dense.svd, dense.shape)
            exact = { () throws(RankToolsError) in dense.sum }
        }
        let isKernelConv = shape.count == 4 && shape[2...].contains { $0 != 1 }
        let wanted = isKernelConv ? (options.convRank ?? options.rank) : options.rank
        var rank = min(wanted, shape[0], shape.count > 1 ? shape[1] : 1)
        var decomposition = svd
        if rank > decomposition.count {
            // More than the summed ranks: the extra directions carry zero singular values.
            let dense = try denseSum(parts, name: name)
            decomposition = dense.svd
            rank = min(rank, decomposition.count)
        }
        let cut = decomposition.factors(rank: rank)
        var factors = LowRankFactors(up: cut.up, down: cut.down, rank: rank, layer: shape)
        if let q = options.clampQuantile { QuantileClamp.apply(&factors, quantile: q) }
        let choice = RankChoice(rank: rank, spectrum: decomposition.s)
        let written = try WrittenRetention.measure(
            exact: try exact(), cut: cut,
            written: (WrittenRetention.stored(factors.up, as: options.dtype), WrittenRetention.stored(factors.down, as: options.dtype)),
            rows: shape[0], rank: rank, columns: factors.columns)
        return Merged(factors: factors, frobeniusRetained: choice.frobeniusRetained, written: written)
    }

    /// The dense Σ λ·s·ΔW (natural shapes must agree in element count and output size) and its SVD.
    static func denseSum(_ parts: [(module: LoRAModule, strength: Float)], name: String) throws(RankToolsError) -> (svd: SingularDecomposition, shape: [Int], sum: [Float]) {
        var sum: [Float] = []
        var shape: [Int] = []
        for (module, strength) in parts {
            let natural: DeltaMath.Shaped
            do { try module.checkDeltaSize(fitting: nil); natural = try module.naturalDelta() } catch { throw .lora(error) }
            if shape.isEmpty {
                shape = natural.shape
                sum = [Float](repeating: 0, count: natural.values.count)
            } else if natural.values.count != sum.count || natural.shape.first != shape.first {
                throw .moduleFailed(module: name, reason: "the LoRAs disagree on the layer's shape (\(natural.shape) vs \(shape))")
            }
            if natural.shape.count > shape.count { shape = natural.shape }
            try RankToolsError.la { () throws(LinearAlgebraError) in try BLAS.axpy(strength * module.scale, natural.values, &sum) }
        }
        guard shape.count >= 2, let rows = shape.first, rows > 0 else {
            throw .moduleFailed(module: name, reason: "ΔW of shape \(shape) is not a matrix")
        }
        return (try SingularDecomposition.dense(sum, rows: rows, columns: sum.count / rows), shape, sum)
    }

    /// kohya's minimal network metadata for an SVD merge, plus the sources.
    static func metadata(_ sources: [(lora: LoRAFile, source: MergeSource)], options: Options) -> [String: String] {
        var meta = LoRAConcatenation.metadata(sources, dtype: options.dtype)
        meta["lorakit_merge_method"] = "svd"
        meta["ss_network_dim"] = "\(options.rank)"
        meta["ss_network_alpha"] = "\(options.rank)"
        if let conv = options.convRank {
            meta["ss_network_args"] = "{\"conv_dim\": \"\(conv)\", \"conv_alpha\": \"\(conv)\"}"
        }
        return meta
    }
}
