import Foundation
import LoRAKit
import Testing
@testable import DiffusionCore

/// Reading textual-inversion files in the spellings people have, and refusing what cannot be used.
@Suite("Textual-inversion files")
struct EmbeddingFileTests {
    private func url(_ name: String) throws -> URL { try TextFixtures.url("embeddings/\(name)") }

    @Test("emb_params, string_to_param.*, clip_l + clip_g")
    func spellings() throws {
        let cat = try TextualInversionEmbedding(contentsOf: url("cat-toy.safetensors"))
        #expect(cat.name == "cat-toy" && cat.vectorCount == 2 && cat.single?.width == 16 && cat.matchesBareName)
        let old = try TextualInversionEmbedding(contentsOf: url("oldstyle.safetensors"))
        #expect(old.vectorCount == 1 && old.single?.width == 16)
        let xl = try TextualInversionEmbedding(contentsOf: url("xlconcept.safetensors"), name: "renamed")
        #expect(xl.name == "renamed" && xl.vectorCount == 3 && xl.clipL?.width == 16 && xl.clipG?.width == 24)
        #expect(try xl.vectors(encoder: 1, of: 2, width: 24).count == 3)
    }

    @Test("the wrong width is an error naming both widths")
    func wrongWidth() throws {
        let wide = try TextualInversionEmbedding(contentsOf: url("wide.safetensors"))
        #expect(throws: TextError.embeddingWidthMismatch(name: "wide", embeddingWidth: 24, encoderWidth: 16)) {
            try wide.vectors(encoder: 0, of: 1, width: 16)
        }
        let cat = try TextualInversionEmbedding(contentsOf: url("cat-toy.safetensors"))
        #expect(throws: TextError.embeddingWidthMismatch(name: "cat-toy", embeddingWidth: 16, encoderWidth: 24)) {
            try cat.vectors(encoder: 1, of: 2, width: 24)
        }
        let xl = try TextualInversionEmbedding(contentsOf: url("xlconcept.safetensors"))
        #expect(throws: TextError.self) { try xl.vectors(encoder: 0, of: 1, width: 16) }
        #expect(throws: TextError.embeddingWidthMismatch(name: "xlconcept", embeddingWidth: 24, encoderWidth: 1280)) {
            try xl.vectors(encoder: 1, of: 2, width: 1280)
        }
    }

    @Test("pickles are refused with the reason, never opened")
    func pickles() throws {
        #expect(throws: TextError.pickledEmbedding(file: "pickled.pt")) {
            try TextualInversionEmbedding(contentsOf: url("pickled.pt"))
        }
        #expect(throws: TextError.pickledEmbedding(file: "disguised.safetensors")) {
            try TextualInversionEmbedding(contentsOf: url("disguised.safetensors"))
        }
        #expect(TextError.pickledEmbedding(file: "x.pt").description.contains("run code"))
    }

    @Test("pivotal-tuning LoRAs bring their embeddings: cloneofsimo <s1>/<s2> and kohya bundle_emb")
    func embeddedInLoRAs() throws {
        let pivotal = try SafetensorsFile(contentsOf: url("pivotal-lora.safetensors"))
        let tokens = try TextualInversionEmbedding.embedded(in: pivotal)
        #expect(tokens.map(\.name) == ["<s1>", "<s2>"])
        #expect(tokens.allSatisfy { $0.vectorCount == 1 && !$0.matchesBareName })
        let kohya = try SafetensorsFile(contentsOf: url("kohya-bundle.safetensors"))
        let bundle = try TextualInversionEmbedding.embedded(in: kohya)
        #expect(bundle.map(\.name) == ["myconcept"] && bundle[0].vectorCount == 2 && bundle[0].matchesBareName)
    }

    @Test("the real pivotal-tuning LoRA in the shared folder carries <s1> and <s2>")
    func realWorldPivotal() throws {
        let here = URL(fileURLWithPath: #filePath)
        let path = here.deletingLastPathComponent().appendingPathComponent("../../../../shared/realworld/lora_disney.safetensors").standardized
        guard FileManager.default.fileExists(atPath: path.path) else {
            print("skipped: \(path.path) is absent (real-world LoRA files are not part of the repository)")
            return
        }
        let file = try SafetensorsFile(contentsOf: path)
        let tokens = try TextualInversionEmbedding.embedded(in: file)
        #expect(tokens.map(\.name) == ["<s1>", "<s2>"])
        #expect(tokens.allSatisfy { $0.single?.width == 768 })
        let tok = try PromptTokenizer(tokenizer: TextFixtures.clipTokenizer.get(), embeddings: tokens)
        let chunk = try tok.tokenize("a photo in <s1><s2> style").chunks[0]
        #expect(chunk.embeddings == [PlacedEmbedding(offset: 4, embedding: 0), PlacedEmbedding(offset: 5, embedding: 1)])
    }

    @Test("names in prompts: bare (A1111), <name> (InvokeAI), case-insensitive, never across chunks")
    func placement() throws {
        let cat = try TextualInversionEmbedding(contentsOf: url("cat-toy.safetensors"))
        let tok = try PromptTokenizer(tokenizer: TextFixtures.clipTokenizer.get(), embeddings: [cat])
        let bare = try tok.tokenize("a cat-toy photo").chunks[0]
        let bracket = try tok.tokenize("a <Cat-Toy> photo").chunks[0]
        #expect(bare.embeddings == [PlacedEmbedding(offset: 2, embedding: 0)])
        #expect(bare.ids == bracket.ids && bare.embeddings == bracket.embeddings)
        #expect(try tok.tokenize("a (cat-toy:1.5) photo").chunks[0].weights[2...3] == [1.5, 1.5])
        // 74 tokens then a 2-vector embedding: it does not fit and starts the next chunk.
        let long = try tok.tokenize(Array(repeating: "dog", count: 74).joined(separator: " ") + " cat-toy").chunks
        #expect(long.count == 2 && long[1].embeddings == [PlacedEmbedding(offset: 1, embedding: 0)])
        #expect(try tok.tokenize("a cat-toy photo").embeddingsUsed == ["cat-toy"])
        #expect(throws: TextError.duplicateEmbedding("cat-toy")) {
            try PromptTokenizer(tokenizer: TextFixtures.clipTokenizer.get(), embeddings: [cat, cat])
        }
    }
}
