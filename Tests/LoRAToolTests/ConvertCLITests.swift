import Foundation
import LoRAKit
import Testing

/// `lora-tool convert` (Docs/rank-tools.md), run through the built binary (see `CLI`).
@Suite("lora-tool convert")
struct ConvertCLITests {
    static let kohya = CLI.fixture("merge/lora/sd1_kohya.safetensors")
    /// Three LoHa modules (UNet attention, UNet resnet conv, text-encoder MLP).
    static let loha = CLI.fixture("lora/loha.safetensors")
    static let lohaModules = ["unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q",
                              "unet.down_blocks.0.resnets.0.conv1",
                              "text_encoder.text_model.encoder.layers.0.mlp.fc1"]

    @Test("kohya → peft → kohya: same modules, ranks and scales; back in kohya the original tensors byte for byte")
    func roundTrip() throws {
        let tmp = try CLI.makeTemporaryFolder("convert-roundtrip")
        defer { CLI.removeTemporaryFolder(tmp) }
        let peft = tmp.appendingPathComponent("sd1.peft.safetensors")
        let back = tmp.appendingPathComponent("sd1.kohya.safetensors")

        let toPEFT = try CLI.expectUnchanged([Self.kohya]) {
            try CLI.run(["convert", Self.kohya, "--to", "peft", "-o", peft.path])
        }
        #expect(toPEFT.status == 0, "\(toPEFT)")
        #expect(toPEFT.stderr.isEmpty)
        #expect(toPEFT.stdout == "Converted 30 modules to peft\nWrote \(peft.path)\n")
        let original = try CLI.inspectedModules(Self.kohya)
        let converted = try CLI.inspectedModules(peft.path)
        #expect(Set(converted.keys) == Set(original.keys))
        for (target, m) in converted {
            #expect(m["rank"] as? Int == original[target]?["rank"] as? Int, "\(target)")
            #expect((m["scale"] as? NSNumber)?.doubleValue == (original[target]?["scale"] as? NSNumber)?.doubleValue, "\(target)")
            #expect((m["keys"] as? [String])?.allSatisfy { $0.contains(".lora_A.") || $0.contains(".lora_B.") } == true, "\(target)")
        }
        let inspectPEFT = try CLI.run(["inspect", peft.path])
        #expect(inspectPEFT.stdout.contains("Format:       peft-diffusers"))
        #expect(inspectPEFT.stdout.contains("Base model:   SD 1.x"))
        let adapterMetadata = try #require(try SafetensorsFile(contentsOf: peft).metadata?["lora_adapter_metadata"])
        #expect(try JSONSerialization.jsonObject(with: Data(adapterMetadata.utf8)) is [String: Any])

        let toKohya = try CLI.expectUnchanged([peft.path]) {
            try CLI.run(["convert", peft.path, "--to", "kohya", "-o", back.path])
        }
        #expect(toKohya.status == 0, "\(toKohya)")
        #expect(toKohya.stdout == "Converted 30 modules to kohya (UNet names: diffusers)\nWrote \(back.path)\n")
        let a = try SafetensorsFile(path: Self.kohya), b = try SafetensorsFile(contentsOf: back)
        #expect(Set(b.names) == Set(a.names))
        for info in a.tensors {
            let other = try #require(b.info(named: info.name), "\(info.name) missing after the round trip")
            #expect(other.dtype == info.dtype && other.shape == info.shape, "\(info.name)")
            #expect(try b.tensor(named: info.name).bytes() == a.tensor(info).bytes(), "\(info.name)")
        }
        let inspectBack = try CLI.run(["inspect", back.path])
        #expect(inspectBack.stdout.contains("Format:       kohya"))
        #expect(inspectBack.stdout.contains("(matches stored)"), "sshs_model_hash not recomputed:\n\(inspectBack.stdout)")
    }

    @Test("without -o the output is INPUT.<layout>.safetensors next to the input")
    func defaultOutput() throws {
        let tmp = try CLI.makeTemporaryFolder("convert-default")
        defer { CLI.removeTemporaryFolder(tmp) }
        let input = tmp.appendingPathComponent("style.safetensors")
        try FileManager.default.copyItem(at: URL(fileURLWithPath: Self.kohya), to: input)
        let r = try CLI.expectUnchanged([input.path]) { try CLI.run(["convert", input.path, "--to", "peft"]) }
        #expect(r.status == 0, "\(r)")
        let expected = tmp.appendingPathComponent("style.peft.safetensors")
        #expect(r.stdout.hasSuffix("Wrote \(expected.path)\n"), "\(r.stdout)")
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: tmp.path)) == ["style.safetensors", "style.peft.safetensors"])
    }

    @Test("LoHa --to peft: exit 1, one line naming the modules and --bake-rank, nothing written")
    func lohaRefused() throws {
        let tmp = try CLI.makeTemporaryFolder("convert-loha")
        defer { CLI.removeTemporaryFolder(tmp) }
        let out = tmp.appendingPathComponent("loha.peft.safetensors")
        let r = try CLI.expectUnchanged([Self.loha]) {
            try CLI.run(["convert", Self.loha, "--to", "peft", "-o", out.path])
        }
        #expect(r.status == 1, "\(r)")
        #expect(r.stdout.isEmpty)
        #expect(r.stderrLines.count == 1, "\(r.stderr)")
        #expect(r.stderr.hasPrefix("lora-tool: "))
        for module in Self.lohaModules { #expect(r.stderr.contains(module), "\(module) not named: \(r.stderr)") }
        #expect(r.stderr.contains("LoHa") && r.stderr.contains("--bake-rank"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path).isEmpty, "left behind in the output folder")
    }

    @Test("LoHa --to peft --bake-rank 2: three rank-2 LoRA modules, retained Frobenius ratios reported")
    func lohaBaked() throws {
        let tmp = try CLI.makeTemporaryFolder("convert-bake")
        defer { CLI.removeTemporaryFolder(tmp) }
        let out = tmp.appendingPathComponent("loha.peft.safetensors")
        let r = try CLI.expectUnchanged([Self.loha]) {
            try CLI.run(["convert", Self.loha, "--to", "peft", "--bake-rank", "2", "-o", out.path])
        }
        #expect(r.status == 0, "\(r)")
        #expect(r.stderr.isEmpty)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "Converted 3 modules to peft")
        #expect(lines.contains("Baked 3 modules to plain LoRA by SVD:"))
        for module in Self.lohaModules {
            #expect(lines.contains { $0.hasPrefix("  \(module) [loha] rank 2, Frobenius retained ") }, "\(module): \(r.stdout)")
        }
        #expect(lines.last == "Wrote \(out.path)")
        let modules = try CLI.inspectedModules(out.path)
        #expect(Set(modules.keys) == Set(Self.lohaModules))
        for (target, m) in modules {
            #expect(m["rank"] as? Int == 2, "\(target)")
            #expect(["lora", "locon"].contains(m["family"] as? String ?? ""), "\(target): \(String(describing: m["family"]))")
        }

        let json = try CLI.run(["convert", Self.loha, "--to", "peft", "--bake-rank", "2", "--json", "-o", tmp.appendingPathComponent("j.safetensors").path])
        #expect(json.status == 0, "\(json)")
        let report = try CLI.jsonObject(json)
        #expect(report["layout"] as? String == "peft" && report["modules_written"] as? Int == 3)
        let baked = try #require(report["baked"] as? [[String: Any]])
        #expect(Set(baked.compactMap { $0["module"] as? String }) == Set(Self.lohaModules))
        for b in baked {
            #expect(b["rank"] as? Int == 2 && b["family"] as? String == "loha")
            let retained = try #require((b["frobenius_retained"] as? NSNumber)?.doubleValue)
            #expect(retained > 0 && retained <= 1 + 1e-9)
        }
    }

    @Test("bad usage exits 2 with the reason first; an unreadable input exits 1 with one line")
    func errors() throws {
        let tmp = try CLI.makeTemporaryFolder("convert-errors")
        defer { CLI.removeTemporaryFolder(tmp) }
        let out = tmp.appendingPathComponent("x.safetensors").path
        let usage: [([String], String)] = [
            (["--to", "onnx"], "Error: The value 'onnx' is invalid for '--to <to>'"),
            (["--to", "peft", "--sgm"], "Error: --unet-names / --sgm apply to --to kohya only"),
            (["--to", "kohya", "--bake-rank", "0"], "Error: --bake-rank must be a positive whole number, got 0"),
            ([], "Error: Missing expected argument '--to <to>'"),
        ]
        for (arguments, message) in usage {
            let r = try CLI.run(["convert", Self.kohya, "-o", out] + arguments)
            #expect(r.status == 2, "\(arguments): \(r)")
            #expect(r.stdout.isEmpty)
            #expect(r.stderrLines.first.map { $0.hasPrefix(message) } == true, "\(arguments): \(r.stderr)")
        }
        let missing = try CLI.run(["convert", tmp.appendingPathComponent("nothing.safetensors").path, "--to", "peft", "-o", out])
        #expect(missing.status == 1, "\(missing)")
        #expect(missing.stderrLines.count == 1 && missing.stderr.contains("nothing.safetensors"), "\(missing.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path).isEmpty)
    }
}
