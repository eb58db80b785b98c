import Foundation
import Testing
@testable import DiffusionCore

/// Token ids against transformers 5.24's `CLIPTokenizer` with the real 49,408-token vocabulary
/// (fixtures from Scripts/fixtures/text_fixtures.py).
@Suite("CLIP tokenizer (transformers 5.24)")
struct CLIPTokenizerTests {
    @Test("the vocabulary check string")
    func checkString() throws {
        let tok = try TextFixtures.clipTokenizer.get()
        #expect(tok.vocabularySize == 49408)
        #expect(tok.encode("a photo of an astronaut riding a horse") == [49406, 320, 1125, 539, 550, 18376, 6765, 320, 4558, 49407])
        #expect(tok.bosTokenID == 49406 && tok.eosTokenID == 49407 && tok.padTokenID == 49407)
        #expect(tok.commaTokenID == 267)
    }

    @Test("identical ids on thousands of strings (emoji, accents, CJK, punctuation, numbers, spaces, long prompts)")
    func idsMatchTransformers() throws {
        let tok = try TextFixtures.clipTokenizer.get()
        let cases = try TextFixtures.idCases("tokenizer-ids.json.gz")
        #expect(cases.count > 3000)
        var mismatches: [String] = []
        for c in cases where tok.encode(c.text) != c.ids {
            mismatches.append("\(c.text.debugDescription): \(tok.encode(c.text)) vs \(c.ids)")
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches, first: \(mismatches.prefix(5).joined(separator: "\n"))")
        #expect(cases.contains { $0.ids.count > 200 }, "the fixture has prompts far past 77 tokens")
    }

    @Test("the batch form gives what one call per text gives")
    func batchEqualsSingle() throws {
        let tok = try TextFixtures.clipTokenizer.get()
        let texts = try TextFixtures.idCases("tokenizer-ids.json.gz").prefix(500).map(\.text)
        #expect(tok.encodePadded(batch: texts) == texts.map { tok.encodePadded($0) })
    }

    @Test("clip skip: A1111's numbering and diffusers'")
    func clipSkipNumbering() throws {
        #expect(try ClipSkip.diffusers(fromA1111: 1) == nil)
        #expect(try ClipSkip.diffusers(fromA1111: 2) == 1)
        #expect(ClipSkip.a1111(fromDiffusers: nil) == 1 && ClipSkip.a1111(fromDiffusers: 1) == 2)
        #expect(throws: TextError.self) { try ClipSkip.diffusers(fromA1111: 0) }
    }

    @Test("SDXL's second tokenizer: `!` pads and is cut out of the text as a special token")
    func bangTokenizer() throws {
        let tok = try TextFixtures.bangTokenizer.get()
        #expect(tok.padTokenID == 0)
        let cases = try TextFixtures.idCases("tokenizer-bang-ids.json.gz")
        #expect(cases.count > 300)
        var mismatches: [String] = []
        for c in cases where tok.encode(c.text) != c.ids {
            mismatches.append("\(c.text.debugDescription): \(tok.encode(c.text)) vs \(c.ids)")
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches, first: \(mismatches.prefix(5).joined(separator: "\n"))")
    }

    @Test("padding and truncation to 77 with each pad token")
    func paddedToMaxLength() throws {
        let end = try TextFixtures.clipTokenizer.get()
        let bang = try TextFixtures.bangTokenizer.get()
        let cases = try TextFixtures.json("tokenizer-padded.json")["cases"] as? [[String: Any]] ?? []
        #expect(cases.count >= 7)
        for c in cases {
            let text = c["text"] as? String ?? ""
            let expectedEnd = (c["endoftext"] as? [NSNumber] ?? []).map(\.intValue)
            let expectedBang = (c["bang"] as? [NSNumber] ?? []).map(\.intValue)
            #expect(end.encodePadded(text) == expectedEnd, "\(text.prefix(40))")
            #expect(bang.encodePadded(text) == expectedBang, "\(text.prefix(40))")
            #expect(end.encodePadded(text).count == 77)
        }
    }

    @Test("tokenizer.json-only folder, as transformers 5 saves it")
    func tokenizerJSONLayout() throws {
        let folder = try TextFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try TextFixtures.data("tokenizer.json.gz").write(to: folder.appendingPathComponent("tokenizer.json"))
        try TextFixtures.data("tokenizer_config.json.gz").write(to: folder.appendingPathComponent("tokenizer_config.json"))
        let tok = try CLIPTokenizer(folder: folder)
        #expect(tok.padTokenID == 0)
        #expect(tok.modelMaxLength == 77)
        let cases = try TextFixtures.idCases("tokenizer-json-ids.json.gz")
        #expect(cases.count == 400)
        var mismatches: [String] = []
        for c in cases where tok.encode(c.text) != c.ids {
            mismatches.append("\(c.text.debugDescription): \(tok.encode(c.text)) vs \(c.ids)")
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches, first: \(mismatches.prefix(5).joined(separator: "\n"))")
    }

    @Test("broken tokenizer folders are typed errors")
    func brokenFolders() throws {
        let folder = try TextFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(throws: TextError.tokenizerFilesMissing(folder: folder.path)) { try CLIPTokenizer(folder: folder) }

        try Data("{not json".utf8).write(to: folder.appendingPathComponent("vocab.json"))
        try Data("#version: 0.2\na b\n".utf8).write(to: folder.appendingPathComponent("merges.txt"))
        #expect(throws: TextError.invalidTokenizerFile(file: "vocab.json", reason: "not valid JSON")) { try CLIPTokenizer(folder: folder) }

        // A vocabulary without the byte characters.
        try JSONSerialization.data(withJSONObject: ["a": 0, "<|startoftext|>": 1, "<|endoftext|>": 2])
            .write(to: folder.appendingPathComponent("vocab.json"))
        #expect(throws: TextError.self) { try CLIPTokenizer(folder: folder) }

        // A merge naming an unknown token reports its line.
        let real = try TextFixtures.clipTokenizerFolder()
        defer { try? FileManager.default.removeItem(at: real) }
        try Data("#version: 0.2\nh e\nzzz qqq\n".utf8).write(to: real.appendingPathComponent("merges.txt"))
        #expect(throws: TextError.invalidMerge(line: 3, merge: "zzz qqq")) { try CLIPTokenizer(folder: real) }
        try Data("#version: 0.2\nh e x\n".utf8).write(to: real.appendingPathComponent("merges.txt"))
        #expect(throws: TextError.self) { try CLIPTokenizer(folder: real) }
    }
}
