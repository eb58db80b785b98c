import Foundation
import Testing

/// `lora-tool prompt`, run through the built binary with a byte-level vocabulary (no merges).
@Suite("lora-tool prompt")
struct PromptCLITests {
    /// A tokenizer folder whose vocabulary is CLIP's 512 byte tokens and the two special tokens.
    static func byteTokenizer() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lorakit-prompt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var printable = Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
        var chars = printable.map { String(UnicodeScalar(UInt8($0))) }
        var next = 256
        for b in 0..<256 where !printable.contains(b) {
            printable.append(b)
            chars.append(String(UnicodeScalar(UInt32(next))!))
            next += 1
        }
        let tokens = chars + chars.map { $0 + "</w>" } + ["<|startoftext|>", "<|endoftext|>"]
        let vocab = Dictionary(uniqueKeysWithValues: tokens.enumerated().map { ($1, $0) })
        try JSONSerialization.data(withJSONObject: vocab).write(to: folder.appendingPathComponent("vocab.json"))
        try Data("#version: 0.2\n".utf8).write(to: folder.appendingPathComponent("merges.txt"))
        return folder
    }

    @Test("tags, chunks and weights as JSON")
    func json() throws {
        let folder = try Self.byteTokenizer()
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = try CLI.run(["prompt", "a (cat:1.5) <lora:style:0.5:0.25>", "--negative", "dog", "--tokenizer", folder.path, "--json"])
        #expect(run.status == 0, "\(run)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let loras = try #require(report["loras"] as? [[String: Any]])
        #expect(loras.count == 1 && loras[0]["name"] as? String == "style" && loras[0]["unet"] as? Double == 0.25)
        let prompt = try #require(report["prompt"] as? [String: Any])
        let chunks = try #require(prompt["chunks"] as? [[String: Any]])
        let items = try #require(chunks.first?["items"] as? [[String: Any]])
        // a | c a t (×1.5): one byte token per letter, no merges in this vocabulary.
        #expect(items.map { $0["token"] as? String } == ["a</w>", "c", "a", "t</w>"])
        #expect(items.map { $0["weight"] as? Double } == [1, 1.5, 1.5, 1.5])
        #expect((report["negative"] as? [String: Any]) != nil)
    }

    @Test("a malformed tag is an error naming it, exit status 1")
    func malformedTag() throws {
        let folder = try Self.byteTokenizer()
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = try CLI.run(["prompt", "a <lora:x:abc> b", "--tokenizer", folder.path])
        #expect(run.status == 1)
        #expect(run.stderr.contains("<lora:x:abc>"), "\(run)")
    }
}
