import Foundation
import LoRAKit
import Testing

/// `lora-tool merge` reports what it did: true patched-tensor counts, a bake in which nothing applies is an
/// error unless `--allow-empty`, and a file that holds no LoRA is refused as a `--lora`.
@Suite("lora-tool merge reports what happened")
struct MergeReportCLITests {
    static let sd1 = CLI.fixture("merge/sd1")
    static let kohya = CLI.fixture("merge/lora/sd1_kohya.safetensors")
    static let second = CLI.fixture("merge/lora/sd1_second.safetensors")

    /// `../shared/realworld` beside the package (real LoRA files), when present.
    static let realworld = CLI.packageRoot.deletingLastPathComponent().appendingPathComponent("shared/realworld")
    static let pivotal = realworld.appendingPathComponent("lora_disney.safetensors")

    /// A kohya LoRA for SD1 names whose factors fit no layer of the tiny SD1 fixture (320-wide layers),
    /// plus one module for a layer the model does not have.
    static func makeMisfit(in folder: URL) throws -> URL {
        var w = SafetensorsWriter()
        for projection in ["to_q", "to_k", "to_v"] {
            let stem = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_\(projection)"
            w.add(name: stem + ".lora_up.weight", shape: [320, 1], floats: [Float](repeating: 0.01, count: 320))
            w.add(name: stem + ".lora_down.weight", shape: [1, 320], floats: [Float](repeating: 0.01, count: 320))
            w.add(name: stem + ".alpha", shape: [], floats: [1])
        }
        let missing = "lora_te_text_model_encoder_layers_9_self_attn_q_proj"
        w.add(name: missing + ".lora_up.weight", shape: [768, 1], floats: [Float](repeating: 0.01, count: 768))
        w.add(name: missing + ".lora_down.weight", shape: [1, 768], floats: [Float](repeating: 0.01, count: 768))
        let url = folder.appendingPathComponent("misfit.safetensors")
        try w.write(to: url)
        return url
    }

    /// Runs a bake in which no module applies and checks the refusal and the `--allow-empty` copy.
    func expectNothingApplied(lora: String, name: String, skipped: Int, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let tmp = try CLI.makeTemporaryFolder("merge-nothing")
        defer { CLI.removeTemporaryFolder(tmp) }
        for base in [Self.sd1, Self.sd1 + "/unet/diffusion_pytorch_model.safetensors"] {
            let out = tmp.appendingPathComponent("out").path
            let r = try CLI.expectUnchanged([Self.sd1, lora]) { try CLI.run(["merge", "--base", base, "--lora", lora, "-o", out]) }
            #expect(r.status == 1, "\(r)", sourceLocation: sourceLocation)
            #expect(r.stdout.isEmpty, sourceLocation: sourceLocation)
            #expect(r.stderrLines.first?.hasPrefix("lora-tool: no module of \(name) applies to this model") == true, "\(r.stderr)",
                    sourceLocation: sourceLocation)
            #expect(r.stderrLines.first?.contains("--allow-empty") == true, sourceLocation: sourceLocation)
            let skippedLines = r.stderrLines.filter { $0.hasPrefix("    skipped ") && $0.contains("does not fit") }.count
            if base == Self.sd1 {
                #expect(skippedLines == skipped, "\(r.stderr)", sourceLocation: sourceLocation)
            } else {
                #expect(skippedLines > 0, "\(r.stderr)", sourceLocation: sourceLocation)
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path).isEmpty, "left behind", sourceLocation: sourceLocation)
        }
        // --allow-empty: an unchanged copy, and the report says no tensor was patched.
        let out = tmp.appendingPathComponent("copy").path
        let r = try CLI.run(["merge", "--allow-empty", "--base", Self.sd1, "--lora", lora, "--json", "-o", out])
        #expect(r.status == 0, "\(r)", sourceLocation: sourceLocation)
        let report = try CLI.jsonObject(r)
        #expect(report["tensors_patched"] as? Int == 0, sourceLocation: sourceLocation)
        let result = try #require((report["loras"] as? [[String: Any]])?.first, sourceLocation: sourceLocation)
        #expect((result["applied"] as? [Any])?.isEmpty == true, sourceLocation: sourceLocation)
        #expect((result["skipped"] as? [Any])?.count == skipped, sourceLocation: sourceLocation)
        let unet = "/unet/diffusion_pytorch_model.safetensors"
        #expect(try Data(contentsOf: URL(fileURLWithPath: out + unet)) == Data(contentsOf: URL(fileURLWithPath: Self.sd1 + unet)),
                sourceLocation: sourceLocation)
    }

    @Test("a LoRA none of whose modules fits: exit 1 listing why each module was skipped, nothing written; --allow-empty copies")
    func nothingApplies() throws {
        let tmp = try CLI.makeTemporaryFolder("merge-misfit")
        defer { CLI.removeTemporaryFolder(tmp) }
        try expectNothingApplied(lora: try Self.makeMisfit(in: tmp).path, name: "misfit.safetensors", skipped: 3)
    }

    @Test("the <s1>/<s2> pivotal-tuning LoRA of ../shared/realworld into the tiny SD1 folder is refused (152 modules skipped)",
          .enabled(if: FileManager.default.fileExists(atPath: pivotal.path), "../shared/realworld/lora_disney.safetensors is not there"))
    func pivotalTuningLoRA() throws {
        try expectNothingApplied(lora: Self.pivotal.path, name: "lora_disney.safetensors", skipped: 152)
    }

    @Test("tensors_patched counts the tensors a patch landed on, not those a patch was planned for")
    func truePatchedCount() throws {
        let tmp = try CLI.makeTemporaryFolder("merge-count")
        defer { CLI.removeTemporaryFolder(tmp) }
        let misfit = try Self.makeMisfit(in: tmp)
        let r = try CLI.run(["merge", "--base", Self.sd1, "--lora", Self.kohya, "--lora", misfit.path, "--json",
                             "-o", tmp.appendingPathComponent("out").path])
        #expect(r.status == 0, "\(r)")
        let report = try CLI.jsonObject(r)
        // sd1_kohya patches 30 tensors; the misfit's three modules target three of those and are skipped.
        #expect(report["tensors_patched"] as? Int == 30, "\(r.stdout)")
        let text = try CLI.run(["merge", "--base", Self.sd1, "--lora", misfit.path, "--allow-empty", "-o", tmp.appendingPathComponent("t").path])
        #expect(text.stdout.contains("Wrote 720 tensors (0 patched):"), "\(text.stdout)")
    }

    @Test("a --lora that holds no LoRA (a model file, a plain tensor file) is refused by every merge: exit 1, nothing written")
    func notALoRA() throws {
        let tmp = try CLI.makeTemporaryFolder("merge-not-lora")
        defer { CLI.removeTemporaryFolder(tmp) }
        let unetFile = Self.sd1 + "/unet/diffusion_pytorch_model.safetensors"
        let plain = CLI.fixture("lora/not_a_lora.safetensors")
        for (file, what) in [(unetFile, "diffusers UNet weights"), (plain, "no LoRA module recognised")] {
            let runs: [[String]] = [
                ["merge", "--base", Self.sd1, "--lora", Self.kohya, "--lora", file, "-o", tmp.appendingPathComponent("a").path],
                ["merge", "--lora", file, "-o", tmp.appendingPathComponent("b.safetensors").path],
                ["merge", "--lora", Self.kohya, "--lora", file, "-o", tmp.appendingPathComponent("c.safetensors").path],
                ["merge", "--lora", Self.kohya, "--lora", file, "--rank", "2", "-o", tmp.appendingPathComponent("d.safetensors").path],
                ["resize", file, "--rank", "2", "-o", tmp.appendingPathComponent("e.safetensors").path],
                ["convert", file, "--to", "peft", "-o", tmp.appendingPathComponent("f.safetensors").path],
            ]
            for arguments in runs {
                let r = try CLI.expectUnchanged([file]) { try CLI.run(arguments) }
                #expect(r.status == 1, "\(arguments): \(r)")
                #expect(r.stderrLines.count == 1, "\(arguments): \(r.stderr)")
                #expect(r.stderr.contains("not a LoRA: \(what)"), "\(arguments): \(r.stderr)")
                #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path).isEmpty, "\(arguments): left behind")
            }
        }
    }

    @Test("a LoRA merge in which no module concatenates (LoHa + LoKr): exit 1 with each skipped module, nothing written")
    func nothingConcatenates() throws {
        let tmp = try CLI.makeTemporaryFolder("merge-nothing-concat")
        defer { CLI.removeTemporaryFolder(tmp) }
        let loha = CLI.fixture("lora/loha.safetensors"), lokr = CLI.fixture("lora/lokr.safetensors")
        let r = try CLI.expectUnchanged([loha, lokr]) {
            try CLI.run(["merge", "--lora", loha, "--lora", lokr, "-o", tmp.appendingPathComponent("m.safetensors").path])
        }
        #expect(r.status == 1 && r.stdout.isEmpty, "\(r)")
        #expect(r.stderrLines.first?.hasPrefix("lora-tool: no module could be merged (") == true, "\(r.stderr)")
        #expect(r.stderrLines.dropFirst().allSatisfy { $0.hasPrefix("  skipped ") && $0.contains("use an SVD merge (--rank N)") }, "\(r.stderr)")
        #expect(r.stderrLines.count > 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path).isEmpty)
    }

    @Test("resize of a LoHa-only file: exit 1, one line, nothing written")
    func resizeLoHa() throws {
        let tmp = try CLI.makeTemporaryFolder("resize-loha")
        defer { CLI.removeTemporaryFolder(tmp) }
        let loha = CLI.fixture("lora/loha.safetensors")
        let r = try CLI.expectUnchanged([loha]) {
            try CLI.run(["resize", loha, "--rank", "2", "-o", tmp.appendingPathComponent("r.safetensors").path])
        }
        #expect(r.status == 1, "\(r)")
        #expect(r.stderrLines.count == 1 && r.stderr.contains("no plain LoRA/LoCon modules to resize"), "\(r.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path).isEmpty)
    }
}
