import Foundation
import Testing

/// `lora-tool generate` through the built binary, on the tiny SD1 pipeline of
/// `Tests/DiffusionCoreTests/Fixtures/pipeline/` (its numbers are checked against diffusers in DiffusionCoreTests).
@Suite("lora-tool generate")
struct GenerateCLITests {
    static var model: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("DiffusionCoreTests/Fixtures/pipeline/sd1-tiny").path
    }

    @Test("An LCM run writes a PNG with A1111 and InvokeAI metadata, and nothing else")
    func lcmRun() throws {
        let dir = try CLI.makeTemporaryFolder("generate")
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out.png").path
        let run = try CLI.run(["generate", "--model", Self.model, "--prompt", "a photo of an astronaut", "--lcm",
                               "--seed", "7", "--width", "32", "--height", "32", "-o", out])
        #expect(run.status == 0, "\(run)")
        let data = try Data(contentsOf: URL(fileURLWithPath: out))
        #expect(data.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("parameters"))
        #expect(text.contains("Steps: 4, Sampler: LCM, CFG scale: 1, Seed: 7"))
        #expect(text.contains("invokeai_metadata"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["out.png"])
        #expect(run.stderr.contains("step 4/4"))
    }

    @Test("--threads 1 and LORAKIT_PIN_THREADS=0 give the same picture; --vae-tiling on decodes in tiles and says so")
    func threadsAndTiling() throws {
        let dir = try CLI.makeTemporaryFolder("generate-threads")
        defer { try? FileManager.default.removeItem(at: dir) }
        func generate(_ name: String, _ extra: [String], environment: [String: String] = [:]) throws -> (CLI.Run, Data) {
            let out = dir.appendingPathComponent(name).path
            let run = try CLI.run(["generate", "--model", Self.model, "--prompt", "a red house", "--lcm", "--seed", "3",
                                   "--width", "64", "--height", "48", "--json", "-o", out] + extra, environment: environment)
            #expect(run.status == 0, "\(run)")
            return (run, try Data(contentsOf: URL(fileURLWithPath: out)))
        }
        let (_, base) = try generate("base.png", [])
        let (_, one) = try generate("one.png", ["--threads", "1"])
        let (_, free) = try generate("free.png", [], environment: ["LORAKIT_PIN_THREADS": "0"])
        #expect(one == base)
        #expect(free == base)
        let (tiledRun, tiled) = try generate("tiled.png", ["--vae-tiling", "on"])
        #expect(tiled != base)
        let notes = try CLI.jsonObject(tiledRun)["notes"] as? [String] ?? []
        #expect(notes.contains { $0.hasPrefix("the VAE ran in tiles") }, "\(tiledRun.stdout)")
        let (_, off) = try generate("off.png", ["--vae-tiling", "off"])
        #expect(off == base)
        let bad = try CLI.run(["generate", "--model", Self.model, "--prompt", "a", "--vae-tiling", "sometimes",
                               "-o", dir.appendingPathComponent("x.png").path])
        #expect(bad.status == 2)
    }

    @Test("--lora fuses a LoRA for the run and names it in the PNG; a LoRA for another base is refused")
    func lora() throws {
        let dir = try CLI.makeTemporaryFolder("generate-lora")
        defer { try? FileManager.default.removeItem(at: dir) }
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        let lora = fixtures.appendingPathComponent("DiffusionCoreTests/Fixtures/pipeline/sd1-tiny-lora.safetensors").path
        let out = dir.appendingPathComponent("lora.png").path
        let run = try CLI.run(["generate", "--model", Self.model, "--prompt", "a horse", "--lcm", "--lora", lora + ":0.35",
                               "--width", "32", "--height", "32", "-o", out])
        #expect(run.status == 0, "\(run)")
        let text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: out)), as: UTF8.self)
        #expect(text.contains("<lora:sd1-tiny-lora:0.35>"), "the A1111 parameters name the LoRA")
        let sdxl = fixtures.appendingPathComponent("LoRAKitTests/Fixtures/merge/lora/sdxl_kohya_sgm.safetensors").path
        let refused = try CLI.run(["generate", "--model", Self.model, "--prompt", "a horse", "--lora", sdxl,
                                   "-o", dir.appendingPathComponent("x.png").path])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("SDXL") && refused.stderr.contains("SD 1.x"), "\(refused)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("x.png").path))
        let bad = try CLI.run(["generate", "--model", Self.model, "--prompt", "a horse", "--lora", lora + ":abc", "-o", out])
        #expect(bad.status == 2)
    }

    @Test("--lora NAME:W and a <lora:NAME:W> prompt tag both resolve through --lora-dir; an unknown tag is exit 1 naming it")
    func loraNamesAndTags() throws {
        let dir = try CLI.makeTemporaryFolder("generate-tags")
        defer { try? FileManager.default.removeItem(at: dir) }
        let library = dir.appendingPathComponent("loras")
        try FileManager.default.createDirectory(at: library, withIntermediateDirectories: true)
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        try FileManager.default.copyItem(
            at: fixtures.appendingPathComponent("DiffusionCoreTests/Fixtures/pipeline/lora-te/tiny-te-kohya.safetensors"),
            to: library.appendingPathComponent("style.safetensors"))
        let common = ["generate", "--model", Self.model, "--lcm", "--seed", "3", "--width", "32", "--height", "32", "--json"]
        let named = try CLI.run(common + ["--prompt", "a horse", "--lora-dir", library.path, "--lora", "style:0.5",
                                          "-o", dir.appendingPathComponent("named.png").path])
        #expect(named.status == 0, "\(named)")
        // 4 LCM steps at CFG 1: 4 UNet evaluations, at or above the automatic rule's limit, so the LoRA is fused.
        let layers = try CLI.jsonObject(named)["lora_layers"] as? [String: Int]
        #expect(layers?["unet"] == 39 && layers?["unet_at_run_time"] == 0 && layers?["text_encoder"] == 12, "\(String(describing: layers))")
        // One step at CFG 1 is a single evaluation: below the limit, the UNet layers run beside the weights.
        let single = try CLI.run(common + ["--steps", "1", "--prompt", "a horse", "--lora-dir", library.path, "--lora", "style:0.5",
                                           "-o", dir.appendingPathComponent("single.png").path])
        #expect((try CLI.jsonObject(single)["lora_layers"] as? [String: Int])?["unet_at_run_time"] == 39, "\(single)")
        let runtime = try CLI.run(common + ["--prompt", "a horse", "--lora-dir", library.path, "--lora", "style:0.5", "--lora-mode", "runtime",
                                            "-o", dir.appendingPathComponent("runtime.png").path])
        #expect((try CLI.jsonObject(runtime)["lora_layers"] as? [String: Int])?["unet_at_run_time"] == 39, "\(runtime)")
        let tagged = try CLI.run(common + ["--prompt", "a horse <lora:style:0.5> <hypernet:foo:1>",
                                           "-o", dir.appendingPathComponent("tagged.png").path],
                                 environment: ["LORAKIT_HOME": dir.path])
        #expect(tagged.status == 0, "\(tagged)")
        #expect(tagged.stderr.contains("note: <hypernet:foo:1> ignored"), "\(tagged)")
        for run in [named, tagged] {
            let loras = try CLI.jsonObject(run)["loras"] as? [[String: Any]]
            #expect(loras?.count == 1 && loras?.first?["name"] as? String == "style")
            #expect(loras?.first?["unet"] as? Double == 0.5 && loras?.first?["te"] as? Double == 0.5)
        }
        let unknown = try CLI.run(common + ["--prompt", "a horse <lora:nope:1>", "--lora-dir", library.path,
                                            "-o", dir.appendingPathComponent("unknown.png").path])
        #expect(unknown.status == 1)
        #expect(unknown.stderrLines.count == 1 && unknown.stderr.contains("<lora:nope:1>") && unknown.stderr.contains("no LoRA named 'nope'"),
                "\(unknown)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("unknown.png").path))
    }

    @Test("An existing output is kept unless --force; a missing model and a bad size are exit 1 and 2")
    func failures() throws {
        let dir = try CLI.makeTemporaryFolder("generate-fail")
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out.png")
        try Data("keep".utf8).write(to: out)
        let exists = try CLI.run(["generate", "--model", Self.model, "--prompt", "a horse", "--lcm", "-o", out.path])
        #expect(exists.status == 1)
        #expect(exists.stderr.contains("exists; pass --force to replace it"))
        #expect(try Data(contentsOf: out) == Data("keep".utf8))
        let missing = try CLI.run(["generate", "--model", dir.appendingPathComponent("nope").path, "--prompt", "x",
                                   "-o", dir.appendingPathComponent("x.png").path])
        #expect(missing.status == 1)
        #expect(missing.stderrLines.count == 1, "\(missing)")
        let badSize = try CLI.run(["generate", "--model", Self.model, "--prompt", "x", "--width", "30", "--height", "32",
                                   "-o", dir.appendingPathComponent("y.png").path])
        #expect(badSize.status == 1, "\(badSize)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("y.png").path))
        let usage = try CLI.run(["generate", "--model", Self.model, "--prompt", "x", "--steps", "0", "-o", dir.appendingPathComponent("z.png").path])
        #expect(usage.status == 2)
        let pickle = dir.appendingPathComponent("model.ckpt")
        try Data("x".utf8).write(to: pickle)
        let refused = try CLI.run(["generate", "--model", pickle.path, "--prompt", "x", "-o", dir.appendingPathComponent("w.png").path])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("pickle"))
    }
}
