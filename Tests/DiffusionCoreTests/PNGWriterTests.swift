import Foundation
import Testing
@testable import DiffusionCore

@Suite("PNGWriter and GenerationMetadata")
struct PNGWriterTests {
    private func picture(_ width: Int = 6, _ height: Int = 4) throws -> RGBImage {
        try RGBImage(width: width, height: height, pixels: (0..<(width * height * 3)).map { UInt8(($0 * 37) % 256) })
    }

    private func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lorakit-png-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// The text chunks of a PNG: (type, keyword, text).
    static func textChunks(_ data: Data) -> [(String, String, String)] {
        let bytes = [UInt8](data)
        var out: [(String, String, String)] = []
        var p = 8
        while p + 8 <= bytes.count {
            let length = Int(bytes[p]) << 24 | Int(bytes[p + 1]) << 16 | Int(bytes[p + 2]) << 8 | Int(bytes[p + 3])
            let type = String(decoding: bytes[(p + 4)..<(p + 8)], as: UTF8.self)
            let body = Array(bytes[(p + 8)..<(p + 8 + length)])
            if type == "tEXt", let nul = body.firstIndex(of: 0) {
                let keyword = String(decoding: body[..<nul], as: UTF8.self)
                let text = String(body[(nul + 1)...].map { Character(Unicode.Scalar($0)) })  // Latin-1
                out.append((type, keyword, text))
            } else if type == "iTXt", let nul = body.firstIndex(of: 0) {
                // keyword NUL, compression flag, method, language NUL, translated keyword NUL, text
                var q = nul + 3
                while body[q] != 0 { q += 1 }
                q += 1
                while body[q] != 0 { q += 1 }
                out.append((type, String(decoding: body[..<nul], as: UTF8.self), String(decoding: body[(q + 1)...], as: UTF8.self)))
            }
            p += 12 + length
        }
        return out
    }

    private var metadata: GenerationMetadata {
        GenerationMetadata(
            prompt: "a lighthouse at dusk, oil painting", negativePrompt: "blurry, lowres", steps: 4, sampler: "LCM",
            invokeScheduler: "lcm", cfgScale: 1, seed: 1234, width: 512, height: 768, modelName: "dreamshaper_8",
            modelSHA256: "879db523c30d3b9017143d56705015e15a2cb5628762c11d086fed9538abd7fd", base: .sd1,
            loras: [.init(name: "lcm-lora-sdv1-5", weight: 0.35, sha256: "8f90d840e075ff588a58e22c6586e2ae9a6f7922996ee6649a7f01072333afe4",
                          a1111Hash: "8f90d840e075ff588a58e22c6586e2ae9a6f7922996ee6649a7f01072333afe4"),
                    .init(name: "pixel_style", weight: 0.45)],
            clipSkip: 2, version: "LoRAKit")
    }

    @Test("A1111's parameters text: prompt with <lora:…> tags, Negative prompt line, settings in A1111's order and quoting")
    func a1111Parameters() {
        let expected = """
            a lighthouse at dusk, oil painting, <lora:lcm-lora-sdv1-5:0.35>, <lora:pixel_style:0.45>
            Negative prompt: blurry, lowres
            Steps: 4, Sampler: LCM, CFG scale: 1, Seed: 1234, Size: 512x768, Model hash: 879db523c3, Model: dreamshaper_8, \
            Clip skip: 2, Lora hashes: "lcm-lora-sdv1-5: 8f90d840e075", Version: LoRAKit
            """
        #expect(metadata.a1111Parameters == expected)
        var tagged = metadata
        tagged.prompt = "<lora:pixel_style:0.45> castle"
        tagged.negativePrompt = ""
        #expect(tagged.a1111Parameters.hasPrefix("<lora:pixel_style:0.45> castle, <lora:lcm-lora-sdv1-5:0.35>\nSteps: 4,"))
    }

    @Test("InvokeAI's metadata JSON has the core-metadata keys")
    func invokeAIJSON() throws {
        let object = try #require(JSONSerialization.jsonObject(with: Data(metadata.invokeAIMetadataJSON.utf8)) as? [String: Any])
        #expect(object["positive_prompt"] as? String == "a lighthouse at dusk, oil painting")
        #expect(object["negative_prompt"] as? String == "blurry, lowres")
        #expect(object["seed"] as? Int == 1234)
        #expect(object["steps"] as? Int == 4)
        #expect(object["cfg_scale"] as? Double == 1)
        #expect(object["width"] as? Int == 512 && object["height"] as? Int == 768)
        #expect(object["scheduler"] as? String == "lcm")
        #expect(object["generation_mode"] as? String == "txt2img")
        #expect(object["rand_device"] as? String == "cpu")
        #expect(object["clip_skip"] as? Int == 1)
        let model = try #require(object["model"] as? [String: Any])
        #expect(model["name"] as? String == "dreamshaper_8" && model["base"] as? String == "sd-1" && model["type"] as? String == "main")
        let loras = try #require(object["loras"] as? [[String: Any]])
        #expect(loras.count == 2)
        #expect((loras[0]["model"] as? [String: Any])?["name"] as? String == "lcm-lora-sdv1-5")
        #expect(loras[0]["weight"] as? Double == 0.35)
    }

    @Test("Written PNGs read back pixel for pixel with both metadata chunks; non-Latin text goes to iTXt")
    func roundTrip() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("out.png")
        var meta = metadata
        meta.prompt = "灯台, café au lait"
        try PNGWriter.write(picture(), to: url, metadata: meta)
        let back = try ImageReader.read(contentsOf: url)
        #expect(back.rgb == (try picture()))
        #expect(back.alpha == nil && back.format == .png)
        let chunks = Self.textChunks(try Data(contentsOf: url))
        #expect(chunks.map(\.1) == ["parameters", "invokeai_metadata"])
        #expect(chunks[0].0 == "iTXt" && chunks[0].2 == meta.a1111Parameters)
        #expect(chunks[1].0 == "tEXt" || chunks[1].0 == "iTXt")
        #expect(chunks[1].2 == meta.invokeAIMetadataJSON)
        var latin = metadata
        latin.prompt = "café"
        let data = try PNGWriter.encode(picture(), textChunks: latin.pngTextChunks)
        let latinChunks = Self.textChunks(data)
        #expect(latinChunks[0].0 == "tEXt" && latinChunks[0].2 == latin.a1111Parameters)
    }

    @Test("Writes are atomic: no overwrite unless allowed, nothing partial or temporary left behind")
    func atomicWrites() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("keep.png")
        try Data("original".utf8).write(to: url)
        #expect(throws: ImageError.outputExists(path: url.path)) { try PNGWriter.write(picture(), to: url) }
        #expect(try Data(contentsOf: url) == Data("original".utf8))
        try PNGWriter.write(picture(), to: url, overwrite: true)
        #expect(try ImageReader.read(contentsOf: url).rgb == (try picture()))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["keep.png"])
        let nowhere = folder.appendingPathComponent("missing-folder/out.png")
        #expect(throws: ImageError.self) { try PNGWriter.write(picture(), to: nowhere) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["keep.png"])
    }

    @Test("Bad keywords and NUL characters are refused before anything is written")
    func badText() throws {
        #expect(throws: ImageError.self) { try PNGWriter.encode(picture(), textChunks: [.init(keyword: "", text: "x")]) }
        #expect(throws: ImageError.self) { try PNGWriter.encode(picture(), textChunks: [.init(keyword: String(repeating: "k", count: 80), text: "x")]) }
        #expect(throws: ImageError.self) { try PNGWriter.encode(picture(), textChunks: [.init(keyword: " lead", text: "x")]) }
        #expect(throws: ImageError.self) { try PNGWriter.encode(picture(), textChunks: [.init(keyword: "parameters", text: "a\u{0}b")]) }
    }
}
