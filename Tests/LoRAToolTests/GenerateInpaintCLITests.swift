import DiffusionCore
import Foundation
import LoRAKit
import Testing

/// `lora-tool generate --init-image … --mask …` and the SDXL micro-conditioning options through the built
/// binary, on the tiny pipelines of `Tests/DiffusionCoreTests/Fixtures/pipeline-families/`: the PNG written
/// equals diffusers' image of the same run (checked in DiffusionCoreTests) to a byte's rounding.
@Suite("lora-tool generate: inpainting and SDXL micro-conditioning")
struct GenerateInpaintCLITests {
    static let families = CLI.packageRoot.appendingPathComponent("Tests/DiffusionCoreTests/Fixtures/pipeline-families")
    static func path(_ name: String) -> String { families.appendingPathComponent(name).path }

    /// Every pixel of the PNG within one level (plus diffusers' 1e-3) of diffusers' float image.
    static func expectMatches(png: String, reference key: String) throws {
        let written = try ImageReader.read(contentsOf: URL(fileURLWithPath: png)).rgb
        let outputs = try SafetensorsFile(path: path("outputs.safetensors"))
        let view = try outputs.tensor(named: key)
        let want = view.floats()
        let (height, width) = (view.shape[2], view.shape[3])
        #expect(written.width == width && written.height == height)
        guard written.width == width, written.height == height else { return }
        var worst: Float = 0
        for c in 0..<3 {
            for i in 0..<(width * height) {
                worst = max(worst, abs(Float(written.pixels[3 * i + c]) / 255 - want[c * width * height + i]))
            }
        }
        #expect(worst <= 1e-3 + 0.5 / 255, "\(key): max difference \(worst)")
    }

    @Test("Inpainting with a 9-channel model writes diffusers' picture, marked as inpainting in the metadata")
    func inpaintNineChannels() throws {
        let dir = try CLI.makeTemporaryFolder("inpaint")
        defer { CLI.removeTemporaryFolder(dir) }
        let out = dir.appendingPathComponent("out.png").path
        let inputs = try CLI.snapshot([Self.path("init.png"), Self.path("mask.png")])
        let run = try CLI.run(["generate", "--model", Self.path("sd1-inpaint-tiny"), "--prompt", "a photo of a horse",
                               "--negative", "blurry", "--init-image", Self.path("init.png"), "--mask", Self.path("mask.png"),
                               "--width", "32", "--height", "32", "--scheduler", "euler_a", "--steps", "6", "--cfg", "7",
                               "--seed", "31", "-o", out])
        #expect(run.status == 0, "\(run)")
        try Self.expectMatches(png: out, reference: "inpaint9_euler_a_s1.image")
        let text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: out)), as: UTF8.self)
        #expect(text.contains("\"generation_mode\":\"inpaint\"") || text.contains("\"generation_mode\": \"inpaint\""), "InvokeAI metadata names the mode")
        #expect(try CLI.snapshot([Self.path("init.png"), Self.path("mask.png")]) == inputs, "inputs are never modified")
    }

    @Test("Inpainting with a standard model at --strength 0.8 writes diffusers' picture")
    func inpaintStandard() throws {
        let dir = try CLI.makeTemporaryFolder("inpaint4")
        defer { CLI.removeTemporaryFolder(dir) }
        let out = dir.appendingPathComponent("out.png").path
        let model = CLI.packageRoot.appendingPathComponent("Tests/DiffusionCoreTests/Fixtures/pipeline/sd1-tiny").path
        let run = try CLI.run(["generate", "--model", model, "--prompt", "a photo of an astronaut",
                               "--init-image", Self.path("init.png"), "--mask", Self.path("mask.png"), "--strength", "0.8",
                               "--width", "32", "--height", "32", "--scheduler", "euler_a", "--steps", "10", "--cfg", "6",
                               "--seed", "33", "-o", out])
        #expect(run.status == 0, "\(run)")
        try Self.expectMatches(png: out, reference: "inpaint4_euler_a_s0_8.image")
    }

    @Test("SDXL micro-conditioning from the command line gives diffusers' picture")
    func sdxlMicroConditioning() throws {
        let dir = try CLI.makeTemporaryFolder("sdxl")
        defer { CLI.removeTemporaryFolder(dir) }
        let out = dir.appendingPathComponent("xl.png").path
        let run = try CLI.run(["generate", "--model", Self.path("sdxl-tiny"), "--prompt", "a photo of an astronaut riding a horse",
                               "--width", "64", "--height", "32", "--scheduler", "euler", "--steps", "6", "--cfg", "5",
                               "--seed", "21", "--original-size", "160x96", "--crop", "8,16", "--target-size", "72x40", "-o", out])
        #expect(run.status == 0, "\(run)")
        try Self.expectMatches(png: out, reference: "sdxl_euler_microcond.image")
        let bad = try CLI.run(["generate", "--model", Self.path("sdxl-tiny"), "--prompt", "x", "--original-size", "160",
                               "-o", dir.appendingPathComponent("bad.png").path])
        #expect(bad.status == 2, "\(bad)")
    }

    @Test("A mask of another size, an unreadable mask, or a mask without an init image is refused; nothing is written")
    func badMasks() throws {
        let dir = try CLI.makeTemporaryFolder("inpaint-bad")
        defer { CLI.removeTemporaryFolder(dir) }
        let out = dir.appendingPathComponent("out.png")
        let model = Self.path("sd1-inpaint-tiny")
        // A 32 × 32 picture beside the 40 × 40 mask: the first run's output serves as the init image.
        let small = dir.appendingPathComponent("small.png")
        let first = try CLI.run(["generate", "--model", model, "--prompt", "a horse", "--init-image", Self.path("init.png"),
                                 "--mask", Self.path("mask.png"), "--width", "32", "--height", "32", "--steps", "2",
                                 "-o", small.path])
        #expect(first.status == 0, "\(first)")
        let missized = try CLI.run(["generate", "--model", model, "--prompt", "a horse", "--init-image", small.path,
                                    "--mask", Self.path("mask.png"), "--steps", "2", "-o", out.path])
        #expect(missized.status == 1, "\(missized)")
        #expect(missized.stderrLines.count == 1 && missized.stderr.contains("the mask is 40×40 but the init image is 32×32"), "\(missized)")
        let garbage = dir.appendingPathComponent("mask.png")
        try Data("not a picture".utf8).write(to: garbage)
        let unreadable = try CLI.run(["generate", "--model", model, "--prompt", "a horse", "--init-image", small.path,
                                      "--mask", garbage.path, "--steps", "2", "-o", out.path])
        #expect(unreadable.status == 1, "\(unreadable)")
        #expect(unreadable.stderrLines.count == 1 && unreadable.stderr.contains(garbage.path), "\(unreadable)")
        let noInit = try CLI.run(["generate", "--model", model, "--prompt", "a horse", "--mask", Self.path("mask.png"), "-o", out.path])
        #expect(noInit.status == 2, "\(noInit)")
        let noMask = try CLI.run(["generate", "--model", model, "--prompt", "a horse", "--width", "32", "--height", "32",
                                  "--steps", "2", "-o", out.path])
        #expect(noMask.status == 1, "\(noMask)")
        #expect(noMask.stderrLines.count == 1 && noMask.stderr.contains("inpainting model"), "\(noMask)")
        #expect(!FileManager.default.fileExists(atPath: out.path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["mask.png", "small.png"])
    }
}
