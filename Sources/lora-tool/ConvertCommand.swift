import ArgumentParser
import Foundation
import LoRAKit

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a LoRA between the kohya and the diffusers/PEFT layouts.",
        discussion: """
        Factors are copied bit for bit and every module keeps its scale: PEFT output carries the alpha/rank \
        configuration diffusers reads (lora_adapter_metadata: r, lora_alpha, rank_pattern, alpha_pattern). kohya \
        output writes SDXL UNet modules under SGM names (input_blocks_…) unless --unet-names diffusers. \
        LoHa, LoKr, Tucker (lora_mid) and full modules cannot be PEFT LoRA: they are refused unless --bake-rank N \
        approximates each by a rank-N LoRA (SVD; the retained Frobenius ratio is reported). DoRA, norm and IA³ \
        modules are refused for PEFT; the kohya layout keeps every family as it is.
        """)

    @Argument(help: "The LoRA to convert.")
    var input: String

    @Option(help: "Target layout: kohya or peft.")
    var to: LoRAConversion.Layout

    @Option(name: .shortAndLong, help: "Output .safetensors file (default: INPUT.<layout>.safetensors next to the input).")
    var output: String?

    @Option(help: "kohya UNet names: sgm or diffusers (default: sgm for SDXL, diffusers otherwise).")
    var unetNames: LoRAConversion.UNetNaming?

    @Flag(help: "Same as --unet-names sgm.")
    var sgm = false

    @Option(parsing: .unconditional, help: "Approximate LoHa/LoKr/Tucker/full modules by plain LoRA of this rank (SVD).")
    var bakeRank: Int?

    @Option(help: "Store floating-point tensors as f16, bf16 or f32 (default: keep each tensor's type).")
    var dtype: OutputDType?

    @OptionGroup var outputFlags: OutputFlags


    func validate() throws {
        try validateOutputPath(output)
        try validatePositive(bakeRank, "--bake-rank")
        if sgm, let unetNames, unetNames != .sgm { throw ValidationError("--sgm contradicts --unet-names \(unetNames.rawValue)") }
        if to == .peft, sgm || unetNames != nil { throw ValidationError("--unet-names / --sgm apply to --to kohya only") }
    }

    var outputURL: URL {
        if let output { return URL(fileURLWithPath: output) }
        let url = URL(fileURLWithPath: input)
        return url.deletingPathExtension().appendingPathExtension(to.rawValue).appendingPathExtension("safetensors")
    }

    func run() throws {
        do {
            let lora = try LoRAFile(contentsOf: URL(fileURLWithPath: input))
            let options = LoRAConversion.Options(layout: to, unetNaming: sgm ? .sgm : unetNames, bakeRank: bakeRank,
                                                 dtype: dtype?.dtype, overwrite: outputFlags.force)
            let report = try LoRAConversion.convert(lora, options: options, output: outputURL)
            if outputFlags.json { try printJSON(try jsonObject(report)); return }
            var line = "Converted \(report.modulesWritten) modules to \(report.layout.rawValue)"
            if let naming = report.unetNaming { line += " (UNet names: \(naming.rawValue))" }
            try emit(line + "\n")
            if !report.baked.isEmpty {
                try emit("Baked \(report.baked.count) modules to plain LoRA by SVD:\n")
                for b in report.baked { try emit("  \(b.module) [\(b.family)] rank \(b.rank), Frobenius retained \(percent(b.frobeniusRetained, digits: 2))\n") }
            }
            if !report.dropped.isEmpty {
                try emit("Not carried over: \(report.dropped.count)\n")
                for d in report.dropped.prefix(10) { try emit("  \(d.module): \(d.reason)\n") }
            }
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

extension LoRAConversion.Layout: ExpressibleByArgument {}
extension LoRAConversion.UNetNaming: ExpressibleByArgument {}
