import Foundation
import LoRAKit
import Testing

/// `lora-tool extract` (Docs/rank-tools.md), run through the built binary (see `CLI`). The tuned model is made
/// by the tool itself: the SD1 fixture folder with the kohya fixture LoRA baked in.
@Suite("lora-tool extract")
struct ExtractCLITests {
    static let sd1 = CLI.fixture("merge/sd1")
    static let lora = CLI.fixture("merge/lora/sd1_kohya.safetensors")

    /// `lora-tool merge --base sd1 --lora sd1_kohya.safetensors -o tmp/tuned`.
    static func makeTuned(in tmp: URL) throws -> URL {
        let tuned = tmp.appendingPathComponent("tuned")
        let r = try CLI.run(["merge", "--base", sd1, "--lora", lora, "-o", tuned.path])
        try #require(r.status == 0, "making the tuned model failed: \(r)")
        return tuned
    }

    @Test("--rank 4 from base and a tuned copy: an SD 1.x kohya LoRA whose changed modules are the baked LoRA's")
    func extractRank4() throws {
        let tmp = try CLI.makeTemporaryFolder("extract")
        defer { CLI.removeTemporaryFolder(tmp) }
        let tuned = try Self.makeTuned(in: tmp)
        let out = tmp.appendingPathComponent("extracted.safetensors")
        let r = try CLI.expectUnchanged([Self.sd1, tuned.path]) {
            try CLI.run(["extract", "--base", Self.sd1, "--tuned", tuned.path, "--rank", "4", "-o", out.path])
        }
        #expect(r.status == 0, "\(r)")
        #expect(r.stderr.isEmpty)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        // kohya's network on the tiny SD1 model: 192 UNet transformer layers; 12 text-encoder layers (changed).
        #expect(lines.first == "Extracted 204 modules (UNet 192, text encoders 12) at rank ≤ 4", "\(r.stdout)")
        #expect(lines.dropFirst().first?.hasPrefix("  mean Frobenius retained ") == true
                && lines.dropFirst().first?.contains("of the exact ΔW as written (rank cut alone ") == true, "\(r.stdout)")
        #expect(lines.contains { $0.hasPrefix("  model: SD 1.x (cross-attention width 768") })
        #expect(lines.contains { $0.hasPrefix("  text encoders differ (max |ΔW| ") && $0.hasSuffix("): extracted") })
        #expect(lines.last == "Wrote \(out.path)")

        let inspect = try CLI.run(["inspect", out.path, "--json"])
        #expect(inspect.status == 0, "\(inspect)")
        let summary = try #require(try CLI.jsonObject(inspect)["lora"] as? [String: Any])
        #expect(summary["format"] as? String == "kohya")
        #expect(summary["module_count"] as? Int == 204)
        #expect((summary["base_model"] as? [String: Any])?["detected"] as? String == "sd1")
        #expect((summary["base_model"] as? [String: Any])?["metadata_says"] as? String == "sd1")
        #expect((summary["components"] as? [String: Any])?["unet"] as? Int == 192)
        #expect((summary["components"] as? [String: Any])?["text_encoder"] as? Int == 12)
        let modules = try CLI.inspectedModules(out.path)
        for (target, m) in modules {
            #expect((m["rank"] as? Int).map { (1...4).contains($0) } == true, "\(target)")
            #expect((m["scale"] as? NSNumber)?.doubleValue == 1, "\(target): alpha = rank")
        }
        let text = try CLI.run(["inspect", out.path])
        #expect(text.stdout.contains("Base model:   SD 1.x"))
        let metadata = try #require(try SafetensorsFile(contentsOf: out).metadata)
        #expect(metadata["ss_network_dim"] == "4" && metadata["ss_network_alpha"] == "4.0")
        #expect(metadata["ss_base_model_version"] == "sd_v1" && metadata["ss_v2"] == "False")
    }

    @Test("--json: the modules with a non-zero difference are exactly the baked LoRA's (its k×k resnet convs need --conv-rank)")
    func extractJSON() throws {
        let tmp = try CLI.makeTemporaryFolder("extract-json")
        defer { CLI.removeTemporaryFolder(tmp) }
        let tuned = try Self.makeTuned(in: tmp)
        let out = tmp.appendingPathComponent("extracted.safetensors")
        let r = try CLI.run(["extract", "--base", Self.sd1, "--tuned", tuned.path, "--rank", "4", "--json", "-o", out.path])
        #expect(r.status == 0, "\(r)")
        let report = try CLI.jsonObject(r)
        #expect(report["base_model"] as? String == "sd1")
        #expect(report["max_rank"] as? Int == 4)
        #expect(report["text_encoders_extracted"] as? Bool == true)
        #expect((report["skipped_components"] as? [Any])?.isEmpty == true)
        #expect(report["output_path"] as? String == out.path)
        let modules = try #require(report["modules"] as? [[String: Any]])
        #expect(modules.count == 204)
        let changed = Set(modules.filter { (($0["max_abs_difference"] as? NSNumber)?.doubleValue ?? 0) > 0 }.compactMap { $0["name"] as? String })
        let loraStems = Set(try CLI.inspectedModules(Self.lora).values.compactMap(CLI.stem))
        #expect(loraStems.count == 30)
        #expect(changed.isSubset(of: loraStems), "changed but not in the LoRA: \(changed.subtracting(loraStems).sorted())")
        #expect(loraStems.subtracting(changed).allSatisfy { $0.contains("_resnets_") }, "\(loraStems.subtracting(changed).sorted())")
        #expect(changed.count == 26)
    }

    @Test("models of different families, an existing output, bad options: refused, nothing written")
    func errors() throws {
        let tmp = try CLI.makeTemporaryFolder("extract-errors")
        defer { CLI.removeTemporaryFolder(tmp) }
        let out = tmp.appendingPathComponent("x.safetensors")
        let sd2 = CLI.fixture("merge/sd2")
        let family = try CLI.expectUnchanged([Self.sd1, sd2]) {
            try CLI.run(["extract", "--base", Self.sd1, "--tuned", sd2, "-o", out.path])
        }
        #expect(family.status == 1, "\(family)")
        #expect(family.stdout.isEmpty)
        #expect(family.stderrLines.count == 1 && family.stderr.contains("SD 1.x") && family.stderr.contains("SD 2.x"), "\(family.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.path))

        for (option, message) in [(["--rank", "0"], "Error: --rank must be a positive whole number, got 0"),
                                  (["--clamp-quantile", "0"], "Error: --clamp-quantile must be in (0, 1]"),
                                  (["--conv-rank", "0"], "Error: --conv-rank must be a positive whole number, got 0")] {
            let r = try CLI.run(["extract", "--base", Self.sd1, "--tuned", Self.sd1, "-o", out.path] + option)
            #expect(r.status == 2, "\(option): \(r)")
            #expect(r.stderrLines.first.map { $0.hasPrefix(message) } == true, "\(option): \(r.stderr)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path).isEmpty)

        try Data("keep me".utf8).write(to: out)
        let exists = try CLI.expectUnchanged([out.path]) {
            try CLI.run(["extract", "--base", Self.sd1, "--tuned", Self.sd1, "-o", out.path])
        }
        #expect(exists.status == 1, "\(exists)")
        #expect(exists.stderrLines.count == 1 && exists.stderr.contains("exists") && exists.stderr.contains("--force"), "\(exists.stderr)")
    }
}
