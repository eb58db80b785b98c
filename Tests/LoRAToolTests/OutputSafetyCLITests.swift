import Foundation
import Testing

/// Even with `--force`, no command writes over one of its inputs (a file, a model folder, a component of it,
/// or a symlink to an input). Runs on copies of the fixtures in a temporary folder.
@Suite("lora-tool never writes over an input")
struct OutputSafetyCLITests {
    @Test("merge, resize, convert and extract refuse an output that is an input: exit 1, one line, input unchanged")
    func outputIsInput() throws {
        let tmp = try CLI.makeTemporaryFolder("output-is-input")
        defer { CLI.removeTemporaryFolder(tmp) }
        let lora = tmp.appendingPathComponent("style.safetensors").path
        let base = tmp.appendingPathComponent("sd1").path
        let link = tmp.appendingPathComponent("link.safetensors").path
        try FileManager.default.copyItem(atPath: CLI.fixture("merge/lora/sd1_kohya.safetensors"), toPath: lora)
        try FileManager.default.copyItem(atPath: CLI.fixture("merge/sd1"), toPath: base)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: lora)
        let second = CLI.fixture("merge/lora/sd1_second.safetensors")
        let unet = base + "/unet/diffusion_pytorch_model.safetensors"

        let runs: [[String]] = [
            ["merge", "--force", "--lora", lora, "--lora", second, "-o", lora],
            ["merge", "--force", "--base", base, "--lora", lora, "-o", base],
            ["merge", "--force", "--base", unet, "--lora", lora, "-o", unet],
            ["resize", lora, "--rank", "2", "--force", "-o", lora],
            ["resize", lora, "--rank", "2", "--force", "-o", link],
            ["convert", lora, "--to", "kohya", "--force", "-o", lora],
            ["extract", "--base", base, "--tuned", base, "--force", "-o", unet],
        ]
        for arguments in runs {
            let r = try CLI.expectUnchanged([tmp.path]) { try CLI.run(arguments) }
            #expect(r.status == 1, "\(arguments): \(r)")
            #expect(r.stdout.isEmpty, "\(arguments)")
            #expect(r.stderrLines.count == 1 && r.stderr.hasPrefix("lora-tool: "), "\(arguments): \(r.stderr)")
        }
    }
}

/// Outputs that are, hold, or sit inside an input; empty output names; a stdout that cannot be written.
@Suite("lora-tool never loses an input or its own report")
struct OutputPathCLITests {
    static let kohya = CLI.fixture("merge/lora/sd1_kohya.safetensors")
    static let second = CLI.fixture("merge/lora/sd1_second.safetensors")

    @Test("with --force, an output that is a LoRA input, holds one or holds the base is refused by every command")
    func outputHoldsInput() throws {
        let tmp = try CLI.makeTemporaryFolder("output-holds-input")
        defer { CLI.removeTemporaryFolder(tmp) }
        let loras = tmp.appendingPathComponent("loras").path
        let lora = loras + "/style.safetensors"
        let base = tmp.appendingPathComponent("sd1").path
        let unet = base + "/unet/diffusion_pytorch_model.safetensors"
        try FileManager.default.createDirectory(atPath: loras, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.kohya, toPath: lora)
        try FileManager.default.copyItem(atPath: CLI.fixture("merge/sd1"), toPath: base)

        let runs: [[String]] = [
            ["merge", "--force", "--base", base, "--lora", lora, "-o", lora],
            ["merge", "--force", "--base", unet, "--lora", lora, "-o", lora],
            ["merge", "--force", "--base", base, "--lora", lora, "-o", loras],
            ["merge", "--force", "--base", unet, "--lora", lora, "-o", loras],
            ["merge", "--force", "--base", base, "--lora", lora + ":0.5", "-o", tmp.path],
            ["merge", "--force", "--base", base, "--lora", lora, "-o", base + "/inside"],
            ["merge", "--force", "--lora", lora, "--lora", Self.second, "-o", loras],
            ["merge", "--force", "--lora", lora, "--lora", Self.second, "--rank", "2", "-o", loras],
            ["merge", "--force", "--lora", lora, "--lora", Self.second, "--rank", "2", "-o", lora],
            ["resize", lora, "--rank", "2", "--force", "-o", loras],
            ["convert", lora, "--to", "peft", "--force", "-o", loras],
            ["extract", "--base", base, "--tuned", base, "--force", "-o", base],
            ["extract", "--base", base, "--tuned", base, "--force", "-o", tmp.path],
        ]
        for arguments in runs {
            let r = try CLI.expectUnchanged([tmp.path]) { try CLI.run(arguments) }
            #expect(r.status == 1, "\(arguments): \(r)")
            #expect(r.stdout.isEmpty, "\(arguments)")
            #expect(r.stderrLines.count == 1 && r.stderr.hasPrefix("lora-tool: "), "\(arguments): \(r.stderr)")
            #expect(r.stderr.contains("input"), "\(arguments): \(r.stderr)")
        }
    }

    @Test("generate never writes its PNG over the init image or into the model folder, even with --force")
    func generateOutputIsInput() throws {
        let tmp = try CLI.makeTemporaryFolder("generate-input")
        defer { CLI.removeTemporaryFolder(tmp) }
        let model = tmp.appendingPathComponent("sd1").path
        try FileManager.default.copyItem(atPath: CLI.fixture("merge/sd1"), toPath: model)
        let image = tmp.appendingPathComponent("init.png").path
        try Data("not really a png".utf8).write(to: URL(fileURLWithPath: image))
        for (output, extra) in [(image, ["--init-image", image]), (model + "/out.png", []), (model, [])] {
            let arguments = ["generate", "--force", "--model", model, "--prompt", "a cat", "-o", output] + extra
            let r = try CLI.expectUnchanged([tmp.path]) { try CLI.run(arguments) }
            #expect(r.status == 1 && r.stderrLines.count == 1 && r.stderr.contains("input"), "\(arguments): \(r)")
        }
    }

    @Test("with --force, a file is never replaced by a folder nor a folder by a file")
    func outputKindMismatch() throws {
        let tmp = try CLI.makeTemporaryFolder("output-kind")
        defer { CLI.removeTemporaryFolder(tmp) }
        let file = tmp.appendingPathComponent("model.safetensors").path
        let folder = tmp.appendingPathComponent("folder").path
        try Data("keep".utf8).write(to: URL(fileURLWithPath: file))
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try Data("keep".utf8).write(to: URL(fileURLWithPath: folder + "/marker"))
        let sd1 = CLI.fixture("merge/sd1")
        let runs: [([String], String)] = [
            (["merge", "--force", "--base", sd1, "--lora", Self.kohya, "-o", file], "is a file; the merged model is a folder"),
            (["merge", "--force", "--base", sd1 + "/unet/diffusion_pytorch_model.safetensors", "--lora", Self.kohya, "-o", folder], "is a folder"),
            (["merge", "--force", "--lora", Self.kohya, "--lora", Self.second, "-o", folder], "is a folder"),
            (["resize", Self.kohya, "--rank", "2", "--force", "-o", folder], "is a folder"),
        ]
        for (arguments, reason) in runs {
            let r = try CLI.expectUnchanged([tmp.path]) { try CLI.run(arguments) }
            #expect(r.status == 1 && r.stderrLines.count == 1 && r.stderr.contains(reason), "\(arguments): \(r)")
        }
    }

    @Test("an empty or blank output path is a usage error (exit 2) for every command, and the current folder is kept")
    func emptyOutput() throws {
        let tmp = try CLI.makeTemporaryFolder("output-empty")
        defer { CLI.removeTemporaryFolder(tmp) }
        try Data("keep".utf8).write(to: tmp.appendingPathComponent("marker"))
        let sd1 = CLI.fixture("merge/sd1")
        for output in ["", " ", "\t"] {
            let runs: [[String]] = [
                ["merge", "--force", "--base", sd1, "--lora", Self.kohya + ":0.5", "-o", output],
                ["merge", "--force", "--lora", Self.kohya, "--lora", Self.second, "-o", output],
                ["resize", Self.kohya, "--rank", "2", "--force", "-o", output],
                ["convert", Self.kohya, "--to", "peft", "--force", "-o", output],
                ["extract", "--base", sd1, "--tuned", sd1, "--force", "-o", output],
            ]
            for arguments in runs {
                let r = try CLI.expectUnchanged([tmp.path, sd1, Self.kohya]) { try CLI.run(arguments, currentDirectory: tmp) }
                #expect(r.status == 2, "\(arguments): \(r)")
                #expect(r.stderrLines.first?.hasPrefix("Error: --output must name a file or folder") == true, "\(arguments): \(r.stderr)")
            }
        }
    }

    @Test("a stdout that cannot be written (/dev/full) is exit 1 with one line on stderr, plain and --json, every command")
    func stdoutFull() throws {
        try #require(FileManager.default.fileExists(atPath: "/dev/full"), "this test needs /dev/full")
        let tmp = try CLI.makeTemporaryFolder("stdout-full")
        defer { CLI.removeTemporaryFolder(tmp) }
        let sd1 = CLI.fixture("merge/sd1")
        var k = 0
        func out(_ ext: String = ".safetensors") -> String {
            k += 1
            return tmp.appendingPathComponent("o\(k)\(ext)").path
        }
        let loraFolder = CLI.fixture("merge/lora")
        let tuned = try ExtractCLITests.makeTuned(in: tmp).path
        var runs: [[String]] = [["--help"], ["merge", "--help"], ["schedulers"]]
        for json in [false, true] {
            let j = json ? ["--json"] : []
            runs += [
                ["inspect", Self.kohya] + j,
                ["list", loraFolder, "--no-cache"] + j,
                ["schedule", "--scheduler", "lcm", "--steps", "4"] + j,
                ["schedulers"] + j,
                ["merge", "--base", sd1, "--lora", Self.kohya, "-o", out("")] + j,
                ["merge", "--lora", Self.kohya, "--lora", Self.second, "-o", out()] + j,
                ["merge", "--lora", Self.kohya, "--lora", Self.second, "--rank", "2", "-o", out()] + j,
                ["resize", Self.kohya, "--rank", "2", "-o", out()] + j,
                ["convert", Self.kohya, "--to", "peft", "-o", out()] + j,
                ["extract", "--base", sd1, "--tuned", tuned, "-o", out()] + j,
            ]
        }
        for arguments in runs {
            let r = try CLI.run(arguments, stdoutPath: "/dev/full")
            #expect(r.status == 1, "\(arguments): \(r)")
            #expect(r.stderrLines == ["lora-tool: cannot write to standard output: No space left on device"], "\(arguments): \(r.stderr)")
        }
    }
}
