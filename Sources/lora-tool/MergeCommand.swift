import ArgumentParser
import Foundation
import LoRAKit

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Bake LoRAs into a model, or merge LoRAs into one LoRA.",
        discussion: """
        With --base, every LoRA is baked into the model (a diffusers folder, a diffusers component file, \
        or a single-file SD1.x/SD2.x/SDXL checkpoint): W' = W + Σ λ·ΔW. Without --base, the LoRAs are \
        merged into one LoRA file by rank concatenation (exact).
        --lora takes FILE, FILE:STRENGTH (a decimal, negative allowed) or FILE:unet=X,te=Y. A LoRA given         without a strength uses --unet-strength / --te-strength when given, else the "preferred weight" of its         A1111 sidecar (<stem>.json), else 1.
        """)

    @Option(help: "The model to bake into (diffusers folder, component .safetensors, or single-file checkpoint).")
    var base: String?

    @Option(name: .customLong("lora"), help: "A LoRA with its strength: FILE or library NAME, then [:STRENGTH] or :unet=X,te=Y. Repeatable.")
    var loraArguments: [String] = []

    @Option(name: .customLong("lora-dir"), help: "The LoRA library folder where --lora names that are not files are looked up (default: $LORAKIT_HOME/loras, else ~/.lorakit/loras).")
    var loraDir: String?

    @Option(name: .shortAndLong, help: "Output folder (for a diffusers folder) or file.")
    var output: String

    @Option(help: "Store floating-point tensors as f16, bf16 or f32 (default: keep each tensor's type; f32 for a LoRA merge).")
    var dtype: OutputDType?

    @Option(parsing: .unconditional, help: "UNet strength for every LoRA that gives none of its own (a strength in --lora wins).")
    var unetStrength: Float?

    @Option(name: .customLong("te-strength"), parsing: .unconditional,
            help: "Text-encoder strength for every LoRA that gives none of its own (a strength in --lora wins).")
    var textEncoderStrength: Float?

    @Flag(help: "Fail when any LoRA key would be unused or any module skipped.")
    var strict = false

    @OptionGroup var outputFlags: OutputFlags

    @Flag(name: .customLong("allow-base-mismatch"), help: "Apply LoRAs made for another model family anyway.")
    var allowBaseMismatch = false

    @Flag(name: .customLong("allow-empty"), help: "With --base: write the output even when no module of any LoRA applies (an unchanged copy of the base).")
    var allowEmpty = false


    @Option(parsing: .unconditional, help: "Threads (default: all cores).")
    var threads: Int?

    @Option(parsing: .unconditional, help: "Without --base: SVD-merge to this rank (kohya svd_merge_lora.py) instead of the exact concatenation.")
    var rank: Int?

    @Option(parsing: .unconditional, help: "With --rank: rank for k×k conv modules (default: --rank).")
    var convRank: Int?

    /// The `--lora` values, parsed.
    var loras: [LoRASpec] {
        get throws { try loraArguments.map { (argument) throws in try LoRASpec(parsing: argument) } }
    }

    func validate() throws {
        try validateOutputPath(output)
        guard !loraArguments.isEmpty else { throw ValidationError("give at least one --lora") }
        do { _ = try loras } catch { throw ValidationError("\(error)") }
        for (name, value) in [("--unet-strength", unetStrength), ("--te-strength", textEncoderStrength)] {
            if let value, !value.isFinite { throw ValidationError("\(name) must be a finite number, got \(value)") }
        }
        try validatePositive(rank, "--rank")
        try validatePositive(convRank, "--conv-rank")
        try validatePositive(threads, "--threads")
        if base != nil {
            if rank != nil || convRank != nil {
                throw ValidationError("--rank and --conv-rank apply to a LoRA merge (without --base); a bake into a model has no rank")
            }
        } else if allowEmpty {
            throw ValidationError("--allow-empty applies to a bake into a model (with --base)")
        }
        if convRank != nil, rank == nil { throw ValidationError("--conv-rank needs --rank (it sets the rank of k×k convs in an SVD merge)") }
    }

    func run() throws {
        if let threads { LinearAlgebraSettings.setThreadCount(threads) }
        let outputURL = URL(fileURLWithPath: output)
        var parsed: [(lora: LoRAFile, source: MergeSource)] = []
        for spec in try loras {
            let lora: LoRAFile
            let reference = try resolveLoRA(spec.path, loraDir: loraDir)
            do { lora = try LoRAFile(contentsOf: reference.url) } catch {
                printError("\(spec.path): \(error)", error)
                throw badInputExitCode
            }
            if let reason = lora.notALoRAReason {
                printError("\(spec.path): not a LoRA: \(reason)")
                throw badInputExitCode
            }
            // A strength in --lora wins; --unet-strength / --te-strength fill the components it leaves open;
            // a LoRA given without any strength takes its sidecar's preferred weight, else 1.
            let preferred = spec.givesStrength ? nil : reference.preferredWeight
            let source = MergeSource(lora: lora, strength: spec.strength ?? preferred ?? 1,
                                     unetStrength: spec.unetStrength ?? (spec.strength == nil ? unetStrength : nil),
                                     textEncoderStrength: spec.textEncoderStrength ?? (spec.strength == nil ? textEncoderStrength : nil))
            parsed.append((lora, source))
        }
        do {
            if let base {
                let options = MergeOptions(outputDType: dtype?.dtype, strict: strict, overwrite: outputFlags.force,
                                           allowBaseMismatch: allowBaseMismatch, threads: threads, allowEmpty: allowEmpty)
                let progress = ProgressLine.stderrIfTerminal()
                var callback: (@Sendable (MergeProgress) -> Void)?
                if let progress { callback = { progress.update($0) } }
                let sources = parsed.map(\.source)
                let report = try ModelMerger.merge(into: URL(fileURLWithPath: base), sources: sources,
                                                   output: outputURL, options: options, progress: callback)
                progress?.finish()
                if outputFlags.json { try printJSON(try jsonObject(report)) } else { try emit(MergeReportText.render(report)) }
            } else if let rank {
                let options = SVDMerge.Options(rank: rank, convRank: convRank, dtype: dtype?.dtype ?? .f32, strict: strict,
                                               overwrite: outputFlags.force, allowBaseMismatch: allowBaseMismatch)
                let report = try SVDMerge.merge(parsed, options: options, output: outputURL)
                noteRankCap(requested: rank, written: report.maxRank, option: "--rank")
                if outputFlags.json { try printJSON(try jsonObject(report)) } else { try emit(RankReportText.render(report, clampQuantile: options.clampQuantile)) }
            } else {
                let report = try LoRAConcatenation.merge(parsed, output: outputURL, dtype: dtype?.dtype ?? .f32, strict: strict,
                                                         overwrite: outputFlags.force, allowBaseMismatch: allowBaseMismatch)
                if outputFlags.json { try printJSON(try jsonObject(report)) } else { try emit(MergeReportText.render(report)) }
            }
        } catch MergeError.nothingApplied(let report) {
            ProgressLine.clear()
            printError(MergeReportText.nothingApplied(report))
            throw badInputExitCode
        } catch let error as MergeError {
            ProgressLine.clear()
            printError(describe(error), error)
            throw badInputExitCode
        } catch let error as RankToolsError {
            printError(describe(error), error)
            throw badInputExitCode
        }
    }
}

/// Output dtype choices.
enum OutputDType: String, ExpressibleByArgument, CaseIterable {
    case f16, bf16, f32
    var dtype: DType {
        switch self {
        case .f16: .f16
        case .bf16: .bf16
        case .f32: .f32
        }
    }
}
