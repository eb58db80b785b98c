import Foundation
import LoRAKit
import Testing

/// `lora-tool merge`, run through the built binary (see `CLI`) on the tiny SD1 fixtures of `Docs/merge.md`.
@Suite("lora-tool merge")
struct MergeCLITests {
    static let sd1 = CLI.fixture("merge/sd1")
    static let sd1UNet = CLI.fixture("merge/sd1/unet/diffusion_pytorch_model.safetensors")
    static let kohya = CLI.fixture("merge/lora/sd1_kohya.safetensors")
    static let second = CLI.fixture("merge/lora/sd1_second.safetensors")

    /// Every file under `folder`, relative to it.
    static func files(_ folder: URL) throws -> Set<String> {
        Set(try FileManager.default.subpathsOfDirectory(atPath: folder.path).filter {
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path, isDirectory: &isDirectory)
                && !isDirectory.boolValue
        })
    }

    @Test("an output in a missing folder is refused, naming the folder, for folder and file outputs alike; nothing is created")
    func missingParentFolder() throws {
        let tmp = try CLI.makeTemporaryFolder("merge-missing-parent")
        defer { CLI.removeTemporaryFolder(tmp) }
        let missing = tmp.appendingPathComponent("a/b")
        let runs: [[String]] = [
            ["merge", "--base", Self.sd1, "--lora", Self.kohya + ":0.8", "-o", missing.appendingPathComponent("c").path],
            ["merge", "--base", Self.sd1UNet, "--lora", Self.kohya + ":0.8", "-o", missing.appendingPathComponent("c.safetensors").path],
            ["merge", "--lora", Self.kohya, "--lora", Self.second, "-o", missing.appendingPathComponent("c.safetensors").path],
            ["resize", Self.kohya, "--rank", "2", "-o", missing.appendingPathComponent("c.safetensors").path],
        ]
        for arguments in runs {
            let r = try CLI.expectUnchanged([Self.sd1, Self.kohya]) { try CLI.run(arguments) }
            #expect(r.status == 1, "\(arguments): \(r)")
            #expect(r.stderrLines.count == 1 && r.stderr.contains(missing.path), "\(arguments): \(r.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path).isEmpty, "\(arguments) created a folder")
        }
        // A file where the output's folder should be is named as such.
        let file = tmp.appendingPathComponent("plain")
        try Data("x".utf8).write(to: file)
        let onFile = try CLI.run(["merge", "--base", Self.sd1, "--lora", Self.kohya + ":0.8", "-o", file.appendingPathComponent("c").path])
        #expect(onFile.status == 1 && onFile.stderr.contains("\(file.path) is not a folder"), "\(onFile)")
        try FileManager.default.removeItem(at: file)
        // The output folder itself is made when its parent exists.
        let out = tmp.appendingPathComponent("baked")
        let r = try CLI.run(["merge", "--base", Self.sd1, "--lora", Self.kohya + ":0.8", "-o", out.path])
        #expect(r.status == 0 && OutputPath.isFolder(out), "\(r)")
    }

    @Test("--base FOLDER --lora FILE:0.8 --json: report lists the applied modules and output files; weights match diffusers")
    func bakeIntoFolder() throws {
        let tmp = try CLI.makeTemporaryFolder("merge-folder")
        defer { CLI.removeTemporaryFolder(tmp) }
        let out = tmp.appendingPathComponent("sd1-baked")
        let r = try CLI.expectUnchanged([Self.sd1, Self.kohya]) {
            try CLI.run(["merge", "--base", Self.sd1, "--lora", Self.kohya + ":0.8", "--json", "-o", out.path])
        }
        #expect(r.status == 0, "\(r)")
        #expect(r.stderr.isEmpty)
        let report = try CLI.jsonObject(r)
        #expect(report["model_base"] as? String == "sd1")
        #expect((report["model_base_evidence"] as? String)?.hasPrefix("cross-attention width 768") == true)
        let loras = try #require(report["loras"] as? [[String: Any]])
        #expect(loras.count == 1)
        let lora = try #require(loras.first)
        #expect(lora["name"] as? String == "sd1_kohya.safetensors")
        #expect(abs(((lora["strength"] as? NSNumber)?.doubleValue ?? 0) - 0.8) < 1e-6)
        let applied = try #require(lora["applied"] as? [String])
        #expect((lora["unused_keys"] as? [Any])?.isEmpty == true)
        #expect((lora["skipped"] as? [Any])?.isEmpty == true)
        // Every module of the LoRA, and nothing else, was applied.
        let targets = Set(try CLI.inspectedModules(Self.kohya).keys)
        #expect(targets.count == 30)
        #expect(Set(applied) == targets)
        #expect(applied.count == targets.count)
        #expect(report["tensors_patched"] as? Int == 30)
        let outputFiles = try #require(report["output_files"] as? [String])
        #expect(Set(outputFiles.map { URL(fileURLWithPath: $0).standardizedFileURL.path }) == [
            out.appendingPathComponent("unet/diffusion_pytorch_model.safetensors").standardizedFileURL.path,
            out.appendingPathComponent("text_encoder/model.safetensors").standardizedFileURL.path,
        ])
        for file in outputFiles { #expect(FileManager.default.fileExists(atPath: file), "\(file)") }

        // Same layout as the base; everything but the two patched weight files copied unchanged.
        let base = URL(fileURLWithPath: Self.sd1)
        #expect(try Self.files(out) == Self.files(base))
        for file in try Self.files(base) {
            let same = try Data(contentsOf: base.appendingPathComponent(file)) == Data(contentsOf: out.appendingPathComponent(file))
            let patched = file == "unet/diffusion_pytorch_model.safetensors" || file == "text_encoder/model.safetensors"
            #expect(same != patched, "\(file)")
        }
        // The patched tensors are diffusers' fuse_lora result (Fixtures/merge/expected, 1e-5).
        let expected = try SafetensorsFile(path: CLI.fixture("merge/expected/sd1_kohya_0.8.safetensors"))
        let unet = try SafetensorsFile(contentsOf: out.appendingPathComponent("unet/diffusion_pytorch_model.safetensors"))
        let te = try SafetensorsFile(contentsOf: out.appendingPathComponent("text_encoder/model.safetensors"))
        #expect(expected.tensors.count == 30)
        for info in expected.tensors {
            let parts = info.name.split(separator: "/", maxSplits: 1).map(String.init)
            let file = parts[0] == "unet" ? unet : te
            let got = try file.tensor(named: parts[1]).floats()
            let want = expected.tensor(info).floats()
            #expect(got.count == want.count, "\(info.name)")
            let worst = zip(got, want).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
            #expect(worst <= 1e-5, "\(info.name): \(worst)")
        }
    }

    @Test("text report: model family, strengths, applied/unused/skipped counts, the files written")
    func bakeTextReport() throws {
        let tmp = try CLI.makeTemporaryFolder("merge-text")
        defer { CLI.removeTemporaryFolder(tmp) }
        let out = tmp.appendingPathComponent("sd1-mix")
        let r = try CLI.run(["merge", "--base", Self.sd1, "--lora", Self.kohya + ":unet=1,te=0.5",
                             "--lora", Self.second + ":-0.5", "-o", out.path])
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.hasPrefix("Model: SD 1.x (cross-attention width 768"))
        #expect(r.stdout.contains("sd1_kohya.safetensors (strength 1.0, unet 1.0, text encoder 0.5):\n  applied:  30 modules\n  unused:   0 keys\n  skipped:  0 modules\n"))
        #expect(r.stdout.contains("sd1_second.safetensors (strength -0.5):\n  applied:  11 modules\n"))
        #expect(r.stdout.contains(out.appendingPathComponent("unet/diffusion_pytorch_model.safetensors").path))
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("model_index.json").path))
    }

    @Test("--strict into the UNet-only component file: exit 1, one line naming the unused keys, nothing written")
    func strictComponentFile() throws {
        let tmp = try CLI.makeTemporaryFolder("merge-strict")
        defer { CLI.removeTemporaryFolder(tmp) }
        let out = tmp.appendingPathComponent("unet.safetensors")
        let r = try CLI.expectUnchanged([Self.sd1UNet, Self.kohya]) {
            try CLI.run(["merge", "--strict", "--base", Self.sd1UNet, "--lora", Self.kohya + ":0.8", "-o", out.path])
        }
        #expect(r.status == 1, "\(r)")
        #expect(r.stdout.isEmpty)
        #expect(r.stderrLines.count == 1, "\(r.stderr)")
        #expect(r.stderr.hasPrefix("lora-tool: sd1_kohya.safetensors: 30 keys would be unused"))
        #expect(r.stderr.contains("lora_te_") && r.stderr.contains("strict"))
        #expect(!FileManager.default.fileExists(atPath: out.path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path).isEmpty, "left behind in the output folder")

        // Without --strict the same merge patches the 20 UNet modules and reports the 30 text-encoder keys.
        let loose = try CLI.run(["merge", "--base", Self.sd1UNet, "--lora", Self.kohya + ":0.8", "--json", "-o", out.path])
        #expect(loose.status == 0, "\(loose)")
        let lora = try #require((try CLI.jsonObject(loose)["loras"] as? [[String: Any]])?.first)
        #expect((lora["applied"] as? [String])?.count == 20)
        #expect((lora["unused_keys"] as? [Any])?.count == 30)
        #expect(FileManager.default.fileExists(atPath: out.path))
    }

    @Test("--strict into the full folder uses every key and succeeds")
    func strictFolder() throws {
        let tmp = try CLI.makeTemporaryFolder("merge-strict-ok")
        defer { CLI.removeTemporaryFolder(tmp) }
        let r = try CLI.run(["merge", "--strict", "--base", Self.sd1, "--lora", Self.kohya, "-o", tmp.appendingPathComponent("out").path])
        #expect(r.status == 0, "\(r)")
    }

    @Test("an existing output (file or folder) without --force: exit 1, left as it was; --force replaces it")
    func existingOutput() throws {
        let tmp = try CLI.makeTemporaryFolder("merge-exists")
        defer { CLI.removeTemporaryFolder(tmp) }
        let file = tmp.appendingPathComponent("merged.safetensors")
        try Data("keep me".utf8).write(to: file)
        let folder = tmp.appendingPathComponent("baked")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data("keep me too".utf8).write(to: folder.appendingPathComponent("marker"))

        let runs: [(String, [String])] = [
            (file.path, ["merge", "--lora", Self.kohya, "--lora", Self.second, "-o", file.path]),
            (file.path, ["merge", "--base", Self.sd1UNet, "--lora", Self.kohya, "-o", file.path]),
            (folder.path, ["merge", "--base", Self.sd1, "--lora", Self.kohya, "-o", folder.path]),
        ]
        for (path, arguments) in runs {
            let r = try CLI.expectUnchanged([tmp.path, Self.kohya, Self.second, Self.sd1]) { try CLI.run(arguments) }
            #expect(r.status == 1, "\(arguments): \(r)")
            #expect(r.stdout.isEmpty)
            #expect(r.stderrLines.count == 1, "\(r.stderr)")
            #expect(r.stderr.contains(path) && r.stderr.contains("exists") && r.stderr.contains("--force"), "\(r.stderr)")
        }
        let forced = try CLI.run(["merge", "--force", "--lora", Self.kohya, "--lora", Self.second, "-o", file.path])
        #expect(forced.status == 0, "\(forced)")
        #expect(try SafetensorsFile(contentsOf: file).tensors.count == 96)
        let forcedFolder = try CLI.run(["merge", "--force", "--base", Self.sd1, "--lora", Self.kohya, "-o", folder.path])
        #expect(forcedFolder.status == 0, "\(forcedFolder)")
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("marker").path))
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("unet/diffusion_pytorch_model.safetensors").path))
    }

    @Test("LoRA + LoRA without --base: one kohya LoRA whose modules are the union, ranks concatenated")
    func loraIntoLoRA() throws {
        let tmp = try CLI.makeTemporaryFolder("merge-lora")
        defer { CLI.removeTemporaryFolder(tmp) }
        let out = tmp.appendingPathComponent("ab.safetensors")
        let r = try CLI.expectUnchanged([Self.kohya, Self.second]) {
            try CLI.run(["merge", "--lora", Self.kohya + ":0.6", "--lora", Self.second + ":0.4", "-o", out.path])
        }
        #expect(r.status == 0, "\(r)")
        #expect(r.stderr.isEmpty)
        #expect(r.stdout == "Merged 32 modules by rank concatenation (max rank 6) into \(out.path)\n")
        #expect(FileManager.default.fileExists(atPath: out.path))

        let a = try CLI.inspectedModules(Self.kohya), b = try CLI.inspectedModules(Self.second)
        let merged = try CLI.inspectedModules(out.path)
        #expect(Set(merged.keys) == Set(a.keys).union(b.keys))
        #expect(merged.count == 32)
        for (target, m) in merged {
            let rank = (a[target]?["rank"] as? Int ?? 0) + (b[target]?["rank"] as? Int ?? 0)
            #expect(m["rank"] as? Int == rank, "\(target)")
            #expect((m["scale"] as? NSNumber)?.doubleValue == 1, "\(target)")  // alpha = rank, strengths folded in
        }
        let text = try CLI.run(["inspect", out.path])
        #expect(text.stdout.contains("Format:       kohya"))
        #expect(text.stdout.contains("Modules:      32 (LoRA 27, LoCon 5)"))
        #expect(text.stdout.contains("Base model:   SD 1.x"))
        let sources = try #require(try SafetensorsFile(contentsOf: out).metadata?["lorakit_merge_sources"])
        #expect(sources.contains("sd1_kohya.safetensors") && sources.contains("sd1_second.safetensors"))

        // --json: the same report as an object.
        let json = try CLI.run(["merge", "--lora", Self.kohya, "--lora", Self.second, "--json", "-o", tmp.appendingPathComponent("j.safetensors").path])
        #expect(json.status == 0, "\(json)")
        let o = try CLI.jsonObject(json)
        #expect(o["modules_written"] as? Int == 32 && o["max_rank"] as? Int == 6)
    }

    @Test("merge without --lora is a usage error: exit 2, nothing written")
    func missingLoRA() throws {
        let tmp = try CLI.makeTemporaryFolder("merge-usage")
        defer { CLI.removeTemporaryFolder(tmp) }
        for arguments in [["merge", "-o", tmp.appendingPathComponent("x.safetensors").path],
                          ["merge", "--base", Self.sd1, "-o", tmp.appendingPathComponent("y").path]] {
            let r = try CLI.run(arguments)
            #expect(r.status == 2, "\(r)")
            #expect(r.stdout.isEmpty)
            #expect(r.stderrLines.first == "Error: give at least one --lora", "\(r.stderr)")
        }
        let noOutput = try CLI.run(["merge", "--lora", Self.kohya])
        #expect(noOutput.status == 2, "\(noOutput)")
        #expect(noOutput.stderrLines.first?.hasPrefix("Error: Missing expected argument '--output <output>'") == true, "\(noOutput.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path).isEmpty)
    }

    @Test("two identical merges print the same report")
    func reproducibleReport() throws {
        let tmp = try CLI.makeTemporaryFolder("merge-repro")
        defer { CLI.removeTemporaryFolder(tmp) }
        var reports: Set<String> = []
        for k in 0..<4 {
            let r = try CLI.run(["merge", "--base", Self.sd1, "--lora", Self.kohya, "-o", tmp.appendingPathComponent("o\(k)").path])
            #expect(r.status == 0, "\(r)")
            reports.insert(r.stdout.replacingOccurrences(of: "/o\(k)/", with: "/OUT/"))
        }
        #expect(reports.count == 1, "\(reports.sorted())")
    }
}
