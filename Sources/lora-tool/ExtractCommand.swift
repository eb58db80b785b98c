import ArgumentParser
import Foundation
import LoRAKit

struct ExtractCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract",
        abstract: "Extract a LoRA from the difference of two models (kohya extract_lora_from_models.py).",
        discussion: """
        --base and --tuned are diffusers folders, single component files or single-file checkpoints \
        (SD 1.x, SD 2.x, SDXL) of the same family. Each UNet transformer layer and text-encoder attention/MLP layer \
        (with --conv-rank also the resnet and sampler convs) gets the rank-N SVD of (tuned − base), split \
        up = U·diag(S), down = Vᵀ, clamped at the signed --clamp-quantile of its values; alpha = rank. \
        Text encoders are skipped when no layer differs by more than --min-diff.
        """)

    @Option(help: "The original model (diffusers folder, component file or checkpoint).")
    var base: String

    @Option(help: "The fine-tuned model.")
    var tuned: String

    @Option(name: .shortAndLong, help: "Output .safetensors file.")
    var output: String

    @Option(parsing: .unconditional, help: "Rank of linear and 1×1-conv layers (kohya --dim).")
    var rank: Int = 4

    @Option(parsing: .unconditional, help: "Rank of 3×3 convs; also adds the resnets and samplers (kohya --conv_dim).")
    var convRank: Int?

    @Option(parsing: .unconditional, help: "Signed quantile the factors are clamped at (0, 1].")
    var clampQuantile: Float = 0.99

    @Option(parsing: .unconditional, help: "Text encoders are extracted only when some layer differs by more than this.")
    var minDiff: Float = 0.01

    @Option(help: "Store the factors as f16, bf16 or f32 (default f32, as kohya).")
    var dtype: OutputDType?

    @OptionGroup var outputFlags: OutputFlags


    @Option(parsing: .unconditional, help: "OpenBLAS threads (default: all cores).")
    var threads: Int?

    func validate() throws {
        try validateOutputPath(output)
        try validatePositive(rank, "--rank")
        try validatePositive(convRank, "--conv-rank")
        try validatePositive(threads, "--threads")
        guard clampQuantile > 0, clampQuantile <= 1 else { throw ValidationError("--clamp-quantile must be in (0, 1]") }
        guard minDiff.isFinite, minDiff >= 0 else { throw ValidationError("--min-diff must be ≥ 0") }
    }

    func run() throws {
        if let threads { LinearAlgebraSettings.setThreadCount(threads) }
        let options = LoRAExtraction.Options(rank: rank, convRank: convRank, clampQuantile: clampQuantile, minDiff: minDiff,
                                             dtype: dtype?.dtype ?? .f32, overwrite: outputFlags.force)
        let showProgress = isatty(STDERR_FILENO) != 0
        var progress: (@Sendable (LoRAExtraction.Progress) -> Void)?
        if showProgress {
            progress = { p in
                writeStandardError("\r\u{1B}[Kextract: \(p.done)/\(p.total) modules")
            }
        }
        do {
            let report = try LoRAExtraction.extract(
                base: URL(fileURLWithPath: base), tuned: URL(fileURLWithPath: tuned), options: options,
                output: URL(fileURLWithPath: output), progress: progress)
            if showProgress { writeStandardError("\r\u{1B}[K") }
            if outputFlags.json { try printJSON(try jsonObject(report)); return }
            try emit(ExtractReportText.render(report, clampQuantile: clampQuantile) + "\n")
            noteRankCap(requested: rank, written: report.maxRank, option: "--rank")
        } catch let error as RankToolsError {
            if showProgress { writeStandardError("\r\u{1B}[K") }
            printError(Self.describe(error), error)
            throw badInputExitCode
        }
    }
}

extension ExtractCommand {
    /// Extraction errors in extraction words.
    static func describe(_ error: RankToolsError) -> String {
        switch error {
        case .nothingToWrite(let reason): "nothing to extract: \(reason)"
        default: lora_tool.describe(error)
        }
    }
}

/// Human-readable extraction report.
enum ExtractReportText {
    static func render(_ report: LoRAExtraction.Report, clampQuantile: Float?) -> String {
        let unet = report.modules.filter { $0.name.hasPrefix("lora_unet_") }.count
        var out = "Extracted \(report.modules.count) modules (UNet \(unet), text encoders \(report.modules.count - unet)) "
        out += "at rank ≤ \(report.maxRank)\n"
        out += "  " + retention(report.written, rankCut: report.meanFrobeniusRetained, clampQuantile: clampQuantile) + "\n"
        out += "  model: \(report.baseModel?.displayName ?? "unknown family") (\(report.baseModelEvidence))\n"
        if let d = report.textEncoderMaxDifference {
            if report.textEncodersExtracted {
                out += "  text encoders differ (max |ΔW| \(d)): extracted\n"
            } else {
                out += "  text encoders identical (max |ΔW| \(d)): skipped \(report.skippedComponents.map(\.rawValue).joined(separator: ", "))\n"
            }
        }
        out += "Wrote \(report.outputPath)"
        return out
    }
}
