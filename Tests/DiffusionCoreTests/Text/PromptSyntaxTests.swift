import Foundation
import Testing
@testable import DiffusionCore

/// A1111's emphasis syntax and extra-network tags, on the examples A1111 documents.
@Suite("Prompt syntax (A1111)")
struct PromptSyntaxTests {
    private func texts(_ prompt: String) throws -> [(String, Double)] {
        try PromptAttention.parse(prompt).map { f -> (String, Double) in
            switch f {
            case let .text(t, w): return (t, w)
            case .chunkBreak: return ("BREAK", -1)
            }
        }
    }

    private func expectFragments(_ prompt: String, _ expected: [(String, Double)], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let got = try texts(prompt)
        #expect(got.count == expected.count, "\(prompt): \(got)", sourceLocation: sourceLocation)
        for (g, e) in zip(got, expected) {
            #expect(g.0 == e.0 && abs(g.1 - e.1) < 1e-12, "\(prompt): \(got)", sourceLocation: sourceLocation)
        }
    }

    @Test("A1111's documented examples")
    func documentedExamples() throws {
        try expectFragments("normal text", [("normal text", 1)])
        try expectFragments("an (important) word", [("an ", 1), ("important", 1.1), (" word", 1)])
        try expectFragments("(unbalanced", [("unbalanced", 1.1)])
        try expectFragments("\\(literal\\]", [("(literal]", 1)])
        try expectFragments("(unnecessary)(parens)", [("unnecessaryparens", 1.1)])
        try expectFragments("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).", [
            ("a ", 1), ("house", 1.1 * 1.1 * 1.3), (" ", 1.1), ("on", 1), (" a ", 1.1), ("hill", 0.55),
            (", sun, ", 1.1), ("sky", 1.1 * 1.1 * 1.1 * 1.1), (".", 1.1),
        ])
    }

    @Test("square brackets, escapes, stray closers, colons")
    func edgeCases() throws {
        try expectFragments("[blurry]", [("blurry", 1 / 1.1)])
        try expectFragments("[[a]]", [("a", 1 / 1.1 / 1.1)])
        try expectFragments("a) b] c", [("a) b] c", 1)])
        try expectFragments("x:1.2) y", [("x:1.2) y", 1)])
        try expectFragments("time: 12:30", [("time: 12:30", 1)])
        try expectFragments("back\\\\slash \\ lone", [("back\\slash  lone", 1)])
        try expectFragments("(a:-1)", [("a", -1)])
        try expectFragments("", [("", 1)])
        #expect(throws: TextError.invalidEmphasisWeight("1.2.3")) { try PromptAttention.parse("(a:1.2.3)") }
        #expect(throws: TextError.invalidEmphasisWeight(".")) { try PromptAttention.parse("(a:.)") }
    }

    @Test("BREAK splits, spaces around it dropped")
    func breaks() throws {
        try expectFragments("a cat BREAK a dog", [("a cat", 1), ("BREAK", -1), ("a dog", 1)])
        try expectFragments("BREAKfast BREAK", [("BREAKfast", 1), ("BREAK", -1), ("", 1)])
        try expectFragments("Break break", [("Break break", 1)])
        try expectFragments("(a BREAK b)", [("a", 1.1), ("BREAK", -1), ("b", 1.1)])
    }

    @Test("<lora:…> tags become requests and leave the text")
    func loraTags() throws {
        let (text, loras) = try PromptLoRATags.extract(from: "a cat <lora:add_detail:0.8>, <lora:style> (x) <lyco:foo:0.5:0.25>")
        #expect(text == "a cat ,  (x) ")
        #expect(loras == [
            PromptLoRARequest(name: "add_detail", textEncoderWeight: 0.8, unetWeight: 0.8, tag: "<lora:add_detail:0.8>"),
            PromptLoRARequest(name: "style", textEncoderWeight: 1, unetWeight: 1, tag: "<lora:style>", givesWeight: false),
            PromptLoRARequest(name: "foo", textEncoderWeight: 0.5, unetWeight: 0.25, tag: "<lyco:foo:0.5:0.25>"),
        ])
        let named = try PromptLoRATags.extract(from: "<lora:x:unet=0.3:te=0.7>").loras
        #expect(named.first?.unetWeight == 0.3 && named.first?.textEncoderWeight == 0.7)
        let negative = try PromptLoRATags.extract(from: "<lora:slider:-1.5>").loras
        #expect(negative.first?.unetWeight == -1.5)
        #expect(try PromptLoRATags.extract(from: "a <b> c < d").prompt == "a <b> c < d")
    }

    @Test("malformed tags are errors naming the tag")
    func malformedTags() {
        #expect(throws: TextError.malformedLoRATag(tag: "<lora:x:abc>", reason: "weight \"abc\" is not a number")) {
            try PromptLoRATags.extract(from: "a <lora:x:abc> b")
        }
        #expect(throws: TextError.malformedLoRATag(tag: "<lora::1>", reason: "no LoRA name")) {
            try PromptLoRATags.extract(from: "<lora::1>")
        }
        #expect(throws: TextError.self) { try PromptLoRATags.extract(from: "a <lora:unclosed:1 b") }
        #expect(throws: TextError.self) { try PromptLoRATags.extract(from: "<lora:x:1:dyn=4>") }
        #expect(throws: TextError.self) { try PromptLoRATags.extract(from: "<lora:x:1:zz=4>") }
    }

    @Test("Other extra-network kinds are cut out and listed, as A1111 skips networks it has no handler for")
    func otherExtraNetworks() throws {
        let tags = try PromptLoRATags.parse("a <hypernet:foo:1> cat <lora:x:0.5> <Embed:y>")
        #expect(tags.prompt == "a  cat  ")
        #expect(tags.loras.map(\.name) == ["x"])
        #expect(tags.ignored == ["<hypernet:foo:1>", "<Embed:y>"])
        #expect(try PromptLoRATags.extract(from: "<hypernet:foo:1>").prompt == "")
        #expect(try PromptLoRATags.parse("<lora:x:te=0.5>").loras.first?.givesWeight == true)
        #expect(try PromptLoRATags.parse("<lora:x>").loras.first?.givesWeight == false)
    }
}
