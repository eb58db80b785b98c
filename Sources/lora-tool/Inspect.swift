import ArgumentParser
import Foundation
import LoRAKit

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the tensors and metadata of a safetensors file, and what a LoRA in it patches.")

    @Argument(help: "A .safetensors file.")
    var file: String

    @Flag(help: "Print one JSON object on stdout.")
    var json = false

    @Flag(name: .shortAndLong, help: "List every LoRA module with its family, rank, alpha and scale.")
    var verbose = false

    @Flag(help: "Compute per-module |ΔW| statistics (reads all tensor data).")
    var stats = false

    func run() throws {
        let st = try openOrExit(file)
        let lora = try? LoRAFile(file: st)
        let options = InspectReport.Options(verbose: verbose, stats: stats)
        if json {
            try printJSON(InspectReport.json(for: st, lora: lora, options: options))
        } else {
            try emit(InspectReport.text(for: st, lora: lora, options: options))
        }
    }
}
