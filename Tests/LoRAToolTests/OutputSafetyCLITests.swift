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
