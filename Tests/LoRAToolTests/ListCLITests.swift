import Foundation
import Testing

/// `lora-tool list` and `--lora NAME` resolution, run through the built binary.
@Suite("lora-tool list and LoRA names")
struct ListCLITests {
    /// Runs the tool with `LORAKIT_HOME` (and so the index) inside `home`.
    static func run(_ arguments: [String], home: URL) throws -> CLI.Run {
        try CLI.run(arguments, environment: ["LORAKIT_HOME": home.path])
    }

    static let fixtures = CLI.fixtures

    /// `home/loras` with LoRAs for SD1, SD2, SDXL and unknown bases, a duplicate stem, and a non-LoRA.
    static func makeHome() throws -> URL {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("lorakit-list-\(UUID().uuidString)")
        let loras = home.appendingPathComponent("loras")
        try FileManager.default.createDirectory(at: loras.appendingPathComponent("sub"), withIntermediateDirectories: true)
        let copies = [("lora/kohya_sd1", "kohya_sd1"), ("lora/loha", "loha"), ("lora/lcm_sdxl", "lcm_sdxl"),
                      ("lora/not_a_lora", "not_a_lora"), ("merge/lora/sd2_kohya", "sub/sd2_kohya"),
                      ("merge/lora/sd1_kohya", "sub/kohya_sd1"), ("merge/lora/sd1_second", "sd1_second")]
        for (from, to) in copies {
            try FileManager.default.copyItem(at: fixtures.appendingPathComponent(from + ".safetensors"),
                                             to: loras.appendingPathComponent(to + ".safetensors"))
        }
        return home
    }

    @Test("list: table with name, base, family, rank, size, triggers; duplicates shown by path; skipped counted")
    func table() throws {
        let home = try Self.makeHome()
        defer { try? FileManager.default.removeItem(at: home) }
        let r = try Self.run(["list"], home: home)
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.split(separator: " ", omittingEmptySubsequences: true) == ["NAME", "BASE", "FAMILY", "RANK", "SIZE", "TRIGGERS"])
        #expect(lines.contains { $0.hasPrefix("kohya_sd1 ") && $0.contains("SD1") && $0.contains("LoRA+LoCon") && $0.contains("mychar") })
        #expect(lines.contains { $0.hasPrefix("sub/kohya_sd1 ") })
        #expect(lines.contains { $0.hasPrefix("lcm_sdxl ") && $0.contains("SDXL") })
        #expect(lines.contains { $0.hasPrefix("loha ") && $0.contains("LoHa") })
        #expect(lines.last?.contains("6 LoRAs in ") == true && lines.last?.contains("1 file skipped") == true)
        let skipped = try Self.run(["list", home.appendingPathComponent("loras").path, "--skipped"], home: home)
        #expect(skipped.stdout.contains("not_a_lora.safetensors  not-a-lora"))
        // The index was written under LORAKIT_HOME/cache and the second run used it.
        let cache = try FileManager.default.contentsOfDirectory(atPath: home.appendingPathComponent("cache").path)
        #expect(cache.count == 1 && cache[0].hasPrefix("library-loras-"))
    }

    @Test("list --base sdxl --json: SDXL and unknown-base LoRAs only, as JSON")
    func json() throws {
        let home = try Self.makeHome()
        defer { try? FileManager.default.removeItem(at: home) }
        let r = try Self.run(["list", "--base", "sdxl", "--json"], home: home)
        #expect(r.status == 0, "\(r.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let entries = try #require(object["entries"] as? [[String: Any]])
        #expect(Set(entries.compactMap { $0["name"] as? String }) == ["lcm_sdxl", "loha"])
        #expect((object["skipped"] as? [[String: Any]])?.first?["kind"] as? String == "not-a-lora")
        #expect(entries.first { $0["name"] as? String == "lcm_sdxl" }?["base_model"] as? String == "sdxl")
    }

    @Test("list: bad --base is a usage error (2); a missing folder is bad input (1)")
    func errors() throws {
        let home = try Self.makeHome()
        defer { try? FileManager.default.removeItem(at: home) }
        #expect(try Self.run(["list", "--base", "sd3"], home: home).status == 2)
        let missing = try Self.run(["list", "/nonexistent/lorakit"], home: home)
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("LoRA folder not found"))
    }

    @Test("merge --lora NAME:WEIGHT resolves through the library; ambiguous and unknown names fail listing why")
    func mergeByName() throws {
        let home = try Self.makeHome()
        defer { try? FileManager.default.removeItem(at: home) }
        let out = home.appendingPathComponent("merged.safetensors")
        let ok = try Self.run(["merge", "--lora", "sd1_second:0.5", "--lora", "sub/kohya_sd1:0.25", "-o", out.path], home: home)
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(FileManager.default.fileExists(atPath: out.path))
        let ambiguous = try Self.run(["merge", "--lora", "kohya_sd1", "-o", home.appendingPathComponent("x.safetensors").path], home: home)
        #expect(ambiguous.status == 1)
        #expect(ambiguous.stderr.contains("kohya_sd1.safetensors") && ambiguous.stderr.contains("sub/kohya_sd1.safetensors"))
        let unknown = try Self.run(["merge", "--lora", "nothing_like_it", "-o", home.appendingPathComponent("y.safetensors").path], home: home)
        #expect(unknown.status == 1 && unknown.stderr.contains("no LoRA named 'nothing_like_it'"))
        // --lora-dir points elsewhere: names are looked up there only.
        let elsewhere = try Self.run(["merge", "--lora-dir", home.appendingPathComponent("loras/sub").path, "--lora", "kohya_sd1",
                                      "-o", home.appendingPathComponent("z.safetensors").path], home: home)
        #expect(elsewhere.status == 0, "\(elsewhere.stderr)")
    }

    @Test("merge into a model refuses a library LoRA of another family, naming both")
    func mergeBaseMismatch() throws {
        let home = try Self.makeHome()
        defer { try? FileManager.default.removeItem(at: home) }
        let model = Self.fixtures.appendingPathComponent("merge/sdxl").path
        let r = try Self.run(["merge", "--base", model, "--lora", "sd1_second", "-o", home.appendingPathComponent("out").path], home: home)
        #expect(r.status == 1)
        #expect(r.stderr.contains("sd1_second") && r.stderr.contains("SDXL") && r.stderr.contains("SD 1.x"))
    }
}
