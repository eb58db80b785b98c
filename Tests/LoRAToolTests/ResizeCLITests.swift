import Foundation
import LoRAKit
import Testing

/// `lora-tool resize` (Docs/rank-tools.md), run through the built binary (see `CLI`).
@Suite("lora-tool resize")
struct ResizeCLITests {
    /// Rank 4 (alpha 2), with rank-2 LoCon 3×3 modules (alpha 1.5); 30 modules.
    static let input = CLI.fixture("merge/lora/sd1_kohya.safetensors")

    @Test("--rank 2: every module at rank 2 with its α/r kept; kohya metadata and hashes; input untouched")
    func fixedRank() throws {
        let tmp = try CLI.makeTemporaryFolder("resize-fixed")
        defer { CLI.removeTemporaryFolder(tmp) }
        let out = tmp.appendingPathComponent("r2.safetensors")
        let r = try CLI.expectUnchanged([Self.input]) {
            try CLI.run(["resize", Self.input, "--rank", "2", "-o", out.path])
        }
        #expect(r.status == 0, "\(r)")
        #expect(r.stderr.isEmpty)
        #expect(r.stdout == "Resized 30 modules from rank 4 to rank 2 (fixed); kept 0 unchanged\nWrote \(out.path)\n")

        let before = try CLI.inspectedModules(Self.input)
        let after = try CLI.inspectedModules(out.path)
        #expect(Set(after.keys) == Set(before.keys))
        for (target, m) in after {
            let old = try #require(before[target])
            #expect(m["rank"] as? Int == min(2, old["rank"] as? Int ?? 0), "\(target)")
            let scale = try #require((m["scale"] as? NSNumber)?.doubleValue), oldScale = try #require((old["scale"] as? NSNumber)?.doubleValue)
            #expect(abs(scale - oldScale) <= 1e-6 * oldScale, "\(target): α/r \(oldScale) → \(scale)")
        }
        let metadata = try #require(try SafetensorsFile(contentsOf: out).metadata)
        #expect(metadata["ss_network_dim"] == "2")
        #expect(metadata["ss_training_comment"]?.hasPrefix("dimension is resized from 4 to 2") == true)
        let text = try CLI.run(["inspect", out.path])
        #expect(text.stdout.contains("Base model:   SD 1.x"))
        #expect(text.stdout.contains("Rank:         2\n"))
        #expect(text.stdout.contains("(matches stored)"), "sshs_model_hash not recomputed:\n\(text.stdout)")

        // Again without --force: refused, the first output kept.
        let again = try CLI.expectUnchanged([out.path, Self.input]) {
            try CLI.run(["resize", Self.input, "--rank", "3", "-o", out.path])
        }
        #expect(again.status == 1, "\(again)")
        #expect(again.stdout.isEmpty)
        #expect(again.stderrLines.count == 1 && again.stderr.contains("exists") && again.stderr.contains("--force"), "\(again.stderr)")
        let forced = try CLI.run(["resize", Self.input, "--rank", "3", "--force", "-o", out.path])
        #expect(forced.status == 0, "\(forced)")
        #expect(try SafetensorsFile(contentsOf: out).metadata?["ss_network_dim"] == "3")
    }

    @Test("--dynamic sv_fro:0.9 --json: per-module ranks keep ≥ 90 % of the Frobenius norm, capped at --rank")
    func dynamicJSON() throws {
        let tmp = try CLI.makeTemporaryFolder("resize-dynamic")
        defer { CLI.removeTemporaryFolder(tmp) }
        let out = tmp.appendingPathComponent("fro90.safetensors")
        let r = try CLI.expectUnchanged([Self.input]) {
            try CLI.run(["resize", Self.input, "--rank", "4", "--dynamic", "sv_fro:0.9", "--json", "-o", out.path])
        }
        #expect(r.status == 0, "\(r)")
        #expect(r.stderr.isEmpty)
        let report = try CLI.jsonObject(r)
        #expect(report["output_path"] as? String == out.path)
        #expect(report["old_max_rank"] as? Int == 4)
        #expect((report["kept"] as? [Any])?.isEmpty == true)
        let modules = try #require(report["modules"] as? [[String: Any]])
        #expect(modules.count == 30)

        let input = try CLI.inspectedModules(Self.input)
        let scaleByStem = Dictionary(uniqueKeysWithValues: input.values.compactMap { m in
            CLI.stem(m).map { ($0, (m["scale"] as? NSNumber)?.doubleValue ?? .nan) }
        })
        let output = try CLI.inspectedModules(out.path)
        let rankByStem = Dictionary(uniqueKeysWithValues: output.values.compactMap { m in CLI.stem(m).map { ($0, m["rank"] as? Int) } })
        for m in modules {
            let name = try #require(m["name"] as? String)
            let newRank = try #require(m["new_rank"] as? Int), oldRank = try #require(m["old_rank"] as? Int)
            let newAlpha = try #require((m["new_alpha"] as? NSNumber)?.doubleValue)
            let choice = try #require(m["choice"] as? [String: Any])
            let retained = try #require((choice["frobenius_retained"] as? NSNumber)?.doubleValue)
            #expect((1...4).contains(newRank) && newRank <= max(oldRank, 1), "\(name): rank \(newRank)")
            #expect(retained >= 0.9 - 1e-6 && retained <= 1 + 1e-6, "\(name): retained \(retained)")
            #expect(choice["rank"] as? Int == newRank, "\(name)")
            let scale = try #require(scaleByStem[name], "\(name) is not a module of the input")
            #expect(abs(newAlpha / Double(newRank) - scale) <= 1e-6 * scale, "\(name): α/r \(scale) → \(newAlpha)/\(newRank)")
            #expect(rankByStem[name] == newRank, "\(name): the file holds rank \(String(describing: rankByStem[name]))")
        }
        let mean = try #require((report["mean_frobenius_retained"] as? NSNumber)?.doubleValue)
        #expect(mean >= 0.9 && mean <= 1 + 1e-9)
        let metadata = try #require(try SafetensorsFile(contentsOf: out).metadata)
        #expect(metadata["ss_network_dim"] == "Dynamic" && metadata["ss_network_alpha"] == "Dynamic")
        #expect(metadata["ss_training_comment"]?.hasPrefix("Dynamic resize with sv_fro: 0.9 from 4") == true)
    }

    @Test("bad usage exits 2 with the reason first; an unreadable input exits 1 with one line; nothing written")
    func errors() throws {
        let tmp = try CLI.makeTemporaryFolder("resize-errors")
        defer { CLI.removeTemporaryFolder(tmp) }
        let out = tmp.appendingPathComponent("x.safetensors").path
        let usage: [([String], String)] = [
            (["--rank", "0"], "Error: --rank must be a positive whole number, got 0"),
            (["--rank", "2", "--conv-rank", "0"], "Error: --conv-rank must be a positive whole number, got 0"),
            (["--rank", "2", "--dynamic", "sv_wobble:0.5"], "Error: unknown dynamic rank rule"),
            ([], "Error: Missing expected argument '--rank <rank>'"),
        ]
        for (arguments, message) in usage {
            let r = try CLI.run(["resize", Self.input, "-o", out] + arguments)
            #expect(r.status == 2, "\(arguments): \(r)")
            #expect(r.stdout.isEmpty)
            #expect(r.stderrLines.first.map { $0.hasPrefix(message) } == true, "\(arguments): \(r.stderr)")
        }
        let missing = try CLI.run(["resize", tmp.appendingPathComponent("nothing.safetensors").path, "--rank", "2", "-o", out])
        #expect(missing.status == 1, "\(missing)")
        #expect(missing.stderrLines.count == 1 && missing.stderr.contains("nothing.safetensors"), "\(missing.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path).isEmpty)
    }
}
