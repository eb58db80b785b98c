import Foundation

/// Merges several LoRAs into one, exactly, by concatenating ranks:
/// `up = [λ₁s₁U₁ | λ₂s₂U₂ | …]`, `down = [D₁; D₂; …]`, `alpha = rank`, so the merged
/// file's ΔW is Σ λᵢ·sᵢ·ΔWᵢ for every module. Written in kohya layout.
///
/// Only plain low-rank modules (LoRA, LoCon without a Tucker mid, no DoRA) can be
/// concatenated; anything else is reported as skipped (an SVD merge re-factorises those).
public enum LoRAConcatenation {
    /// What a concatenation did.
    public struct Report: Sendable, Codable, Equatable {
        public var modulesWritten = 0
        public var maxRank = 0
        public var outputPath = ""
        public var skipped: [MergeReport.SkippedModule] = []
        public var unusedKeys: [MergeReport.UnusedKey] = []
    }

    /// Concatenates `sources` (each a parsed LoRA with strengths) and writes the result to `output`.
    /// - Parameters:
    ///   - dtype: storage type of the factors (F32 keeps the sum exact; F16/BF16 round once).
    ///   - strict: fail instead of skipping modules that cannot be concatenated.
    /// - Throws: ``MergeError``; nothing is left at `output` on failure.
    public static func merge(
        _ sources: [(lora: LoRAFile, source: MergeSource)],
        output: URL,
        dtype: DType = .f32,
        strict: Bool = false,
        overwrite: Bool = false,
        allowBaseMismatch: Bool = false
    ) throws(MergeError) -> Report {
        guard !sources.isEmpty else { throw .noLoRAs }
        for (lora, source) in sources { if let reason = lora.notALoRAReason { throw .notALoRA(lora: source.name, reason: reason) } }
        guard ElementConversion.canEncode(to: dtype) else {
            throw .invalidOutput(path: output.path, reason: "cannot store factors as \(dtype.rawValue)")
        }
        let inputs = sources.compactMap { $0.lora.file.path.map(URL.init(fileURLWithPath:)) }
        if let reason = OutputPath.conflict(output: output, inputs: inputs) { throw .invalidOutput(path: output.path, reason: reason) }
        if OutputPath.isFolder(output) { throw .invalidOutput(path: output.path, reason: "is a folder; the merged LoRA is one file") }
        if !overwrite, FileManager.default.fileExists(atPath: output.path) { throw .safetensors(.outputExists(path: output.path)) }
        var report = Report()
        report.outputPath = output.path
        if let mismatch = LoRAFamilyCheck.mismatch(sources, allowMismatch: allowBaseMismatch) {
            throw .mixedBaseModels(loras: mismatch.loras, families: mismatch.families)
        }
        let bases = sources.compactMap { $0.lora.baseModel.detected }

        // Group the modules of every source by target, in a stable order.
        var order: [ModuleTarget] = []
        var groups: [ModuleTarget: [(module: LoRAModule, strength: Float, name: String)]] = [:]
        for (lora, source) in sources {
            report.unusedKeys += source.unusedKeys
            for module in lora.modules {
                if groups[module.target] == nil { order.append(module.target) }
                groups[module.target, default: []].append((module, source.strength(for: module.target.component), source.name))
            }
        }
        let naming = KohyaNaming(base: bases.first, usesSecondEncoder: order.contains { $0.component == .textEncoder2 })

        var writer = SafetensorsWriter(metadata: metadata(sources, dtype: dtype))
        for target in order.sorted() {
            let parts = groups[target] ?? []
            do {
                let merged = try concatenate(parts.map { ($0.module, $0.strength) }, target: target)
                let key = naming.stem(target)
                writer.add(name: key + ".lora_up.weight", shape: merged.upShape, floats: merged.up, as: dtype)
                writer.add(name: key + ".lora_down.weight", shape: merged.downShape, floats: merged.down, as: dtype)
                writer.add(name: key + ".alpha", shape: [], floats: [Float(merged.rank)], as: dtype)
                report.modulesWritten += 1
                report.maxRank = max(report.maxRank, merged.rank)
            } catch {
                if strict {
                    throw .patchFailed(lora: parts.map(\.name).joined(separator: " + "), module: target.description,
                                       underlying: .unsupported(target: target.description, reason: error.reason))
                }
                report.skipped.append(.init(module: target.description, reason: error.reason))
            }
        }
        guard report.modulesWritten > 0 else { throw .nothingToMerge(skipped: report.skipped) }
        if strict, let first = report.unusedKeys.first {
            throw .unusedKeys(lora: "merge", count: report.unusedKeys.count, first: first.key)
        }
        do {
            try writer.write(to: output, overwrite: overwrite, protecting: inputs)
        } catch let error as SafetensorsError {
            throw .safetensors(error)
        } catch {
            throw .fileSystem(path: output.path, reason: "\(error)")
        }
        return report
    }

    struct Skip: Error { var reason: String }

    /// Rank concatenation of the parts' factors, strengths and scales folded into `up`.
    static func concatenate(_ parts: [(module: LoRAModule, strength: Float)], target: ModuleTarget) throws(Skip) -> LowRankFactors {
        var ups: [(values: [Float], rank: Int)] = []
        var downs: [[Float]] = []
        var outFeatures = -1
        var downTail: [Int] = []
        var upTail: [Int] = []
        for (module, strength) in parts {
            guard let f = module.lowRankFactors else {
                throw Skip(reason: "\(module.family.rawValue)\(module.isDoRA ? " + DoRA" : "")\(module.hasMid ? " with lora_mid" : "") is not a plain low-rank module; use an SVD merge (--rank N)")
            }
            guard f.downShape.count >= 2, f.upShape.count >= 2, f.upShape[1] == f.downShape[0] else {
                throw Skip(reason: "factor shapes \(f.upShape) and \(f.downShape) do not chain")
            }
            let rank = f.downShape[0]
            let out = f.upShape[0]
            let tail = Array(f.downShape.dropFirst())
            if outFeatures < 0 {
                outFeatures = out
                downTail = tail
                upTail = Array(f.upShape.dropFirst(2))
            } else if out != outFeatures || tail.reduce(1, *) != downTail.reduce(1, *) || (tail.count == downTail.count && tail != downTail) {
                throw Skip(reason: "the LoRAs disagree on the layer's shape: \([outFeatures] + downTail) vs \([out] + tail)")
            }
            guard f.up.count == out * rank * max(1, f.upShape.dropFirst(2).reduce(1, *)), f.upShape.dropFirst(2).allSatisfy({ $0 == 1 }) else {
                throw Skip(reason: "up factor \(f.upShape) is not [out, rank(, 1, 1)]")
            }
            let factor = strength * module.scale
            ups.append((f.up.map { $0 * factor }, rank))
            downs.append(f.down)
        }
        let rank = ups.reduce(0) { $0 + $1.rank }
        // up: [out, Σr] row-major, each source's columns side by side.
        var up = [Float](repeating: 0, count: outFeatures * rank)
        var column = 0
        for (values, r) in ups {
            for o in 0..<outFeatures {
                for c in 0..<r { up[o * rank + column + c] = values[o * r + c] }
            }
            column += r
        }
        return LowRankFactors(up: up, upShape: [outFeatures, rank] + upTail, down: downs.flatMap { $0 }, downShape: [rank] + downTail)
    }

    static func kohyaName(_ target: ModuleTarget, usesSecondEncoder: Bool) -> String {
        KohyaNaming.plainStem(target, usesSecondEncoder: usesSecondEncoder)
    }

    static func metadata(_ sources: [(lora: LoRAFile, source: MergeSource)], dtype: DType) -> [String: String] {
        let list = sources.map { entry -> [String: Any] in
            // Written as typed: the shortest decimal that reads back as the Float (0.6, not 0.6000000238418579).
            func typed(_ f: Float) -> Double { Double("\(f)") ?? Double(f) }
            var item: [String: Any] = ["name": entry.source.name, "strength": typed(entry.source.strength)]
            if let u = entry.source.unetStrength { item["unet_strength"] = typed(u) }
            if let t = entry.source.textEncoderStrength { item["te_strength"] = typed(t) }
            return item
        }
        let json = (try? JSONSerialization.data(withJSONObject: list, options: [.sortedKeys])).flatMap { String(data: $0, encoding: .utf8) } ?? "[]"
        var meta: [String: String] = [
            "ss_network_module": "networks.lora",
            "lorakit_merge_method": "concat",
            "lorakit_merge_sources": json,
        ]
        if let base = sources.compactMap({ $0.lora.baseModel.detected }).first {
            meta["ss_base_model_version"] = switch base {
            case .sd1: "sd_v1"
            case .sd2: "sd_v2"
            case .sdxl: "sdxl_base_v1-0"
            }
            meta["ss_v2"] = base == .sd2 ? "True" : "False"
        }
        return meta
    }
}
