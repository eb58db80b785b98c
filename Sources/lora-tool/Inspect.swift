import ArgumentParser
import Foundation
import LoRAKit

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the tensors and metadata of a safetensors file.")

    @Argument(help: "A .safetensors file.")
    var file: String

    @Flag(help: "Print one JSON object on stdout.")
    var json = false

    func run() throws {
        let st = try openOrExit(file)
        if json {
            try printJSON(InspectReport.json(for: st))
        } else {
            print(InspectReport.text(for: st), terminator: "")
        }
    }
}
