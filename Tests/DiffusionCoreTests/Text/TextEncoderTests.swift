import Foundation
import LoRAKit
import Testing
@testable import DiffusionCore

/// Relative error of `a` against the reference `b`: max |a − b| / max |b|.
func relativeError(_ a: [Float], _ b: [Float]) -> Float {
    guard a.count == b.count, !b.isEmpty else { return .infinity }
    var diff: Float = 0, scale: Float = 0
    for (x, y) in zip(a, b) {
        diff = max(diff, abs(x - y))
        scale = max(scale, abs(y))
    }
    return diff / max(scale, .leastNormalMagnitude)
}

extension TextFixtures {
    static func reference(_ name: String) throws -> SafetensorsFile {
        try SafetensorsFile(contentsOf: url(name))
    }

    static func encoder(_ name: String) throws -> CLIPTextEncoder {
        try CLIPTextEncoder(folder: url("encoders/\(name)"))
    }
}

/// The tiny text encoders (CLIP-L-like with quick_gelu, F16, transformers 5 names; OpenCLIP-like with gelu,
/// BF16, `text_model.` names; OpenCLIP-like with projection) against transformers 5.24 and diffusers 0.42.1's
/// `encode_prompt`, for every `clip_skip`.
@Suite("Text encoders (transformers 5.24, diffusers 0.42.1)")
struct TextEncoderTests {
    let tolerance: Float = 1e-4

    private func prompts(_ ref: SafetensorsFile) throws -> [String] {
        let text = try #require(ref.metadata?["prompts"])
        return try JSONDecoder().decode([String].self, from: Data(text.utf8))
    }

    @Test("SD1.x-like and SD2.x-like: hidden states for clip_skip 0, 1, 2 and the pooled output", arguments: ["sd1", "sd2"])
    func singleEncoder(name: String) throws {
        let ref = try TextFixtures.reference("encoders/reference.safetensors")
        let encoder = try TextFixtures.encoder(name)
        let tokenizer = try TextFixtures.smallTokenizer(padToken: name == "sd1" ? "<|endoftext|>" : "!")
        for (p, prompt) in try prompts(ref).enumerated() {
            let ids = try ref.tensor(named: "\(name)/p\(p)/ids").floats().map { Int($0) }
            #expect(tokenizer.encodePadded(prompt) == ids, "the tokenizer gives diffusers' ids")
            for cs in 0...2 {
                let out = try encoder.encode(ids: ids, layer: .normalized(skipping: cs), pooled: true)
                let e = relativeError(out.hiddenStates.scalars, try ref.tensor(named: "\(name)/p\(p)/cs\(cs)").floats())
                #expect(e <= tolerance, "\(name) p\(p) clip_skip \(cs): \(e)")
                let pe = relativeError(try #require(out.pooled).scalars, try ref.tensor(named: "\(name)/p\(p)/pooled").floats())
                #expect(pe <= tolerance, "\(name) p\(p) pooled: \(pe)")
            }
        }
        // Through the prompt encoder: a short plain prompt is exactly diffusers' encode_prompt.
        let promptEncoder = try PromptEncoder(tokenizers: [tokenizer], encoders: [encoder])
        for cs in 0...2 {
            let c = try promptEncoder.encode(prompts(ref)[0], clipSkip: cs).conditioning
            let e = relativeError(c.hiddenStates.scalars, try ref.tensor(named: "\(name)/p0/cs\(cs)").floats())
            #expect(c.chunkCount == 1 && c.pooled == nil)
            #expect(e <= tolerance, "\(name) prompt encoder clip_skip \(cs): \(e)")
        }
        #expect(throws: TextError.invalidClipSkip(clipSkip: 4, layers: 3)) { try encoder.encode(ids: [1012, 1013], layer: .normalized(skipping: 4)) }
        #expect(throws: TextError.self) { try encoder.encode(ids: [5000], layer: .normalized(skipping: 0)) }
        #expect(throws: TextError.self) { try encoder.encode(ids: Array(repeating: 1, count: 78), layer: .normalized(skipping: 0)) }
    }

    @Test("SDXL pair: penultimate states of both, concatenated, and the projected pooled output, for clip_skip 0, 1, 2")
    func sdxlPair() throws {
        let ref = try TextFixtures.reference("encoders/reference.safetensors")
        let first = try TextFixtures.encoder("sd1"), second = try TextFixtures.encoder("sdxl2")
        #expect(second.pooledSize == 20)
        let tokenizers = [try TextFixtures.smallTokenizer(padToken: "<|endoftext|>"), try TextFixtures.smallTokenizer(padToken: "!")]
        let encoder = try PromptEncoder(tokenizers: tokenizers, encoders: [first, second])
        let prompts = try prompts(ref)
        for cs in 0...2 {
            let c = try encoder.encode(prompts[0], clipSkip: cs).conditioning
            #expect(c.hiddenStates.shape == [77, 40])
            let e = relativeError(c.hiddenStates.scalars, try ref.tensor(named: "sdxl/p0/cs\(cs)").floats())
            #expect(e <= tolerance, "SDXL clip_skip \(cs): \(e)")
            let pe = relativeError(try #require(c.pooled).scalars, try ref.tensor(named: "sdxl/p0/pooled").floats())
            #expect(pe <= tolerance, "SDXL pooled: \(pe)")
            // The long prompt as diffusers truncates it, through the encoders directly.
            let ids1 = try ref.tensor(named: "sd1/p1/ids").floats().map { Int($0) }
            let ids2 = try ref.tensor(named: "sdxl2/p1/ids").floats().map { Int($0) }
            let a = try first.encode(ids: ids1, layer: .raw(skipping: cs + 1)).hiddenStates.scalars
            let b = try second.encode(ids: ids2, layer: .raw(skipping: cs + 1), pooled: true)
            let bs = b.hiddenStates.scalars
            var joined: [Float] = []
            for t in 0..<77 {
                joined.append(contentsOf: a[(t * 16)..<((t + 1) * 16)])
                joined.append(contentsOf: bs[(t * 24)..<((t + 1) * 24)])
            }
            #expect(relativeError(joined, try ref.tensor(named: "sdxl/p1/cs\(cs)").floats()) <= tolerance)
            #expect(relativeError(try #require(b.pooled).scalars, try ref.tensor(named: "sdxl/p1/pooled").floats()) <= tolerance)
        }
    }

    @Test("broken encoder folders are typed errors")
    func brokenFolders() throws {
        let folder = try TextFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(throws: TextError.self) { try CLIPTextEncoder(folder: folder) }
        let source = try TextFixtures.url("encoders/sd1/config.json")
        try FileManager.default.copyItem(at: source, to: folder.appendingPathComponent("config.json"))
        #expect(throws: TextError.weightFile(file: folder.path, reason: "no model.safetensors")) { try CLIPTextEncoder(folder: folder) }
        try Data("not a pickle really".utf8).write(to: folder.appendingPathComponent("pytorch_model.bin"))
        #expect(throws: TextError.self) { try CLIPTextEncoder(folder: folder) }
        // Weights of another model (the SD2-like one is 24 wide).
        try FileManager.default.copyItem(at: TextFixtures.url("encoders/sd2/model.safetensors"), to: folder.appendingPathComponent("model.safetensors"))
        #expect(throws: TextError.weightShapeMismatch(name: "text_model.embeddings.token_embedding.weight", expected: [1014, 16], actual: [1014, 24])) {
            try CLIPTextEncoder(folder: folder)
        }
        try Data(#"{"hidden_size": 30, "num_attention_heads": 4}"#.utf8).write(to: folder.appendingPathComponent("config.json"))
        #expect(throws: TextError.self) { try CLIPTextEncoder(folder: folder) }
    }
}
