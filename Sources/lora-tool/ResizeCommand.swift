import ArgumentParser
import Foundation
import LoRAKit

struct ResizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resize",
        abstract: "Change the rank of a LoRA by SVD (kohya resize_lora.py).",
        discussion: """
        Each plain LoRA/LoCon module's ΔW is re-factorised to --rank (conv modules to --conv-rank), or to the rank \
        a dynamic rule chooses (capped at --rank): sv_ratio:X, sv_fro:X, sv_cumulative:X. Alpha is set so that \
        α/rank, the effective strength, is unchanged. Other modules and keys are copied.
        """)

    @Argument(help: "The LoRA to resize.")
    var input: String

    @Option(name: .shortAndLong, help: "Output .safetensors file.")
    var output: String

    @Option(parsing: .unconditional, help: "New rank (the maximum rank with --dynamic).")
    var rank: Int

    @Option(parsing: .unconditional, help: "New rank for conv modules (default: --rank).")
    var convRank: Int?

    @Option(help: "Dynamic rank rule: sv_ratio:X, sv_fro:X or sv_cumulative:X.")
    var dynamic: String?

    @Option(help: "Store floating-point tensors as f16, bf16 or f32 (default f32, as kohya).")
    var dtype: OutputDType?

    @Flag(name: .shortAndLong, help: "Print per-module retained sum(S) / Frobenius figures.")
    var verbose = false

    @OptionGroup var outputFlags: OutputFlags


    @Option(parsing: .unconditional, help: "OpenBLAS threads (default: all cores).")
    var threads: Int?

    func validate() throws {
        try validateOutputPath(output)
        try validatePositive(rank, "--rank")
        try validatePositive(convRank, "--conv-rank")
        try validatePositive(threads, "--threads")
        if let dynamic {
            do { _ = try RankRule(parsing: dynamic) } catch { throw ValidationError(error.description) }
        }
    }

    func run() throws {
        if let threads { LinearAlgebraSettings.setThreadCount(threads) }
        let rule = try dynamic.map { try RankRule(parsing: $0) } ?? .fixed
        do {
            let lora = try LoRAFile(contentsOf: URL(fileURLWithPath: input))
            let options = LoRAResize.Options(rank: rank, convRank: convRank, rule: rule, dtype: dtype?.dtype ?? .f32, overwrite: outputFlags.force)
            let showProgress = isatty(STDERR_FILENO) != 0
            var progress: (@Sendable (LoRAResize.Progress) -> Void)?
            if showProgress {
                progress = { p in writeStandardError("\r\u{1B}[Kresize: \(p.done)/\(p.total) modules") }
            }
            let report: LoRAResize.Report
            do { report = try LoRAResize.resize(lora, options: options, output: URL(fileURLWithPath: output), progress: progress) } catch {
                if showProgress { writeStandardError("\r\u{1B}[K") }
                throw error
            }
            if showProgress { writeStandardError("\r\u{1B}[K") }
            if !rule.isDynamic { noteRankCap(requested: rank, written: report.modules.map(\.newRank).max() ?? 0, option: "--rank") }
            if outputFlags.json { try printJSON(try jsonObject(report)); return }
            if verbose {
                for m in report.modules {
                    var line = m.name.padding(toLength: max(m.name.count, 75), withPad: " ", startingAt: 0) + " | "
                    line += "sum(S) retained: \(percent(m.choice.sumRetained)), fro retained: \(percent(m.choice.frobeniusRetained)), "
                    line += "max(S) ratio: \(m.choice.maxRatio.map { String(format: "%.1f", $0) } ?? "inf")"
                    if rule.isDynamic { line += ", dynamic | dim: \(m.newRank), alpha: \(m.newAlpha)" }
                    try emit(line + "\n")
                }
                try emit("Average Frobenius norm retention: \(percent(report.meanFrobeniusRetained, digits: 2)) | std: \(String(format: "%.3f", report.stdFrobeniusRetained))\n")
            }
            let ranks = Set(report.modules.map(\.newRank)).sorted()
            try emit("Resized \(report.modules.count) modules from rank \(report.oldMaxRank) to rank\(ranks.count > 1 ? "s \(ranks.first!)–\(ranks.last!)" : " \(ranks.first ?? 0)") (\(rule)); kept \(report.kept.count) unchanged\n")
            for k in report.kept.prefix(10) { try emit("  kept \(k.module): \(k.reason)\n") }
            try emit("Wrote \(report.outputPath)\n")
        } catch let error as LoRAError {
            printError("\(input): \(error)", error)
            throw badInputExitCode
        } catch let error as RankToolsError {
            printError(describe(error), error)
            throw badInputExitCode
        }
    }
}

func percent(_ x: Double, digits: Int = 1) -> String { String(format: "%.\(digits)f%%", x * 100) }

/// "mean Frobenius retained 77.9% of the exact ΔW as written (rank cut alone 100.0%; the 0.99-quantile clamp
/// moved the result 22.0% on average, 62.0% at worst)".
func retention(_ written: RetentionSummary, rankCut: Double, clampQuantile: Float?) -> String {
    var out = "mean Frobenius retained \(percent(written.meanFrobeniusRetained)) of the exact ΔW as written (rank cut alone \(percent(rankCut))"
    if let q = clampQuantile {
        out += "; the \(q)-quantile clamp moved the result \(percent(written.meanClampShift)) on average, \(percent(written.maxClampShift)) at worst"
    }
    return out + ")"
}

/// Human-readable rank-tool reports.
enum RankReportText {
    static func render(_ report: SVDMerge.Report, clampQuantile: Float?) -> String {
        var out = "SVD-merged \(report.modulesWritten) modules to rank ≤ \(report.maxRank)\n"
        out += "  " + retention(report.written, rankCut: report.meanFrobeniusRetained, clampQuantile: clampQuantile) + "\n"
        out += "  skipped:  \(report.skipped.count) modules\n"
        for s in report.skipped.prefix(10) { out += "    \(s.module): \(s.reason)\n" }
        out += "  unused:   \(report.unusedKeys.count) keys\n"
        for k in report.unusedKeys.prefix(10) { out += "    \(k.key): \(k.reason)\n" }
        out += "Wrote \(report.outputPath)\n"
        return out
    }
}
