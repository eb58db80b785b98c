import Foundation
import Testing

/// `lora-tool generate --taesd / --decoder / --preview / --preview-every` through the built binary, on the tiny SD1
/// pipeline and its TAESD (their numbers are checked against diffusers in DiffusionCoreTests).
@Suite("lora-tool generate: TAESD and previews")
struct GeneratePreviewCLITests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("DiffusionCoreTests/Fixtures")
    static var model: String { fixtures.appendingPathComponent("pipeline/sd1-tiny").path }
    static var taesd: String { fixtures.appendingPathComponent("pipeline-taesd/taesd-tiny").path }

    static func pixels(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    @Test("--taesd decodes with TAESD, --decoder vae keeps the VAE; --preview writes the last preview; plain progress lines")
    func taesdAndPreview() throws {
        let dir = try CLI.makeTemporaryFolder("generate-taesd")
        defer { try? FileManager.default.removeItem(at: dir) }
        let common = ["generate", "--model", Self.model, "--prompt", "a horse", "--seed", "5", "--width", "32", "--height", "32",
                      "--steps", "4", "--scheduler", "euler"]
        let fast = dir.appendingPathComponent("fast.png").path, preview = dir.appendingPathComponent("preview.png").path
        let run = try CLI.run(common + ["--taesd", Self.taesd, "--preview", preview, "--preview-every", "2", "-o", fast, "--json"])
        #expect(run.status == 0, "\(run)")
        #expect(run.stdout.contains("\"decoder\" : \"taesd\"") || run.stdout.contains("\"decoder\":\"taesd\""), "\(run.stdout)")
        #expect(run.stderrLines.filter { $0.hasPrefix("step ") }.count == 4, "one plain line per step off a terminal: \(run.stderr)")
        #expect(run.stderr.contains("s/step") && run.stderr.contains("ETA"))
        let vae = dir.appendingPathComponent("vae.png").path
        #expect(try CLI.run(common + ["--taesd", Self.taesd, "--decoder", "vae", "-o", vae]).status == 0)
        let plain = dir.appendingPathComponent("plain.png").path
        #expect(try CLI.run(common + ["-o", plain]).status == 0)
        #expect(try Self.pixels(vae) == Self.pixels(plain), "--decoder vae gives the VAE's picture")
        #expect(try Self.pixels(fast) != Self.pixels(plain))
        #expect(try Set(FileManager.default.contentsOfDirectory(atPath: dir.path)) == ["fast.png", "preview.png", "vae.png", "plain.png"])
        #expect(try Self.pixels(preview).starts(with: [0x89, 0x50, 0x4E, 0x47]))
    }

    @Test("Without --taesd the preview is the latent approximation (1/8 size); batches get one preview file each")
    func latentPreviewBatch() throws {
        let dir = try CLI.makeTemporaryFolder("generate-preview")
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try CLI.run(["generate", "--model", Self.model, "--prompt", "a horse", "--lcm", "--width", "32", "--height", "32",
                               "--batch", "2", "--preview", dir.appendingPathComponent("p.png").path,
                               "-o", dir.appendingPathComponent("o.png").path])
        #expect(run.status == 0, "\(run)")
        #expect(try Set(FileManager.default.contentsOfDirectory(atPath: dir.path)) == ["o-1.png", "o-2.png", "p-1.png", "p-2.png"])
        // PNG IHDR: width and height at bytes 16…23; the tiny VAE's factor is 4, so 32 px → 8 latent pixels.
        let header = [UInt8](try Self.pixels(dir.appendingPathComponent("p-1.png").path).prefix(24))
        #expect(Array(header[16..<24]) == [0, 0, 0, 8, 0, 0, 0, 8])
    }

    @Test("Bad TAESD and preview arguments: usage errors exit 2, a bad folder exit 1 with one line and no output")
    func failures() throws {
        let dir = try CLI.makeTemporaryFolder("generate-taesd-fail")
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out.png").path
        let base = ["generate", "--model", Self.model, "--prompt", "x", "--lcm", "--width", "32", "--height", "32", "-o", out]
        #expect(try CLI.run(base + ["--decoder", "taesd"]).status == 2)
        #expect(try CLI.run(base + ["--preview-every", "2"]).status == 2)
        #expect(try CLI.run(base + ["--preview", dir.appendingPathComponent("p.png").path, "--preview-every", "0"]).status == 2)
        let wrongFactor = try CLI.run(base + ["--taesd", Self.fixtures.appendingPathComponent("models/taesd").path])
        #expect(wrongFactor.status == 1)
        #expect(wrongFactor.stderrLines.count == 1 && wrongFactor.stderr.contains("spatial factor 8"), "\(wrongFactor)")
        let missing = try CLI.run(base + ["--taesd", dir.appendingPathComponent("nope").path])
        #expect(missing.status == 1 && missing.stderrLines.count == 1, "\(missing)")
        let same = try CLI.run(base + ["--preview", out])
        #expect(same.status == 1, "\(same)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }
}
