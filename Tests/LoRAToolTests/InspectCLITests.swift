import Foundation
import Testing
import TestSupport

/// Runs the built `lora-tool` binary (see `CLI`) and checks stdout and the exit status.
@Suite("lora-tool inspect")
struct InspectCLITests {
    /// A fixture LoRA of the LoRAKitTests target.
    static func fixture(_ name: String) -> String { CLI.fixture("lora/\(name)") }

    @Test("a kohya LoRA: format, families, base model, triggers, hashes")
    func kohyaText() throws {
        let r = try CLI.run(["inspect", Self.fixture("kohya_sd1.safetensors")])
        #expect(r.status == 0)
        for needle in ["Format:       kohya", "LoRA 6, LoCon 2", "Base model:   SD 1.x", "mychar (20)",
                       "SHA-256:      ef2f3523dc245497bfd8304d48ca1da94e6f900090c6f54170991c89d6ca7e2e",
                       "sshs_model_hash: 8e697bcd6b8cf5cb3f53ecf3d53ee6b8fcc9625ed9030acec2bc15608b63a9c2",
                       "lora_unet_down_blocks_0_resnets_0_conv1.lora_down.weight", "ss_network_dim: 4"] {
            #expect(r.stdout.contains(needle), "missing \(needle)")
        }
        #expect(!r.stdout.contains("Modules:\n    unet."))
    }

    @Test("--json --verbose --stats is one JSON object with modules and ΔW statistics")
    func json() throws {
        let r = try CLI.run(["inspect", Self.fixture("lycoris_formula.safetensors"), "--json", "--verbose", "--stats"])
        #expect(r.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let lora = try #require(object["lora"] as? [String: Any])
        let modules = try #require(lora["modules"] as? [[String: Any]])
        #expect(modules.count == 10)
        #expect(modules.contains { ($0["delta_stats"] as? [String: Any])?["max_abs"] != nil })
        #expect(modules.contains { ($0["delta_stats"] as? [String: Any])?["error"] != nil })  // IA3 has no ΔW
        #expect((object["tensors"] as? [Any])?.count == 30)
    }

    @Test("a file that is not a LoRA still shows tensors and metadata")
    func notALoRA() throws {
        let r = try CLI.run(["inspect", Self.fixture("not_a_lora.safetensors")])
        #expect(r.status == 0)
        #expect(r.stdout.contains("no LoRA modules recognised"))
        #expect(r.stdout.contains("model.weight"))
        #expect(r.stdout.contains("note: plain tensors"))
        let j = try CLI.run(["inspect", Self.fixture("not_a_lora.safetensors"), "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any])
        #expect(object["lora"] is NSNull)
    }

    @Test("a hostile file exits 1 with a one-line reason")
    func hostile() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lorakit-hostile-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        var bytes: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]
        bytes += Array("{\"a\":1}".utf8)
        try Data(bytes).write(to: url)
        let r = try CLI.run(["inspect", url.path])
        #expect(r.status == 1)
        #expect(r.stdout.isEmpty)
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(r.stderr.contains("header length"))
    }

    @Test("real files print every tensor and the metadata", .enabled(if: RealWorld.isPresent, RealWorld.missingReason))
    func realWorld() throws {
        for name in ["lora_disney.safetensors", "analog_svd_rank4.safetensors"] {
            let path = try RealWorld.url(name).path
            let r = try CLI.run(["inspect", path])
            #expect(r.status == 0)
            #expect(r.stdout.contains("Format:       cloneofsimo"))
            #expect(r.stdout.contains("Base model:   SD 1.x"))
            #expect(!r.stdout.contains("Unrecognized"))
            #expect(r.stdout.contains("unet:143:up"))
            #expect(r.stdout.contains("text_encoder:47:down"))
            #expect(r.stdout.contains("Metadata (") && r.stdout.contains("unet:0:rank"))
        }
    }
}
