import ArgumentParser
import Foundation
import Testing
@testable import lora_tool

/// The helper every `--json` report encodes its Codable parts with.
@Suite("JSON report values")
struct JSONReportTests {
    struct Sample: Encodable { var loadedFrom = "models/sd15"; var weightFiles = ["unet.safetensors"] }
    /// JSONEncoder refuses a non-finite float.
    struct Unencodable: Encodable { var scale = Float.nan }

    @Test("Keys come out in snake case; a value that cannot be encoded stops the run (exit 1), never an empty object")
    func encodeFailureSurfaces() throws {
        let object = try #require(try jsonObject(Sample()) as? [String: Any])
        #expect(object["loaded_from"] as? String == "models/sd15")
        #expect(object["weight_files"] as? [String] == ["unet.safetensors"])
        do {
            let value = try jsonObject(Unencodable())
            Issue.record("encoded as \(value)")
        } catch let code as ExitCode {
            #expect(code == badInputExitCode)
        }
    }
}
