import Foundation

/// Changes the rank of a LoRA's modules the way kohya `networks/resize_lora.py` does
/// (NUMERICS §3.2): per module ΔW = up·down, SVD, keep a rank chosen by a ``RankRule``
/// capped at the requested rank, `up = U·diag(S)`, `down = Vᵀ`, and `alpha = s·rank` so
/// the effective strength α/r is kept.
///
/// The SVD of up·down is taken without forming ΔW (QR of both factors, `sgesdd` of the
/// r×r core). A module resized to more than its old rank keeps the rank asked for, as kohya does: its extra
/// singular values are zero (zero up columns, down rows completing Vᵀ to an orthonormal set), no full SVD taken.
/// Key names are kept; the new rank and scale are recorded in the layout of the module's format
/// (``ResizeLayout``: a `<stem>.alpha` next to kohya keys, as kohya does; the `lora_adapter_metadata` config
/// for PEFT keys; `unet:N:rank` metadata for cloneofsimo);
/// modules that are not plain low-rank (LoHa, LoKr, Tucker mid, full, IA³, norm) and
/// other keys are copied unchanged, floating tensors stored in the output dtype.
///
/// ```swift
/// let lora = try LoRAFile(contentsOf: input)
/// let report = try LoRAResize.resize(lora, options: .init(rank: 32, rule: .svFrobenius(0.9)), output: out)
/// ```
public enum LoRAResize {
    /// What to keep.
    public struct Options: Sendable {
        /// The rank (the cap for a dynamic rule).
        public var rank: Int
        /// The rank for conv modules (4-D factors); nil uses ``rank``.
        public var convRank: Int?
        /// How the rank is chosen.
        public var rule: RankRule
        /// Storage type of floating tensors in the output (kohya's `--save_precision`, float by default).
        public var dtype: DType
        /// Replace an existing output (never an input).
        public var overwrite: Bool

        public init(rank: Int, convRank: Int? = nil, rule: RankRule = .fixed, dtype: DType = .f32, overwrite: Bool = false) {
            self.rank = rank
            self.convRank = convRank
            self.rule = rule
            self.dtype = dtype
            self.overwrite = overwrite
        }
    }

    /// One resized module (kohya's `--verbose` line).
    public struct ModuleResult: Sendable, Codable, Equatable {
        /// The module's stem as spelled in the file.
        public var name: String
        public var isConv: Bool
        public var oldRank: Int
        public var newRank: Int
        public var newAlpha: Float
        /// Retained sum / Frobenius figures and max(S) ratio.
        public var choice: RankChoice
    }

    /// What a resize did.
    public struct Report: Sendable, Codable, Equatable {
        public var outputPath = ""
        public var modules: [ModuleResult] = []
        /// Modules copied unchanged, with the reason.
        public var kept: [MergeReport.SkippedModule] = []
        /// The largest rank before resizing.
        public var oldMaxRank = 0
        /// Mean and population standard deviation of the per-module Frobenius retention.
        public var meanFrobeniusRetained = 0.0
        public var stdFrobeniusRetained = 0.0
    }

    /// Factors of one resized module.
    public struct ResizedFactors: Sendable {
        /// up [out, rank] (or [out, rank, 1, 1]) and down [rank, in] (or [rank, in, kh, kw]).
        public var factors: LowRankFactors
        public var alpha: Float
        public var choice: RankChoice

        public var up: [Float] { factors.up }
        public var upShape: [Int] { factors.upShape }
        public var down: [Float] { factors.down }
        public var downShape: [Int] { factors.downShape }
    }

    /// Progress of the resize: the module just resized (its kohya stem), and how many of how many.
    public typealias Progress = LoRAExtraction.Progress

    /// Resizes `lora` and writes the result to `output` (kohya metadata updates, hashes recomputed).
    /// - Parameter progress: called after each resized module, on the calling thread.
    /// - Throws: ``RankToolsError``; nothing is written on failure and the input is never modified.
    public static func resize(_ lora: LoRAFile, options: Options, output: URL,
                              progress: (@Sendable (Progress) -> Void)? = nil) throws(RankToolsError) -> Report {
        guard options.rank > 0, (options.convRank ?? 1) > 0 else { throw .invalidOption("ranks must be positive") }
        guard ElementConversion.canEncode(to: options.dtype) else { throw .invalidOption("cannot store tensors as \(options.dtype.rawValue)") }
        if let reason = lora.notALoRAReason { throw .invalidInput(path: lora.file.path ?? "input", reason: "not a LoRA: \(reason)") }
        let inputs = RankToolsOutput.url(of: lora).map { [$0] } ?? []
        try RankToolsOutput.checkOutput(output, overwrite: options.overwrite, protecting: inputs)
        var report = Report()
        report.outputPath = output.path
        var replaced: [String: SafetensorsWriter.Entry] = [:]
        var lastAlpha: Float?
        var metadataUpdates: [String: String] = [:]
        let peftConfig = lora.file.metadata?[PEFTKeyMapping.metadataKey]
        var peftModules: [ModelComponent: [(name: String, rank: Int, alpha: Float)]] = [:]
        let total = lora.modules.filter(isResizable).count
        for module in lora.modules {
            guard isResizable(module), let up = module.tensors[.up], let down = module.tensors[.down] else {
                report.kept.append(.init(module: module.target.description, reason: keptReason(module)))
                continue
            }
            let isConv = down.shape.count == 4
            let cap = isConv ? (options.convRank ?? options.rank) : options.rank
            let stem = alphaStem(downKey: down.name)
            let resized: ResizedFactors
            do {
                resized = try resize(up: up.floats(), upShape: up.shape, down: down.floats(), downShape: down.shape,
                                     scale: module.scale, maxRank: cap, rule: options.rule)
            } catch {
                throw .inModule(module: stem, underlying: error)
            }
            // The new rank and scale go where this module's format keeps them (see ResizeLayout).
            let storage = ResizeLayout.storage(for: module, down: down, stem: stem, hasPEFTConfig: peftConfig != nil)
            var newUp = resized.up
            let newRank = resized.downShape[0]
            if !ResizeLayout.holdsAlpha(storage), resized.alpha != Float(newRank), newRank > 0 {
                let fold = resized.alpha / Float(newRank)
                for i in newUp.indices { newUp[i] *= fold }
            }
            replaced[up.name] = .init(name: up.name, dtype: options.dtype, shape: resized.upShape, source: .floats(newUp))
            replaced[down.name] = .init(name: down.name, dtype: options.dtype, shape: resized.downShape, source: .floats(resized.down))
            switch storage {
            case .alphaTensor(let name):
                replaced[name] = .init(name: name, dtype: options.dtype, shape: [], source: .floats([resized.alpha]))
            case .peftConfig:
                peftModules[module.target.component, default: []].append(
                    (LoRAConversion.patternName(module.target), newRank, resized.alpha))
            case .cloneofsimoRank(let key):
                metadataUpdates[key] = "\(newRank)"
            case .implicit:
                break
            }
            report.oldMaxRank = max(report.oldMaxRank, down.shape[0])
            report.modules.append(.init(name: stem, isConv: isConv, oldRank: down.shape[0], newRank: resized.choice.rank,
                                        newAlpha: resized.alpha, choice: resized.choice))
            lastAlpha = resized.alpha
            progress?(Progress(module: stem, done: report.modules.count, total: total))
        }
        guard !report.modules.isEmpty else { throw .nothingToWrite(reason: "the file has no plain LoRA/LoCon modules to resize") }
        let fro = report.modules.map(\.choice.frobeniusRetained)
        report.meanFrobeniusRetained = fro.reduce(0, +) / Double(fro.count)
        report.stdFrobeniusRetained = (fro.map { ($0 - report.meanFrobeniusRetained) * ($0 - report.meanFrobeniusRetained) }
            .reduce(0, +) / Double(fro.count)).squareRoot()

        var recorded = options
        if !options.rule.isDynamic {
            (recorded.rank, recorded.convRank) = RecordedRanks.effective(
                rank: options.rank, convRank: options.convRank, written: report.modules.map { ($0.isConv, $0.newRank) })
        }
        // PEFT modules left unchanged keep their rank and alpha in the rewritten config.
        if peftConfig != nil, !peftModules.isEmpty {
            let resizedTargets = Set(peftModules.flatMap { c, list in list.map { "\(c.rawValue)/\($0.name)" } })
            for module in lora.modules where module.sourceKeys.contains(where: { $0.hasSuffix(".lora_A.weight") }) {
                let name = LoRAConversion.patternName(module.target)
                guard !resizedTargets.contains("\(module.target.component.rawValue)/\(name)"), let rank = module.rank else { continue }
                peftModules[module.target.component, default: []].append((name, rank, module.scale * Float(rank)))
            }
        }
        var meta = metadata(lora.file.metadata ?? [:], options: recorded, oldRank: report.oldMaxRank, lastAlpha: lastAlpha ?? 0,
                            kohyaFields: lora.format == .kohya || lora.format == .lycoris || lora.file.metadata?["ss_network_dim"] != nil)
        meta.merge(metadataUpdates) { $1 }
        if let peftConfig, !peftModules.isEmpty {
            meta[PEFTKeyMapping.metadataKey] = ResizeLayout.peftMetadata(original: peftConfig, modules: peftModules)
        }
        var writer = SafetensorsWriter(metadata: meta)
        for info in lora.file.tensors where replaced[info.name] == nil {
            writer.add(copied(lora.file.tensor(info), dtype: options.dtype))
        }
        for entry in replaced.values { writer.add(entry) }
        try RankToolsOutput.writeWithHashes(writer, to: output, overwrite: options.overwrite, protecting: inputs)
        return report
    }

    /// Resizes one module's factors. `scale` is α_old/r_old (1 without alpha).
    /// - Throws: ``RankToolsError`` when the factors do not chain.
    public static func resize(up: [Float], upShape: [Int], down: [Float], downShape: [Int], scale: Float,
                              maxRank: Int, rule: RankRule) throws(RankToolsError) -> ResizedFactors {
        guard upShape.count >= 2, downShape.count >= 2, upShape[1] == downShape[0],
              upShape.dropFirst(2).allSatisfy({ $0 == 1 }),
              up.count == upShape.reduce(1, *), down.count == downShape.reduce(1, *) else {
            throw .moduleFailed(module: "\(upShape)·\(downShape)", reason: "up/down factors do not chain")
        }
        let rows = upShape[0], oldRank = downShape[0], columns = down.count / max(oldRank, 1)
        let svd = try SingularDecomposition.product(up: up, down: down, rows: rows, rank: oldRank, columns: columns)
        let cap = min(maxRank, svd.fullLength)
        let choice = rule.choose(singularValues: svd.s, length: svd.fullLength, maxRank: cap)
        let layer = [rows] + downShape.dropFirst()
        guard choice.rank > svd.count else {
            return ResizedFactors(factors: svd.factors(rank: choice.rank, layer: layer), alpha: scale * Float(choice.rank), choice: choice)
        }
        // Growing past the old rank: ΔW has no more directions, so the singular values past it are zero. kohya
        // takes the full SVD of ΔW and keeps the requested rank, its extra up columns U·S ≈ 0 and its extra down
        // rows further orthonormal directions of Vᵀ; so do we, without the full SVD: zero up columns and down rows
        // completing Vᵀ to an orthonormal set (ΔW and α/r·up·down unchanged, the file of the rank asked for).
        let (thinUp, thinDown) = svd.factors(rank: svd.count)
        let kept = svd.count, rank = choice.rank
        var paddedUp = [Float](repeating: 0, count: rows * rank)
        for i in 0..<rows {
            for j in 0..<kept { paddedUp[i * rank + j] = thinUp[i * kept + j] }
        }
        let paddedDown = OrthonormalCompletion.rows(thinDown, count: kept, columns: columns, to: rank)
        let factors = LowRankFactors(up: paddedUp, down: paddedDown, rank: rank, layer: layer)
        return ResizedFactors(factors: factors, alpha: scale * Float(rank), choice: choice)
    }

    /// The key stem kohya writes `.alpha` under: the down key without `.lora_down.weight`,
    /// `.lora_A.weight`, `.down.weight` (or the same without `.weight`).
    static func alphaStem(downKey: String) -> String {
        var parts = downKey.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        let names: Set<String> = ["lora_down", "lora_A", "down"]
        if parts.count >= 2, names.contains(parts[parts.count - 2]) {
            parts.removeLast(2)
        } else if let last = parts.last, names.contains(last) {
            parts.removeLast()
        } else if parts.count >= 2 {
            parts.removeLast(2)
        }
        return parts.joined(separator: ".")
    }

    /// A plain low-rank module (LoRA, or LoCon without a Tucker mid): what a resize changes.
    static func isResizable(_ module: LoRAModule) -> Bool {
        module.tensors[.up] != nil && module.tensors[.down] != nil && module.tensors[.mid] == nil
            && (module.family == .lora || module.family == .locon)
    }

    static func keptReason(_ module: LoRAModule) -> String {
        if module.hasMid { return "LoCon with a Tucker lora_mid: copied unchanged" }
        return "\(module.family.displayName) is not a plain low-rank module: copied unchanged"
    }

    /// A tensor copied into the output: floating tensors re-encoded as `dtype` (kohya casts
    /// everything to the save precision), others byte for byte.
    static func copied(_ view: TensorView, dtype: DType) -> SafetensorsWriter.Entry {
        if view.dtype.isFloatingPoint, view.dtype != dtype {
            return .init(name: view.name, dtype: dtype, shape: view.shape, source: .floats(view.floats()))
        }
        return .init(name: view.name, dtype: view.dtype, shape: view.shape, source: .view(view))
    }

    /// kohya's metadata update: training comment, `ss_network_dim` / `ss_network_alpha`
    /// (`Dynamic` for dynamic rules). Hashes are added when writing. Without `kohyaFields` (a file of
    /// another format that has no kohya training metadata) no `ss_*` key is added.
    static func metadata(_ original: [String: String], options: Options, oldRank: Int, lastAlpha: Float,
                         kohyaFields: Bool = true) -> [String: String] {
        var meta = original
        meta["sshs_model_hash"] = nil
        meta["sshs_legacy_hash"] = nil
        guard kohyaFields else { return meta }
        let comment = original["ss_training_comment"] ?? ""
        if let method = options.rule.methodName, let p = options.rule.parameter {
            meta["ss_training_comment"] = "Dynamic resize with \(method): \(PythonFloat.format(p)) from \(oldRank); \(comment)"
            meta["ss_network_dim"] = "Dynamic"
            meta["ss_network_alpha"] = "Dynamic"
        } else {
            let conv = options.convRank ?? options.rank
            let convDesc = conv == options.rank ? "" : " (conv: \(conv))"
            meta["ss_training_comment"] = "dimension is resized from \(oldRank) to \(options.rank)\(convDesc); \(comment)"
            meta["ss_network_dim"] = "\(options.rank)"
            meta["ss_network_alpha"] = PythonFloat.format(Double(lastAlpha))
        }
        return meta
    }
}
