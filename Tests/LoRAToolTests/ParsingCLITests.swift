import Foundation
import LoRAKit
import Testing

/// Arguments are read strictly, ignored options are errors, and every message names what it is about.
@Suite("lora-tool parses strictly and says what is wrong")
struct ParsingCLITests {
    static let sd1 = CLI.fixture("merge/sd1")
    static let kohya = CLI.fixture("merge/lora/sd1_kohya.safetensors")
    static let second = CLI.fixture("merge/lora/sd1_second.safetensors")
    static let sd2LoRA = CLI.fixture("merge/lora/sd2_kohya.safetensors")

    /// Expects a usage error (exit 2) whose first stderr line starts with `prefix` and contains `parts`.
    func expectUsageError(_ arguments: [String], _ prefix: String, _ parts: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let r = try CLI.run(arguments)
        #expect(r.status == 2, "\(arguments): \(r)", sourceLocation: sourceLocation)
        #expect(r.stdout.isEmpty, "\(arguments)", sourceLocation: sourceLocation)
        let first = String(r.stderrLines.first ?? "")
        #expect(first.hasPrefix(prefix), "\(arguments): \(r.stderr)", sourceLocation: sourceLocation)
        for part in parts { #expect(first.contains(part), "\(arguments): \(part) not in \(first)", sourceLocation: sourceLocation) }
    }

    @Test("--lora strengths: only finite decimals; a bad one is exit 2 naming it; a component given twice is an error")
    func strengths() throws {
        let tmp = try CLI.makeTemporaryFolder("strengths")
        defer { CLI.removeTemporaryFolder(tmp) }
        let out = tmp.appendingPathComponent("m.safetensors").path
        let bad: [(String, String)] = [
            (":abc", "\"abc\""), (":nan", "\"nan\""), (":inf", "\"inf\""), (":1e40", "\"1e40\""), (":1e-3", "\"1e-3\""),
            ("::", "no strength after ':'"), (":", "no strength after ':'"), (": 0.5", "\" 0.5\""), (":0x10", "\"0x10\""),
            (":1.2.3", "\"1.2.3\""), (":-", "\"-\""), (":.", "\".\""),
            (":\(String(repeating: "9", count: 60))", "is not a strength"),
            (":unet=1,unet=2", "\"unet\" is given twice"), (":te=1,text_encoder=0.5", "text-encoder strength is given twice"),
            (":unet=abc", "\"abc\""), (":vae=1", "unknown component \"vae\""), (":unet", "\"unet\" is not a strength"), (":unet=1,te", "\"te\" is not NAME=STRENGTH"),
        ]
        for (suffix, part) in bad {
            try expectUsageError(["merge", "--lora", Self.kohya + suffix, "--lora", Self.second, "-o", out],
                                 "Error: --lora \"\(Self.kohya + suffix)\"", [part])
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path).isEmpty)
        for suffix in [":0.5", ":-0.5", ":.25", ":+1", ":2.", ":unet=1,te=0.5", ":all=0.3"] {
            let r = try CLI.run(["merge", "--force", "--lora", Self.kohya + suffix, "--lora", Self.second, "-o", out])
            #expect(r.status == 0, "\(suffix): \(r)")
        }
    }

    @Test("a strength in --lora wins over --unet-strength / --te-strength, which fill only what it leaves open")
    func perLoRAStrengthWins() throws {
        let tmp = try CLI.makeTemporaryFolder("strength-precedence")
        defer { CLI.removeTemporaryFolder(tmp) }
        func bake(_ name: String, _ extra: [String]) throws -> (report: [String: Any], unet: Data) {
            let out = tmp.appendingPathComponent(name)
            let r = try CLI.run(["merge", "--base", Self.sd1, "--json", "-o", out.path] + extra)
            #expect(r.status == 0, "\(extra): \(r)")
            let lora = try #require((try CLI.jsonObject(r)["loras"] as? [[String: Any]])?.first)
            return (lora, try Data(contentsOf: out.appendingPathComponent("unet/diffusion_pytorch_model.safetensors")))
        }
        let plain = try bake("plain", ["--lora", Self.kohya + ":0.8"])
        let overridden = try bake("overridden", ["--lora", Self.kohya + ":0.8", "--unet-strength", "0.3", "--te-strength", "-0.2"])
        #expect(overridden.unet == plain.unet, "--unet-strength changed a LoRA that gave its own strength")
        #expect((overridden.report["strength"] as? NSNumber)?.doubleValue == 0.8)
        #expect(overridden.report["unet_strength"] == nil && overridden.report["text_encoder_strength"] == nil)

        let open = try bake("open", ["--lora", Self.kohya, "--unet-strength", "0.3"])
        #expect((open.report["unet_strength"] as? NSNumber)?.doubleValue == 0.3)
        #expect(open.unet != plain.unet)
        let partly = try bake("partly", ["--lora", Self.kohya + ":unet=0.8", "--unet-strength", "0.3", "--te-strength", "0.5"])
        #expect(partly.unet == plain.unet)
        #expect((partly.report["text_encoder_strength"] as? NSNumber)?.doubleValue == 0.5)
        let help = try CLI.run(["merge", "--help"])
        #expect(help.stdout.contains("a strength in --lora wins"), "\(help.stdout)")
    }

    @Test("an A1111 sidecar's \"preferred weight\" is the strength of a LoRA named without one")
    func sidecarPreferredWeight() throws {
        let tmp = try CLI.makeTemporaryFolder("sidecar")
        defer { CLI.removeTemporaryFolder(tmp) }
        let lora = tmp.appendingPathComponent("style.safetensors")
        try FileManager.default.copyItem(atPath: Self.kohya, toPath: lora.path)
        try Data(#"{"activation text": "stylish", "preferred weight": 0.6, "sd version": "SD1"}"#.utf8)
            .write(to: tmp.appendingPathComponent("style.json"))
        func strength(_ spec: String, _ extra: [String] = []) throws -> Double? {
            let r = try CLI.run(["merge", "--force", "--base", Self.sd1, "--lora", spec, "--json", "-o", tmp.appendingPathComponent("out").path] + extra)
            #expect(r.status == 0, "\(r)")
            return ((try CLI.jsonObject(r)["loras"] as? [[String: Any]])?.first?["strength"] as? NSNumber)?.doubleValue
        }
        #expect(try strength(lora.path) == 0.6)
        #expect(try strength(lora.path + ":1") == 1)
        #expect(try strength(lora.path + ":unet=0.9") == 1)
    }

    @Test("merge metadata records strengths as typed (0.6, not 0.6000000238418579)")
    func typedStrengths() throws {
        let tmp = try CLI.makeTemporaryFolder("typed")
        defer { CLI.removeTemporaryFolder(tmp) }
        for extra in [[String](), ["--rank", "2"]] {
            let out = tmp.appendingPathComponent("m\(extra.count).safetensors")
            let r = try CLI.run(["merge", "--lora", Self.kohya + ":0.6", "--lora", Self.second + ":unet=0.7,te=-0.1", "-o", out.path] + extra)
            #expect(r.status == 0, "\(r)")
            let sources = try #require(try SafetensorsFile(contentsOf: out).metadata?["lorakit_merge_sources"])
            #expect(sources.contains("\"strength\":0.6") && sources.contains("\"unet_strength\":0.7") && sources.contains("\"te_strength\":-0.1"), "\(sources)")
            #expect(!sources.contains("0000"), "\(sources)")
        }
    }

    @Test("options that would be ignored are usage errors; --rank -1 says it must be positive")
    func ignoredOptions() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("lorakit-never-\(UUID().uuidString)").path
        try expectUsageError(["merge", "--base", Self.sd1, "--lora", Self.kohya, "--rank", "4", "-o", out], "Error: --rank and --conv-rank apply to a LoRA merge")
        try expectUsageError(["merge", "--base", Self.sd1, "--lora", Self.kohya, "--conv-rank", "4", "-o", out], "Error: --rank and --conv-rank apply to a LoRA merge")
        try expectUsageError(["merge", "--lora", Self.kohya, "--lora", Self.second, "--conv-rank", "4", "-o", out], "Error: --conv-rank needs --rank")
        try expectUsageError(["merge", "--lora", Self.kohya, "--allow-empty", "-o", out], "Error: --allow-empty applies to a bake")
        for (command, option) in [(["resize", Self.kohya, "-o", out], "--rank"), (["resize", Self.kohya, "--rank", "2", "-o", out], "--conv-rank"),
                                  (["extract", "--base", Self.sd1, "--tuned", Self.sd1, "-o", out], "--rank"),
                                  (["merge", "--lora", Self.kohya, "-o", out], "--rank"),
                                  (["convert", Self.kohya, "--to", "peft", "-o", out], "--bake-rank")] {
            try expectUsageError(command + [option, "-1"], "Error: \(option) must be a positive whole number, got -1")
        }
        try expectUsageError(["schedule", "--scheduler", "lcm", "--steps", "-3"], "Error: --steps must be at least 1")
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test("--rank above every layer's full rank: a note on stderr, ranks capped, the metadata records the rank written")
    func rankAboveFullRank() throws {
        let tmp = try CLI.makeTemporaryFolder("rank-cap")
        defer { CLI.removeTemporaryFolder(tmp) }
        let runs: [[String]] = [
            ["resize", Self.kohya, "--rank", "1000000000000"],
            ["merge", "--lora", Self.kohya, "--lora", Self.second, "--rank", "1000000000000"],
        ]
        for (k, arguments) in runs.enumerated() {
            let out = tmp.appendingPathComponent("r\(k).safetensors")
            let r = try CLI.run(arguments + ["-o", out.path])
            #expect(r.status == 0, "\(r)")
            #expect(r.stderrLines.count == 1 && r.stderr.hasPrefix("lora-tool: note: --rank 1000000000000 is above the full rank of every module"), "\(r.stderr)")
            let written = try CLI.inspectedModules(out.path).values.compactMap { $0["rank"] as? Int }.max()
            let dim = try SafetensorsFile(contentsOf: out).metadata?["ss_network_dim"]
            #expect(dim == written.map(String.init), "ss_network_dim \(dim ?? "nil"), largest rank \(written ?? -1)")
        }
    }

    @Test("--version, help for an unknown command, -v for --verbose, list of a file, schedule --config of a folder")
    func userHabits() throws {
        let version = try CLI.run(["--version"])
        #expect(version.status == 0 && version.stdout == "0.1.0\n", "\(version)")
        let bogus = try CLI.run(["help", "bogus"])
        #expect(bogus.status == 2 && bogus.stdout.isEmpty, "\(bogus)")
        #expect(bogus.stderrLines.first?.hasPrefix("Error: no command \"bogus\"") == true)
        #expect(try CLI.run(["help", "inspect"]).status == 0)

        let tmp = try CLI.makeTemporaryFolder("habits")
        defer { CLI.removeTemporaryFolder(tmp) }
        let verbose = try CLI.run(["resize", Self.kohya, "--rank", "2", "-v", "-o", tmp.appendingPathComponent("v.safetensors").path])
        #expect(verbose.status == 0 && verbose.stdout.contains("Average Frobenius norm retention"), "\(verbose)")
        #expect(try CLI.run(["inspect", Self.kohya, "-v"]).status == 0)

        let list = try CLI.run(["list", Self.kohya, "--no-cache"])
        #expect(list.status == 1 && list.stderrLines == ["lora-tool: \(Self.kohya) is a file; list wants a folder of LoRAs (lora-tool inspect shows one file)"], "\(list)")

        let empty = tmp.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let folder = try CLI.run(["schedule", "--scheduler", "lcm", "--steps", "4", "--config", empty.path])
        #expect(folder.status == 1 && folder.stderrLines.count == 1, "\(folder)")
        #expect(folder.stderr.contains("a folder without scheduler/scheduler_config.json") && !folder.stderr.contains("NSCocoaErrorDomain"), "\(folder.stderr)")
        let model = try CLI.run(["schedule", "--scheduler", "lcm", "--steps", "4", "--config", Self.sd1])
        let file = try CLI.run(["schedule", "--scheduler", "lcm", "--steps", "4", "--config", Self.sd1 + "/scheduler/scheduler_config.json"])
        #expect(model.status == 0 && model.stdout == file.stdout, "\(model)")
        let missing = try CLI.run(["schedule", "--scheduler", "lcm", "--steps", "4", "--config", empty.path + "/nope.json"])
        #expect(missing.status == 1 && missing.stderrLines == ["lora-tool: \(empty.path)/nope.json: no such file"], "\(missing)")
    }

    @Test("errors about --base, --tuned and --lora name the file; extract speaks of extracting")
    func errorsNameTheFile() throws {
        let tmp = try CLI.makeTemporaryFolder("names")
        defer { CLI.removeTemporaryFolder(tmp) }
        let text = tmp.appendingPathComponent("pointer.safetensors").path
        try Data("version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n".utf8).write(to: URL(fileURLWithPath: text))
        let missing = tmp.appendingPathComponent("missing").path
        let out = tmp.appendingPathComponent("out.safetensors").path
        let runs: [([String], String, String?)] = [
            (["merge", "--base", text, "--lora", Self.kohya, "-o", out], text, nil),
            (["merge", "--base", missing, "--lora", Self.kohya, "-o", out], missing, "no such file or folder"),
            (["merge", "--base", Self.kohya, "--lora", Self.second, "-o", out], Self.kohya, "it is a LoRA, not a model"),
            (["merge", "--base", Self.sd1, "--lora", missing, "-o", out], missing, "no such file"),
            (["merge", "--base", Self.sd1, "--lora", text, "-o", out], text, nil),
            (["merge", "--lora", text, "--lora", Self.kohya, "-o", out], text, nil),
            (["extract", "--base", text, "--tuned", Self.sd1, "-o", out], text, nil),
            (["extract", "--base", Self.sd1, "--tuned", text, "-o", out], text, nil),
            (["extract", "--base", missing, "--tuned", Self.sd1, "-o", out], missing, "cannot extract from this model: no such file or folder"),
            (["extract", "--base", Self.sd1, "--tuned", missing, "-o", out], missing, "cannot extract from this model: no such file or folder"),
            (["inspect", missing], missing, nil),
            (["resize", missing, "--rank", "2", "-o", out], missing, nil),
        ]
        for (arguments, path, detail) in runs {
            let r = try CLI.run(arguments, environment: ["LORAKIT_HOME": tmp.appendingPathComponent("home").path])
            #expect(r.status == 1, "\(arguments): \(r)")
            #expect(r.stdout.isEmpty && r.stderrLines.count == 1, "\(arguments): \(r.stderr)")
            #expect(r.stderr.hasPrefix("lora-tool: \(path)"), "\(arguments): \(r.stderr)")
            if let detail { #expect(r.stderr.contains(detail), "\(arguments): \(r.stderr)") }
            #expect(!r.stderr.contains("merg") || arguments[0] == "merge", "\(arguments): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out))
        }
        // convert onto an existing output: the one wording, the file kept.
        try Data("keep".utf8).write(to: URL(fileURLWithPath: out))
        for arguments in [["convert", Self.kohya, "--to", "peft", "-o", out], ["resize", Self.kohya, "--rank", "2", "-o", out],
                          ["merge", "--lora", Self.kohya, "--lora", Self.second, "--rank", "2", "-o", out]] {
            let r = try CLI.run(arguments)
            #expect(r.status == 1 && r.stderrLines == ["lora-tool: \(out) exists; pass --force to replace it"], "\(arguments): \(r)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == Data("keep".utf8))
    }

    @Test("LoRA merges: a layer-shape disagreement shows the layer shapes; mixed families name each LoRA, --allow-base-mismatch merges")
    func loraMergeMessages() throws {
        let tmp = try CLI.makeTemporaryFolder("lora-merge-messages")
        defer { CLI.removeTemporaryFolder(tmp) }
        let misfit = try MergeReportCLITests.makeMisfit(in: tmp)
        let r = try CLI.run(["merge", "--lora", Self.kohya, "--lora", misfit.path, "--json", "-o", tmp.appendingPathComponent("m.safetensors").path])
        #expect(r.status == 0, "\(r)")
        let skipped = try #require(try CLI.jsonObject(r)["skipped"] as? [[String: Any]])
        let reasons = skipped.compactMap { $0["reason"] as? String }
        #expect(reasons.count == 3 && reasons.allSatisfy { $0.hasPrefix("the LoRAs disagree on the layer's shape: ") && $0.hasSuffix(" vs [320, 320]") },
                "\(reasons)")
        #expect(!reasons.contains { $0.contains("[1, 320]") }, "a factor shape shown as the layer's: \(reasons)")

        for extra in [[String](), ["--rank", "2"]] {
            let out = tmp.appendingPathComponent("mixed\(extra.count).safetensors").path
            let mixed = try CLI.run(["merge", "--lora", Self.kohya, "--lora", Self.second, "--lora", Self.sd2LoRA, "-o", out] + extra)
            #expect(mixed.status == 1 && mixed.stderrLines.count == 1, "\(mixed)")
            #expect(mixed.stderr == "lora-tool: the LoRAs were made for different model families: sd1_kohya.safetensors (SD 1.x), "
                    + "sd1_second.safetensors (SD 1.x), sd2_kohya.safetensors (SD 2.x); pass --allow-base-mismatch to merge them anyway\n", "\(mixed.stderr)")
            let allowed = try CLI.run(["merge", "--allow-base-mismatch", "--lora", Self.kohya, "--lora", Self.sd2LoRA, "-o", out] + extra)
            #expect(allowed.status == 0, "\(allowed)")
        }
    }
}
