import LoRAKit

/// Human-readable merge reports.
enum MergeReportText {
    static func render(_ report: MergeReport) -> String {
        var out = "Model: \(report.modelBase?.displayName ?? "unknown family") (\(report.modelBaseEvidence))\n"
        for lora in report.loras {
            var strengths = "strength \(lora.strength)"
            if let u = lora.unetStrength { strengths += ", unet \(u)" }
            if let t = lora.textEncoderStrength { strengths += ", text encoder \(t)" }
            out += "\n\(lora.name) (\(strengths)):\n"
            out += "  applied:  \(lora.applied.count) modules\n"
            out += "  unused:   \(lora.unusedKeys.count) keys\n"
            for key in lora.unusedKeys.prefix(10) { out += "    \(key.key): \(key.reason)\n" }
            if lora.unusedKeys.count > 10 { out += "    … \(lora.unusedKeys.count - 10) more (see --json)\n" }
            out += "  skipped:  \(lora.skipped.count) modules\n"
            for s in lora.skipped.prefix(10) { out += "    \(s.module): \(s.reason)\n" }
        }
        out += "\nWrote \(report.tensorsWritten) tensors (\(report.tensorsPatched) patched)"
        if let dtype = report.outputDType { out += " as \(dtype)" }
        out += ":\n"
        for file in report.outputFiles { out += "  \(file)\n" }
        return out
    }

    /// The error for a bake in which nothing applied: one line, then why each module was skipped and
    /// each key unused (one line per distinct reason of a key).
    static func nothingApplied(_ report: MergeReport) -> String {
        var out = MergeError.nothingApplied(report).description + " (--allow-empty writes an unchanged copy)"
        for lora in report.loras {
            out += "\n  \(lora.name):"
            for s in lora.skipped { out += "\n    skipped \(s.module): \(s.reason)" }
            var seen = Set<String>()
            for key in lora.unusedKeys where seen.insert(key.reason).inserted {
                let count = lora.unusedKeys.filter { $0.reason == key.reason }.count
                out += "\n    unused \(key.key)\(count > 1 ? " and \(count - 1) more" : ""): \(key.reason)"
            }
        }
        return out
    }

    static func render(_ report: LoRAConcatenation.Report) -> String {
        var out = "Merged \(report.modulesWritten) modules by rank concatenation (max rank \(report.maxRank)) into \(report.outputPath)\n"
        if !report.skipped.isEmpty {
            out += "Skipped \(report.skipped.count) modules:\n"
            for s in report.skipped.prefix(20) { out += "  \(s.module): \(s.reason)\n" }
        }
        if !report.unusedKeys.isEmpty {
            out += "Unused keys: \(report.unusedKeys.count)\n"
            for k in report.unusedKeys.prefix(10) { out += "  \(k.key): \(k.reason)\n" }
        }
        return out
    }
}
