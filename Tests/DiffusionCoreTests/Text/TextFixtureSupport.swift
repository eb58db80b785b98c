import Foundation
@testable import DiffusionCore

/// Reads the text-side fixtures written by `Scripts/fixtures/text_fixtures.py`
/// (Tests/DiffusionCoreTests/Fixtures/text). Large files are gzipped to keep the repository small;
/// they are unpacked with the system's `gzip`, which every Linux and macOS machine has.
enum TextFixtures {
    enum Failure: Error, CustomStringConvertible {
        case missing(String)
        case gunzip(String)
        var description: String {
            switch self {
            case let .missing(name): return "fixture \(name) is missing"
            case let .gunzip(name): return "could not gunzip \(name)"
            }
        }
    }

    static func url(_ name: String) throws -> URL {
        guard let base = Bundle.module.resourceURL else { throw Failure.missing(name) }
        let url = base.appendingPathComponent("Fixtures/text/\(name)")
        guard FileManager.default.fileExists(atPath: url.path) else { throw Failure.missing(name) }
        return url
    }

    /// The bytes of a fixture; `.gz` files are decompressed.
    static func data(_ name: String) throws -> Data {
        let url = try url(name)
        guard name.hasSuffix(".gz") else { return try Data(contentsOf: url) }
        return try gunzip(url, name: name)
    }

    /// The decompressed bytes of a gzipped fixture file (any fixture folder).
    static func gunzip(_ url: URL, name: String) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["gzip", "-dc", url.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw Failure.gunzip(name) }
        return data
    }

    static func json(_ name: String) throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: data(name)) as? [String: Any] else {
            throw Failure.missing(name)
        }
        return object
    }

    private struct IDFile: Decodable {
        struct Case: Decodable { let text: String; let ids: [Int] }
        let cases: [Case]
    }

    /// `(text, ids)` cases of an ids fixture. (Decoded with `JSONDecoder`: `JSONSerialization` drops a
    /// U+FEFF inside strings, and the fixture has one.)
    static func idCases(_ name: String) throws -> [(text: String, ids: [Int])] {
        try JSONDecoder().decode(IDFile.self, from: data(name)).cases.map { ($0.text, $0.ids) }
    }

    /// A fresh temporary folder, removed by the caller.
    static func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lorakit-text-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A diffusers-style `tokenizer/` folder (vocab.json + merges.txt) holding the real CLIP vocabulary,
    /// rebuilt from the committed merges with the Hugging Face recipe: the 256 byte characters, the same
    /// with `</w>`, every merge joined, then `<|startoftext|>` and `<|endoftext|>`.
    static func clipTokenizerFolder(padToken: String? = nil) throws -> URL {
        let folder = try temporaryFolder()
        let mergesText = try data("clip-merges.txt.gz")
        try mergesText.write(to: folder.appendingPathComponent("merges.txt"))
        var vocab: [String: Int] = [:]
        var order: [String] = ByteLevelAlphabet.characters.map { String($0) }
        // CLIP's order: the printable bytes first (`!`…`~`, `¡`…`¬`, `®`…`ÿ`), then the others.
        let printable = (0..<256).filter { (0x21...0x7E).contains($0) || (0xA1...0xAC).contains($0) || (0xAE...0xFF).contains($0) }
        let others = (0..<256).filter { !printable.contains($0) }
        order = (printable + others).map { String(ByteLevelAlphabet.characters[$0]) }
        order += order.map { $0 + "</w>" }
        let lines = String(decoding: mergesText, as: UTF8.self).split(separator: "\n").dropFirst()
        order += lines.map { $0.replacingOccurrences(of: " ", with: "") }
        order += ["<|startoftext|>", "<|endoftext|>"]
        for (i, token) in order.enumerated() { vocab[token] = i }
        try JSONSerialization.data(withJSONObject: vocab).write(to: folder.appendingPathComponent("vocab.json"))
        if let padToken {
            let config: [String: Any] = ["model_max_length": 77, "pad_token": padToken,
                                         "bos_token": ["content": "<|startoftext|>"], "eos_token": "<|endoftext|>"]
            try JSONSerialization.data(withJSONObject: config).write(to: folder.appendingPathComponent("tokenizer_config.json"))
        }
        return folder
    }

    /// The real CLIP tokenizer (SD1.x: pads with `<|endoftext|>`), built once per test process.
    static let clipTokenizer: Result<CLIPTokenizer, Error> = Result {
        let folder = try clipTokenizerFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        return try CLIPTokenizer(folder: folder)
    }

    /// SDXL's second tokenizer: the same vocabulary, `!` as pad token.
    static let bangTokenizer: Result<CLIPTokenizer, Error> = Result {
        let folder = try clipTokenizerFolder(padToken: "!")
        defer { try? FileManager.default.removeItem(at: folder) }
        return try CLIPTokenizer(folder: folder)
    }
}

extension TextFixtures {
    /// The cut-down tokenizer (1,014 tokens) the tiny encoders use, loaded from the `tokenizer.json` layout;
    /// `padToken` `!` (SD2.x / SDXL's second) or `<|endoftext|>` (SD1.x).
    static func smallTokenizer(padToken: String) throws -> CLIPTokenizer {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try data("tokenizer.json.gz").write(to: folder.appendingPathComponent("tokenizer.json"))
        let config: [String: Any] = ["model_max_length": 77, "pad_token": padToken]
        try JSONSerialization.data(withJSONObject: config).write(to: folder.appendingPathComponent("tokenizer_config.json"))
        return try CLIPTokenizer(folder: folder)
    }
}
