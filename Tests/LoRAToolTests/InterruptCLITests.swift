import Foundation
import LoRAKit
import Testing

/// A real `lora-tool` process stopped by SIGINT or SIGTERM while it writes: nothing is left behind
/// (no temporary file or folder, no partial output), a replaced output is kept, and the exit status
/// is 128 + the signal (130, 143).
@Suite("lora-tool stopped half-way through a write")
struct InterruptCLITests {
    /// A UNet-only diffusers folder of 16 zero 1024×1024 F32 layers (64 MiB) and a rank-512 kohya LoRA
    /// patching all of them (64 MiB): baking it takes seconds with one thread, so a signal lands mid-write.
    static func makeLargeInputs(in folder: URL) throws -> (base: URL, lora: URL) {
        let width = 1024, rank = 512
        let base = folder.appendingPathComponent("model")
        let unet = base.appendingPathComponent("unet")
        try FileManager.default.createDirectory(at: unet, withIntermediateDirectories: true)
        try Data(#"{"_class_name": "StableDiffusionPipeline"}"#.utf8).write(to: base.appendingPathComponent("model_index.json"))
        var layers: [String] = []
        for block in 0..<4 {  // 32 layers, 128 MB: a write long enough to be caught mid-way
            for attention in 0..<2 {
                for projection in ["to_q", "to_k", "to_v", "to_out.0"] {
                    layers.append("down_blocks.\(block).attentions.\(attention).transformer_blocks.0.attn1.\(projection)")
                }
            }
        }
        var model = SafetensorsWriter()
        let zeros = [Float](repeating: 0, count: width * width)
        for layer in layers { model.add(name: layer + ".weight", shape: [width, width], floats: zeros) }
        try model.write(to: unet.appendingPathComponent("diffusion_pytorch_model.safetensors"))

        var lora = SafetensorsWriter()
        let factor = (0..<(width * rank)).map { Float(($0 * 7919) % 1000) / 1e5 }
        for layer in layers {
            let stem = "lora_unet_" + layer.replacingOccurrences(of: ".", with: "_")
            lora.add(name: stem + ".lora_up.weight", shape: [width, rank], floats: factor)
            lora.add(name: stem + ".lora_down.weight", shape: [rank, width], floats: factor)
            lora.add(name: stem + ".alpha", shape: [], floats: [Float(rank)])
        }
        let loraURL = folder.appendingPathComponent("large.safetensors")
        try lora.write(to: loraURL)
        return (base, loraURL)
    }

    /// Starts `arguments`, waits until a temporary output appears in `outputs`, sends `signal`, and
    /// returns the exit status and stderr.
    static func interrupt(_ arguments: [String], watching outputs: URL, signal: Int32) throws -> (status: Int32, reason: Process.TerminationReason, stderr: String) {
        let p = try CLI.process(arguments)
        let errURL = outputs.deletingLastPathComponent().appendingPathComponent("stderr-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errURL) }
        let err = try FileHandle(forWritingTo: errURL)
        p.standardOutput = FileHandle.nullDevice
        p.standardError = err
        try p.run()
        let deadline = Date().addingTimeInterval(120)
        var sawTemporary = false
        while p.isRunning, Date() < deadline {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: outputs.path)) ?? []
            if names.contains(where: { $0.hasPrefix(".") && $0.contains(".tmp-") }) {
                sawTemporary = true
                break
            }
            usleep(5_000)
        }
        #expect(sawTemporary, "no temporary output appeared while \(arguments) ran")
        kill(p.processIdentifier, signal)
        p.waitUntilExit()
        try err.close()
        return (p.terminationStatus, p.terminationReason, String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
    }

    @Test("SIGTERM while baking into a file, SIGINT while baking into a folder: exit 143 / 130, nothing left, a replaced output kept")
    func signalDuringWrite() throws {
        let tmp = try CLI.makeTemporaryFolder("interrupt")
        defer { CLI.removeTemporaryFolder(tmp) }
        let (base, lora) = try Self.makeLargeInputs(in: tmp)
        let unet = base.appendingPathComponent("unet/diffusion_pytorch_model.safetensors").path
        let outputs = tmp.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: outputs, withIntermediateDirectories: true)
        let common = ["--lora", lora.path, "--threads", "1", "--allow-base-mismatch"]

        let cases: [(signal: Int32, status: Int32, name: String, arguments: [String])] = [
            (SIGTERM, 143, "SIGTERM", ["merge", "--base", unet, "-o", outputs.appendingPathComponent("baked.safetensors").path] + common),
            (SIGINT, 130, "SIGINT", ["merge", "--base", base.path, "-o", outputs.appendingPathComponent("baked").path] + common),
        ]
        for c in cases {
            let r = try CLI.expectUnchanged([base.path, lora.path]) {
                try Self.interrupt(c.arguments, watching: outputs, signal: c.signal)
            }
            #expect(r.reason == .exit && r.status == c.status, "\(c.name): \(r)")
            #expect(r.stderr == "lora-tool: stopped by \(c.name); no partial output was left\n", "\(c.name): \(r.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: outputs.path).isEmpty, "\(c.name): left behind")
        }

        // --force over an existing output: a stop before the new output is complete keeps the old one.
        let existing = outputs.appendingPathComponent("kept.safetensors")
        try Data("the previous output".utf8).write(to: existing)
        let r = try Self.interrupt(["merge", "--force", "--base", unet, "-o", existing.path] + common, watching: outputs, signal: SIGTERM)
        #expect(r.status == 143, "\(r)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: outputs.path) == ["kept.safetensors"])
        #expect(try Data(contentsOf: existing) == Data("the previous output".utf8))
    }
}
