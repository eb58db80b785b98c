import Foundation
import LoRAKit

/// Formatting of `inspect` output: human text and a JSON object.
/// The generic safetensors part is always shown; the LoRA part only when the file holds LoRA modules.
enum InspectReport {
    struct Options {
        var verbose = false
        var stats = false
    }

    // MARK: - JSON

    static func json(for file: SafetensorsFile, lora: LoRAFile? = nil, options: Options = Options()) -> [String: Any] {
        let summary = file.summary
        var metadata: [String: Any] = [:]
        for (k, v) in file.metadata ?? [:] { metadata[k] = MetadataFormatting.decodedJSON(v) ?? v }
        var out: [String: Any] = [
            "path": file.path ?? "",
            "file_size": file.fileSize,
            "header_length": file.headerLength,
            "tensor_count": summary.tensorCount,
            "parameter_count": summary.parameterCount,
            "data_bytes": summary.dataByteCount,
            "dtypes": summary.byDType.map {
                ["dtype": $0.dtype.rawValue, "tensors": $0.tensorCount, "parameters": $0.parameterCount, "bytes": $0.byteCount]
            },
            "tensors": file.tensors.sorted { $0.name.compare($1.name, options: .numeric) == .orderedAscending }.map {
                ["name": $0.name, "dtype": $0.dtype.rawValue, "shape": $0.shape, "data_offsets": [$0.dataOffsets.lowerBound, $0.dataOffsets.upperBound]] as [String: Any]
            },
            "metadata": file.metadata == nil ? NSNull() : metadata,
        ]
        if let lora, lora.isLoRA {
            out["lora"] = LoRAInspection.json(lora, options: options)
        } else {
            out["lora"] = NSNull()
        }
        return out
    }

    // MARK: - Text

    static func text(for file: SafetensorsFile, lora: LoRAFile? = nil, options: Options = Options()) -> String {
        let summary = file.summary
        var out = ""
        out += "File:        \(file.path ?? "-")\n"
        out += "Size:        \(Formatting.bytes(file.fileSize)) (header \(file.headerLength) bytes)\n"
        out += "Tensors:     \(summary.tensorCount)\n"
        out += "Parameters:  \(Formatting.grouped(summary.parameterCount))\n"
        for t in summary.byDType {
            out += "  \(t.dtype.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)) \(t.tensorCount) tensors, \(Formatting.grouped(t.parameterCount)) parameters, \(Formatting.bytes(t.byteCount))\n"
        }
        if let lora, lora.isLoRA {
            out += "\n" + LoRAInspection.text(lora, options: options)
        } else {
            out += "\nLoRA:        no LoRA modules recognised\n"
        }
        out += "\n"
        let rows = file.tensors.sorted { $0.name.compare($1.name, options: .numeric) == .orderedAscending }
        let width = min(rows.map(\.name.count).max() ?? 4, 100)
        out += "NAME".padding(toLength: width, withPad: " ", startingAt: 0) + "  DTYPE    SHAPE\n"
        for info in rows {
            out += info.name.padding(toLength: max(width, info.name.count), withPad: " ", startingAt: 0)
            out += "  " + info.dtype.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)
            out += "  [" + info.shape.map(String.init).joined(separator: ", ") + "]\n"
        }
        if let metadata = file.metadata {
            out += "\nMetadata (\(metadata.count) entries):\n"
            for key in metadata.keys.sorted() {
                out += "  \(key): \(MetadataFormatting.pretty(metadata[key]!, indent: "    "))\n"
            }
        } else {
            out += "\nMetadata: none\n"
        }
        return out
    }
}

enum MetadataFormatting {
    /// The value decoded when it holds a JSON object or array (kohya and diffusers store such values).
    static func decodedJSON(_ value: String) -> Any? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasPrefix("{") || trimmed.hasPrefix("[") else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(trimmed.utf8), options: [.fragmentsAllowed])
    }

    /// JSON-valued metadata pretty-printed on indented lines; other values as they are.
    static func pretty(_ value: String, indent: String) -> String {
        guard let object = decodedJSON(value),
              let data = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]),
              let text = String(data: data, encoding: .utf8)
        else { return value }
        return "\n" + text.split(separator: "\n", omittingEmptySubsequences: false).map { indent + $0 }.joined(separator: "\n")
    }
}

enum Formatting {
    static func grouped(_ n: Int) -> String {
        let s = String(n)
        var out = ""
        for (i, c) in s.reversed().enumerated() {
            if i > 0 && i % 3 == 0 && c != "-" { out.append(",") }
            out.append(c)
        }
        return String(out.reversed())
    }

    static func bytes(_ n: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(n)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(n) B" : String(format: "%.2f %@", value, units[unit])
    }

    /// A float for display: integers without a fraction, others with up to 6 significant digits.
    static func number(_ x: Float) -> String {
        if x == x.rounded(), abs(x) < 1e9 { return String(Int(x)) }
        return String(format: "%.6g", Double(x))
    }
}

/// The LoRA part of `inspect`: format, families, base model, components, ranks, triggers,
/// training metadata, hashes, unrecognised keys; modules with `--verbose`; |ΔW| with `--stats`.
enum LoRAInspection {
    struct ModuleStats {
        var meanAbs: Float
        var maxAbs: Float
        var frobenius: Float
        var shape: [Int]
    }

    static func stats(_ m: LoRAModule) -> Result<ModuleStats, LoRAError> {
        do {
            let d = try m.scaledDelta()
            var sum: Double = 0, sq: Double = 0
            var mx: Float = 0
            for v in d.values { sum += Double(abs(v)); sq += Double(v) * Double(v); mx = max(mx, abs(v)) }
            let n = Double(max(d.values.count, 1))
            return .success(ModuleStats(meanAbs: Float(sum / n), maxAbs: mx, frobenius: Float(sq.squareRoot()), shape: d.shape))
        } catch {
            return .failure(error)
        }
    }

    static func familySummary(_ lora: LoRAFile) -> String {
        var parts = lora.familyCounts.sorted { $0.key < $1.key }.map { "\($0.key.displayName) \($0.value)" }
        if lora.doraCount > 0 { parts.append("DoRA on \(lora.doraCount)") }
        return parts.joined(separator: ", ")
    }

    static func rangeSummary(_ values: [Float]) -> String {
        guard let lo = values.min(), let hi = values.max() else { return "-" }
        var counts: [Float: Int] = [:]
        for v in values { counts[v, default: 0] += 1 }
        if lo == hi { return Formatting.number(lo) }
        let common = counts.max { ($0.value, -$0.key) < ($1.value, -$1.key) }!
        return "\(Formatting.number(lo))–\(Formatting.number(hi)) (most common \(Formatting.number(common.key)), \(counts.count) distinct)"
    }

    static func text(_ lora: LoRAFile, options: InspectReport.Options) -> String {
        var out = "LoRA:\n"
        let formats = lora.formatCounts.sorted { $0.value > $1.value }.map { "\($0.key.rawValue) \($0.value)" }
        out += "  Format:       \(lora.format.rawValue)" + (formats.count > 1 ? " (mixed: \(formats.joined(separator: ", ")))" : "") + "\n"
        out += "  Modules:      \(lora.modules.count) (\(familySummary(lora)))\n"
        let comps = lora.components.map { c in "\(c.rawValue) \(lora.modules.filter { $0.target.component == c }.count)" }
        out += "  Components:   \(comps.joined(separator: ", "))\n"
        let b = lora.baseModel
        out += "  Base model:   \(b.detected?.displayName ?? "unknown")\n"
        for e in b.evidence { out += "    - \(e)\n" }
        if let said = b.metadataSays { out += "    metadata says \(said.displayName)\n" }
        if let conflict = b.conflict { out += "    CONFLICT: \(conflict)\n" }
        out += "  Rank:         \(rangeSummary(lora.modules.compactMap { $0.rank.map(Float.init) }))\n"
        out += "  Alpha:        \(rangeSummary(lora.modules.compactMap(\.alpha)))\n"
        out += "  Scale:        \(rangeSummary(lora.modules.map(\.scale)))\n"
        let triggers = lora.triggerWords()
        if !triggers.isEmpty {
            out += "  Triggers:     " + triggers.map { t in t.count.map { "\(t.text) (\($0))" } ?? t.text }.joined(separator: ", ") + "\n"
        }
        if !lora.embeddedTokens.isEmpty {
            out += "  Embedded tokens: " + lora.embeddedTokens.map { "\($0.name) [\($0.shape.map(String.init).joined(separator: ", "))]" }.joined(separator: ", ") + "\n"
        }
        let h = lora.file.computeContentHashes()
        out += "  SHA-256:      \(h.sha256) (AutoV2 \(h.autoV2))\n"
        var sshs = "  sshs_model_hash: \(h.sshsModelHash)"
        if let stored = lora.file.metadata?["sshs_model_hash"] { sshs += stored == h.sshsModelHash ? " (matches stored)" : " (stored \(stored) differs)" }
        out += sshs + "\n"
        let training = lora.trainingSummary.filter { !$0.key.hasPrefix("sshs_") }
        if !training.isEmpty {
            out += "  Training:\n"
            for f in training { out += "    \(f.label): \(f.value.count > 120 ? String(f.value.prefix(117)) + "..." : f.value)\n" }
        }
        for w in lora.warnings { out += "  Warning: \(w)\n" }
        if !lora.unrecognized.isEmpty {
            out += "  Unrecognized: \(lora.unrecognized.flatMap(\.keys).count) keys in \(lora.unrecognized.count) groups\n"
            for u in lora.unrecognized { out += "    \(u.module): \(u.reason) [\(u.keys.joined(separator: ", "))]\n" }
        }
        if options.verbose {
            out += "  Modules:\n"
            for m in lora.modules {
                out += "    \(m.target)  \(m.family.rawValue)\(m.isDoRA ? "+dora" : "")"
                out += "  rank \(m.rank.map(String.init) ?? "-")  alpha \(m.alpha.map(Formatting.number) ?? "-")  scale \(Formatting.number(m.scale))"
                out += "  ← \(m.sourceKeys.first.map { $0.components(separatedBy: ".").first ?? $0 } ?? "")\n"
            }
        }
        if options.stats {
            // Module names padded to the longest one, numbers right-aligned under their headings.
            let width = max(lora.modules.map { $0.target.description.count }.max() ?? 0, "|ΔW| (s·ΔW, strength 1)".count - 2)
            func row(_ name: String, _ cells: [String]) -> String {
                "    " + name.padding(toLength: width, withPad: " ", startingAt: 0)
                    + cells.map { String(repeating: " ", count: max(1, 12 - $0.count)) + $0 }.joined() + "\n"
            }
            out += "  " + "|ΔW| (s·ΔW, strength 1)".padding(toLength: width + 2, withPad: " ", startingAt: 0)
                + ["mean", "max", "Frobenius"].map { String(repeating: " ", count: 12 - $0.count) + $0 }.joined() + "\n"
            for m in lora.modules {
                switch stats(m) {
                case .success(let s):
                    out += row(m.target.description, [s.meanAbs, s.maxAbs, s.frobenius].map { String(format: "%.4g", Double($0)) })
                case .failure(let e):
                    out += "    " + m.target.description.padding(toLength: width, withPad: " ", startingAt: 0) + "  n/a (\(e))\n"
                }
            }
        }
        return out
    }

    static func json(_ lora: LoRAFile, options: InspectReport.Options) -> [String: Any] {
        let b = lora.baseModel
        let h = lora.file.computeHashes()
        var out: [String: Any] = [
            "format": lora.format.rawValue,
            "format_counts": Dictionary(uniqueKeysWithValues: lora.formatCounts.map { ($0.key.rawValue, $0.value) }),
            "module_count": lora.modules.count,
            "families": Dictionary(uniqueKeysWithValues: lora.familyCounts.map { ($0.key.rawValue, $0.value) }),
            "dora_modules": lora.doraCount,
            "components": Dictionary(uniqueKeysWithValues: lora.components.map { c in (c.rawValue, lora.modules.filter { $0.target.component == c }.count) }),
            "base_model": [
                "detected": b.detected?.rawValue ?? NSNull(),
                "evidence": b.evidence,
                "metadata_says": b.metadataSays?.rawValue ?? NSNull(),
                "conflict": b.conflict ?? NSNull(),
            ] as [String: Any],
            "ranks": Array(Set(lora.modules.compactMap(\.rank))).sorted(),
            "alphas": Array(Set(lora.modules.compactMap(\.alpha))).sorted(),
            "trigger_words": lora.triggerWords().map { ["text": $0.text, "count": $0.count ?? NSNull(), "source": $0.source] as [String: Any] },
            "training": Dictionary(uniqueKeysWithValues: lora.trainingSummary.map { ($0.key, $0.value) }),
            "hashes": [
                "sha256": h.sha256, "autov2": h.autoV2, "sshs_model_hash": h.sshsModelHash, "legacy_hash": h.legacyHash,
                "stored_sshs_model_hash": lora.file.metadata?["sshs_model_hash"] ?? NSNull(),
            ] as [String: Any],
            "warnings": lora.warnings,
            "unrecognized": lora.unrecognized.map { ["module": $0.module, "keys": $0.keys, "reason": $0.reason] as [String: Any] },
            "embedded_tokens": lora.embeddedTokens.map { ["name": $0.name, "shape": $0.shape] as [String: Any] },
        ]
        if options.verbose || options.stats {
            out["modules"] = lora.modules.map { m -> [String: Any] in
                var d: [String: Any] = [
                    "target": m.target.description, "component": m.target.component.rawValue, "path": m.target.path,
                    "family": m.family.rawValue, "dora": m.isDoRA, "rank": m.rank ?? NSNull(), "alpha": m.alpha ?? NSNull(),
                    "scale": m.scale, "keys": m.sourceKeys,
                ]
                if options.stats {
                    switch stats(m) {
                    case .success(let s): d["delta_stats"] = ["mean_abs": s.meanAbs, "max_abs": s.maxAbs, "frobenius": s.frobenius, "shape": s.shape] as [String: Any]
                    case .failure(let e): d["delta_stats"] = ["error": e.description]
                    }
                }
                return d
            }
        }
        return out
    }
}
