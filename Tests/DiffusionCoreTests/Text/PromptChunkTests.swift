import Foundation
import Testing
@testable import DiffusionCore

/// Chunks (ids and weights) against the fixture script's re-implementation of A1111's `tokenize_line`
/// (75-token chunks, the last-comma rule, BREAK, emphasis weights), for an SD1.x tokenizer (pads with
/// `<|endoftext|>`) and SDXL's second (pads with `!`).
@Suite("Prompt chunks (A1111 rules)")
struct PromptChunkTests {
    private struct ChunkFile: Decodable {
        struct Chunk: Decodable { let ids: [Int]; let weights: [Float] }
        struct Case: Decodable { let prompt: String; let sd1: [Chunk]; let sdxl2: [Chunk] }
        let cases: [Case]
    }

    @Test("ids and weights match the reference, chunk by chunk")
    func chunksMatchReference() throws {
        let file = try JSONDecoder().decode(ChunkFile.self, from: TextFixtures.data("prompts/chunks.json"))
        #expect(file.cases.count >= 6)
        let sd1 = try PromptTokenizer(tokenizer: TextFixtures.smallTokenizer(padToken: "<|endoftext|>"))
        let xl2 = try PromptTokenizer(tokenizer: TextFixtures.smallTokenizer(padToken: "!"))
        var multiChunk = 0
        for c in file.cases {
            for (tokenizer, expected) in [(sd1, c.sd1), (xl2, c.sdxl2)] {
                let got = try tokenizer.tokenize(c.prompt).chunks
                #expect(got.count == expected.count, "\(c.prompt.prefix(50)): \(got.count) chunks, expected \(expected.count)")
                for (g, e) in zip(got, expected) {
                    #expect(g.ids == e.ids, "\(c.prompt.prefix(50))")
                    #expect(zip(g.weights, e.weights).allSatisfy { abs($0 - $1) <= 1e-6 * max(1, abs($1)) }, "\(c.prompt.prefix(50)): \(g.weights) vs \(e.weights)")
                }
                if expected.count > 1 { multiChunk += 1 }
            }
        }
        #expect(multiChunk >= 4, "the fixture covers long prompts")
    }

    @Test("the last-comma rule moves the words after the comma to the next chunk")
    func lastCommaRule() throws {
        let tok = try PromptTokenizer(tokenizer: TextFixtures.clipTokenizer.get())
        // 70 single-token words, a comma, then 10 more: the chunk fills at 75 with the comma 5 tokens back.
        let prompt = Array(repeating: "cat", count: 70).joined(separator: " ") + ", " + Array(repeating: "dog", count: 10).joined(separator: " ")
        let chunks = try tok.tokenize(prompt).chunks
        #expect(chunks.count == 2)
        let comma = try #require(tok.tokenizer.commaTokenID)
        #expect(chunks[0].ids[71] == comma)
        #expect(chunks[0].ids[72] == tok.tokenizer.eosTokenID)
        #expect(chunks[1].ids[1...10].allSatisfy { $0 == tok.tokenizer.tokenize("dog")[0] })
        var off = tok
        off.commaPaddingBacktrack = 0
        let plain = try off.tokenize(prompt).chunks
        #expect(plain[0].ids[75] == tok.tokenizer.tokenize("dog")[0])
    }

    @Test("a short prompt is exactly the padded ids diffusers uses")
    func shortPromptMatchesPaddedIDs() throws {
        for pad in ["<|endoftext|>", "!"] {
            let tokenizer = try TextFixtures.smallTokenizer(padToken: pad)
            let tok = try PromptTokenizer(tokenizer: tokenizer)
            for text in ["a photo of an astronaut riding a horse", "", "masterpiece, best quality"] {
                let chunks = try tok.tokenize(text).chunks
                #expect(chunks.count == 1)
                #expect(chunks[0].ids == tokenizer.encodePadded(text))
                #expect(chunks[0].isUnweighted)
            }
            #expect(tok.emptyChunk().ids == tokenizer.encodePadded(""))
        }
    }
}
