import Foundation
import LoRAKit
import Testing
@testable import DiffusionCore

/// The LoRAs of a run in its PNG metadata, read back from the written file: A1111's `parameters` (the prompt's
/// own `<lora:…>` tags kept, a tag appended for each LoRA given beside the prompt, `<lora:NAME:TE:UNET>` when
/// the strengths differ, `Lora hashes` keyed by the name the prompt mentions) and InvokeAI's
/// `invokeai_metadata` (prompts without tags, every LoRA once with its model identity and weight).
@Suite("LoRAs in the PNG metadata of a run")
struct GenerationMetadataLoRATests {
    /// Known answers, computed from the committed fixture files with Python's `hashlib`: SHA-256 of the whole file,
    /// and the first 12 hex digits of the SHA-256 of the bytes after the safetensors header (A1111's "addnet"
    /// hash, what it lists under "Lora hashes" for a `.safetensors` LoRA without `sshs_model_hash`).
    static let lcmSHA256 = "ce6fa6dc2a736fea504d497182561fff7a6aee877af7ef9784aa39d483923468"
    static let lcmA1111 = "c1f88879a3fe"
    static let styleSHA256 = "3359e19a9d0311ed97a4099f8e7e5291fed7fac1be6a330a0d7ed708ea7540bd"
    static let styleA1111 = "3d58a6e89b45"

    /// A1111's infotext parsing (`modules/infotext_utils.py`, `parse_generation_parameters`): the last line holds
    /// `key: value` pairs, a value quoted as a JSON string when it has a comma or colon; the lines before are the
    /// prompt, from `Negative prompt:` on the negative prompt.
    static func parseA1111(_ text: String) throws -> (prompt: String, negative: String, settings: [String: String]) {
        var lines = text.components(separatedBy: "\n")
        let popped = lines.popLast()
        let last = try #require(popped)
        var settings: [String: String] = [:]
        let chars = Array(last)
        var i = 0
        while i < chars.count {
            while i < chars.count, chars[i] == " " { i += 1 }
            guard let colon = chars[i...].firstIndex(of: ":") else { break }
            let key = String(chars[i..<colon])
            i = colon + 1
            while i < chars.count, chars[i] == " " { i += 1 }
            var value = ""
            if i < chars.count, chars[i] == "\"" {
                var j = i + 1
                while j < chars.count, chars[j] != "\"" { j += chars[j] == "\\" ? 2 : 1 }
                let quoted = String(chars[i...j])
                value = try #require(try JSONSerialization.jsonObject(with: Data(quoted.utf8), options: .fragmentsAllowed) as? String)
                i = j + 1
                while i < chars.count, chars[i] != "," { i += 1 }
            } else {
                let end = chars[i...].firstIndex(of: ",") ?? chars.count
                value = String(chars[i..<end])
                i = end
            }
            settings[key] = value
            i += 1
        }
        var prompt: [String] = [], negative: [String] = []
        var inNegative = false
        for line in lines {
            if line.hasPrefix("Negative prompt: ") {
                inNegative = true
                negative.append(String(line.dropFirst("Negative prompt: ".count)))
            } else if inNegative { negative.append(line) } else { prompt.append(line) }
        }
        return (prompt.joined(separator: "\n"), negative.joined(separator: "\n"), settings)
    }

    /// A run of the tiny pipeline with an LCM-LoRA given by the request at UNet 0.35 / text encoder 0.5, a style
    /// LoRA from a prompt tag (written by its library name) and the same style LoRA from a negative-prompt tag.
    static func run() throws -> (GenerationResult, URL) {
        let base = try #require(PipelineFixtureTests.base)
        let library = FileManager.default.temporaryDirectory.appendingPathComponent("lorakit-meta-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: library, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: base.appendingPathComponent("lora-te/tiny-te-kohya.safetensors"),
                                         to: library.appendingPathComponent("style.safetensors"))
        let pipeline = try DiffusionPipeline(folder: base.appendingPathComponent("sd1-tiny"))
        pipeline.loraLibrary = LoRALibrary(folder: library, cache: .disabled)
        var request = GenerationRequest(prompt: "a horse <lora:style:0.6>, riding", negativePrompt: "blurry <lora:style:0.2:0.3>",
                                        width: 32, height: 32, steps: 2, scheduler: "lcm", guidanceScale: 1, seed: 3)
        let lcm = try pipeline.openLoRA(at: base.appendingPathComponent("sd1-tiny-lora.safetensors"))
        request.loras = [PipelineLoRA(name: "lcm-lora-tiny", file: lcm, unetStrength: 0.35, textEncoderStrength: 0.5)]
        return (try pipeline.generate(request), library)
    }

    @Test("Both chunks carry every LoRA once: given ones appended as tags, prompt tags kept, hashes A1111 and InvokeAI use")
    func writtenAndReadBack() throws {
        let (result, library) = try Self.run()
        defer { try? FileManager.default.removeItem(at: library) }
        #expect(result.appliedLoRAs.map(\.lora.name) == ["lcm-lora-tiny", "style", "style"])
        let loras = GenerationMetadata.loras(of: result)
        let metadata = GenerationMetadata(prompt: "a horse <lora:style:0.6>, riding", negativePrompt: "blurry <lora:style:0.2:0.3>",
                                          steps: 2, sampler: "LCM", invokeScheduler: "lcm", cfgScale: 1, seed: 3,
                                          width: 32, height: 32, modelName: "sd1-tiny", base: .sd1, loras: loras, version: "LoRAKit")
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lorakit-meta-\(UUID().uuidString).png")
        defer { try? FileManager.default.removeItem(at: url) }
        try PNGWriter.write(result.rgbImages[0], to: url, metadata: metadata)
        let chunks = Dictionary(PNGWriterTests.textChunks(try Data(contentsOf: url)).map { ($0.1, $0.2) }, uniquingKeysWith: { a, _ in a })

        // A1111: the prompt as written, then the request's LoRA (TE 0.5, UNet 0.35) and the negative prompt's tag.
        let a1111 = try Self.parseA1111(try #require(chunks["parameters"]))
        #expect(a1111.prompt == "a horse <lora:style:0.6>, riding, <lora:lcm-lora-tiny:0.5:0.35>, <lora:style:0.2:0.3>")
        #expect(a1111.negative == "blurry", "the negative prompt's tag moved to the prompt, where A1111 reads tags")
        let tags = try PromptLoRATags.parse(a1111.prompt).loras
        #expect(tags.map(\.name) == ["style", "lcm-lora-tiny", "style"])
        #expect(tags.map(\.unetWeight) == [0.6, 0.35, 0.3] && tags.map(\.textEncoderWeight) == [0.6, 0.5, 0.2])
        // The tags give back exactly the run's strengths.
        #expect(zip(tags, [result.loras[1], result.loras[0], result.loras[2]]).allSatisfy {
            Float($0.unetWeight) == $1.unetStrength && Float($0.textEncoderWeight) == $1.textEncoderStrength
        })
        #expect(a1111.settings["Lora hashes"] == "lcm-lora-tiny: \(Self.lcmA1111), style: \(Self.styleA1111)")
        #expect(a1111.settings["Steps"] == "2" && a1111.settings["Seed"] == "3" && a1111.settings["Size"] == "32x32")

        // InvokeAI: prompts as encoded, each LoRA once with its identity; the style LoRA's two uses summed.
        let invokeText = try #require(chunks["invokeai_metadata"])
        let invoke = try #require(try JSONSerialization.jsonObject(with: Data(invokeText.utf8)) as? [String: Any])
        #expect(invoke["positive_prompt"] as? String == "a horse , riding")
        #expect(invoke["negative_prompt"] as? String == "blurry")
        let listed = try #require(invoke["loras"] as? [[String: Any]])
        #expect(listed.count == 2)
        let models = listed.compactMap { $0["model"] as? [String: Any] }
        #expect(models.map { $0["name"] as? String } == ["lcm-lora-tiny", "style"])
        #expect(models.map { $0["hash"] as? String } == ["sha256:\(Self.lcmSHA256)", "sha256:\(Self.styleSHA256)"])
        #expect(models.map { $0["key"] as? String } == ["sha256:\(Self.lcmSHA256)", "sha256:\(Self.styleSHA256)"])
        #expect(models.allSatisfy { $0["type"] as? String == "lora" && $0["base"] as? String == "sd-1" })
        let weights = listed.compactMap { $0["weight"] as? Double }
        #expect(weights.count == 2 && weights[0] == 0.35 && abs(weights[1] - 0.9) < 1e-12)
    }

    @Test("A1111 keys Lora hashes by the name the tag mentions, without ':' and ','; a recorded sshs_model_hash wins")
    func mentionedNamesAndRecordedHash() throws {
        let tagged = GenerationMetadata.LoRA(name: "style", weight: 0.5, a1111Hash: "0123456789abcdef",
                                             source: .promptTag("<lora:my,sty:0.5>"))
        #expect(tagged.mentionedName == "my,sty")
        var metadata = GenerationMetadata(prompt: "x <lora:my,sty:0.5>", steps: 1, sampler: "LCM", cfgScale: 1, seed: 0,
                                          width: 8, height: 8, loras: [tagged])
        #expect(metadata.a1111LoRAHashes == "mysty: 0123456789ab")
        metadata.loras.append(.init(name: "plain", weight: 1))
        #expect(metadata.a1111LoRAHashes == "mysty: 0123456789ab", "a LoRA without an A1111 hash is not listed")
        #expect(metadata.promptWithLoRATags == "x <lora:my,sty:0.5>, <lora:plain:1>")

        // A tag that gave no strength (the LCM recipe's 0.45 applied) is written with the one applied: A1111
        // would apply 1 to `<lora:style>`.
        let recipe = GenerationMetadata(prompt: "a castle <lora:style>", steps: 4, sampler: "LCM", cfgScale: 1, seed: 0, width: 8, height: 8,
                                        loras: [.init(name: "style", weight: 0.45, source: .promptTag("<lora:style>"))])
        #expect(recipe.promptWithLoRATags == "a castle <lora:style:0.45>")
        let kept = GenerationMetadata(prompt: "a castle <lora:style:0.5:0.8>", steps: 4, sampler: "LCM", cfgScale: 1, seed: 0, width: 8,
                                      height: 8, loras: [.init(name: "style", weight: 0.8, textEncoderWeight: 0.5,
                                                               source: .promptTag("<lora:style:0.5:0.8>"))])
        #expect(kept.promptWithLoRATags == "a castle <lora:style:0.5:0.8>")

        // A file that records kohya's sshs_model_hash is listed by it, as A1111 does.
        let base = try #require(PipelineFixtureTests.base)
        let source = try SafetensorsFile(path: base.appendingPathComponent("sd1-tiny-lora.safetensors").path)
        var recorded = source.metadata ?? [:]
        recorded["sshs_model_hash"] = "feedfacecafebeef0000"
        var writer = SafetensorsWriter(metadata: recorded)
        for info in source.tensors { writer.add(source.tensor(info)) }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lorakit-sshs-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try writer.write(to: url)
        let file = try LoRAFile(contentsOf: url)
        let entry = GenerationMetadata.LoRA(AppliedLoRA(lora: PipelineLoRA(name: "x", file: file, unetStrength: 0.8), origin: .request),
                                            hashes: file.file.computeHashes())
        #expect(entry.a1111Hash == "feedfacecafebeef0000" && entry.textEncoderWeight == nil && entry.weight == 0.8)
        #expect(entry.a1111Tag == "<lora:x:0.8>")
    }
}
