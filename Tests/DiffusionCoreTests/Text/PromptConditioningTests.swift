import Foundation
import LoRAKit
import Testing
@testable import DiffusionCore

/// Weighted, long and BREAK prompts against the fixture script's NumPy re-implementation of A1111's rules on
/// top of transformers' hidden states; embeddings against diffusers' `load_textual_inversion`.
@Suite("Prompt conditioning (A1111 weighting, diffusers embeddings)")
struct PromptConditioningTests {
    let tolerance: Float = 1e-4

    private struct ChunkFile: Decodable {
        struct Case: Decodable { let prompt: String }
        let cases: [Case]
    }

    private func sd1() throws -> PromptEncoder {
        try PromptEncoder(tokenizers: [TextFixtures.smallTokenizer(padToken: "<|endoftext|>")], encoders: [TextFixtures.encoder("sd1")])
    }

    private func sdxl(_ embeddings: [TextualInversionEmbedding] = []) throws -> PromptEncoder {
        try PromptEncoder(
            tokenizers: [TextFixtures.smallTokenizer(padToken: "<|endoftext|>"), TextFixtures.smallTokenizer(padToken: "!")],
            encoders: [TextFixtures.encoder("sd1"), TextFixtures.encoder("sdxl2")], embeddings: embeddings)
    }

    @Test("emphasis, long prompts and BREAK: SD1.x for clip_skip 0 and 1, SDXL with pooled output")
    func weightedPrompts() throws {
        let ref = try TextFixtures.reference("prompts/reference.safetensors")
        let cases = try JSONDecoder().decode(ChunkFile.self, from: TextFixtures.data("prompts/chunks.json")).cases
        let sd1 = try sd1(), xl = try sdxl()
        var checked = 0
        for (p, c) in cases.enumerated() {
            for cs in 0...1 where ref.contains("p\(p)/sd1/cs\(cs)") {
                let got = try sd1.encode(c.prompt, clipSkip: cs).conditioning
                let e = relativeError(got.hiddenStates.scalars, try ref.tensor(named: "p\(p)/sd1/cs\(cs)").floats())
                #expect(e <= tolerance, "SD1 \(c.prompt.prefix(40)) clip_skip \(cs): \(e)")
                checked += 1
            }
            if ref.contains("p\(p)/sdxl") {
                let got = try xl.encode(c.prompt).conditioning
                let e = relativeError(got.hiddenStates.scalars, try ref.tensor(named: "p\(p)/sdxl").floats())
                #expect(e <= tolerance, "SDXL \(c.prompt.prefix(40)): \(e)")
                let pe = relativeError(try #require(got.pooled).scalars, try ref.tensor(named: "p\(p)/sdxl_pooled").floats())
                #expect(pe <= tolerance, "SDXL pooled \(c.prompt.prefix(40)): \(pe)")
                checked += 1
            }
        }
        #expect(checked >= 12)
    }

    @Test("the negative prompt is padded to the prompt's chunk count with the empty chunk's encoding")
    func negativePadding() throws {
        let ref = try TextFixtures.reference("prompts/reference.safetensors")
        let cases = try JSONDecoder().decode(ChunkFile.self, from: TextFixtures.data("prompts/chunks.json")).cases
        let long = try #require(cases.first { $0.prompt.hasPrefix("portrait, portrait") })
        let negativeIndex = try #require(cases.firstIndex { $0.prompt == "lowres, [bad anatomy]" })
        let pair = try sd1().encode(prompt: long.prompt + " <lora:style:0.5>", negativePrompt: "lowres, [bad anatomy]")
        let n = pair.positive.chunkCount
        #expect(n >= 2 && pair.negative.chunkCount == n)
        #expect(pair.negative.hiddenStates.shape == [77 * n, 16])
        let negative = pair.negative.hiddenStates.scalars
        let first = try ref.tensor(named: "p\(negativeIndex)/sd1/cs0").floats()
        let empty = try ref.tensor(named: "empty/sd1").floats()
        #expect(relativeError(Array(negative[0..<(77 * 16)]), first) <= tolerance)
        for c in 1..<n {
            #expect(relativeError(Array(negative[(77 * 16 * c)..<(77 * 16 * (c + 1))]), empty) <= tolerance)
        }
        #expect(pair.loras.map(\.name) == ["style"])
        // And the other way round: a short prompt with a long negative.
        let swapped = try sd1().encode(prompt: "a cat", negativePrompt: long.prompt)
        #expect(swapped.positive.chunkCount == n && swapped.negative.chunkCount == n)
    }

    private struct EmbeddingPrompts: Decodable {
        let sd1_cat: String, sd1_old: String, sd1_pivotal: String, sd1_bundle: String, sdxl_concept: String
    }

    @Test("embeddings as diffusers' load_textual_inversion places them (emb_params, string_to_param, pivotal <s1><s2>, kohya bundle, SDXL clip_l + clip_g)")
    func embeddingsMatchDiffusers() throws {
        let ref = try TextFixtures.reference("embeddings/reference.safetensors")
        let prompts = try JSONDecoder().decode(EmbeddingPrompts.self, from: TextFixtures.data("embeddings/prompts.json"))
        func url(_ name: String) throws -> URL { try TextFixtures.url("embeddings/\(name)") }
        let tokenizer = try TextFixtures.smallTokenizer(padToken: "<|endoftext|>")
        let encoder = try TextFixtures.encoder("sd1")
        let pivotal = try TextualInversionEmbedding.embedded(in: SafetensorsFile(contentsOf: url("pivotal-lora.safetensors")))
        let bundle = try TextualInversionEmbedding.embedded(in: SafetensorsFile(contentsOf: url("kohya-bundle.safetensors")))
        let sets: [(String, String, [TextualInversionEmbedding])] = [
            ("sd1_cat", prompts.sd1_cat, [try TextualInversionEmbedding(contentsOf: url("cat-toy.safetensors"))]),
            ("sd1_old", prompts.sd1_old, [try TextualInversionEmbedding(contentsOf: url("oldstyle.safetensors"))]),
            ("sd1_pivotal", prompts.sd1_pivotal, pivotal),
            ("sd1_bundle", prompts.sd1_bundle, bundle),
        ]
        for (key, prompt, embeddings) in sets {
            let c = try PromptEncoder(tokenizers: [tokenizer], encoders: [encoder], embeddings: embeddings).encode(prompt).conditioning
            let e = relativeError(c.hiddenStates.scalars, try ref.tensor(named: key).floats())
            #expect(e <= tolerance, "\(key): \(e)")
            #expect(!c.embeddingsUsed.isEmpty, "\(key) used its embedding")
        }
        let xl = try sdxl([TextualInversionEmbedding(contentsOf: url("xlconcept.safetensors"))]).encode(prompts.sdxl_concept).conditioning
        #expect(relativeError(xl.hiddenStates.scalars, try ref.tensor(named: "sdxl_concept").floats()) <= tolerance)
        // Pooled at <|endoftext|> as A1111 does; diffusers pools at the embedding's position (its added ids are the
        // largest, and the legacy rule takes the largest id), which is a different vector.
        let pooled = try #require(xl.pooled).scalars
        #expect(relativeError(pooled, try ref.tensor(named: "sdxl_concept_pooled").floats()) <= tolerance)
        #expect(relativeError(pooled, try ref.tensor(named: "sdxl_concept_pooled_diffusers").floats()) > 1e-2)
    }

    @Test("an embedding for another width is refused when the encoder is set up, naming both widths")
    func wrongWidthAtSetUp() throws {
        let wide = try TextualInversionEmbedding(contentsOf: TextFixtures.url("embeddings/wide.safetensors"))
        #expect(throws: TextError.embeddingWidthMismatch(name: "wide", embeddingWidth: 24, encoderWidth: 16)) {
            try PromptEncoder(tokenizers: [TextFixtures.smallTokenizer(padToken: "<|endoftext|>")],
                              encoders: [TextFixtures.encoder("sd1")], embeddings: [wide])
        }
    }
}
