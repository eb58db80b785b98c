import Foundation
import Testing

/// What a user meets off the documented path: img2img with the model's own PLMS scheduler, outputs that are LoRA
/// inputs, pipes or missing folders, and failures of `--json` runs.
@Suite("lora-tool on hostile input")
struct HostileInputCLITests {
    static var model: String { GenerateCLITests.model }
    static let kohya = CLI.fixture("merge/lora/sd1_kohya.safetensors")
    static let second = CLI.fixture("merge/lora/sd1_second.safetensors")
    static var initImage: String {
        URL(fileURLWithPath: model).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("pipeline-families/init.png").path
    }

    @Test("img2img and inpainting with the tiny model's own scheduler (PNDM/PLMS) start part-way without a trap")
    func plmsImg2img() throws {
        let dir = try CLI.makeTemporaryFolder("plms-img2img")
        defer { CLI.removeTemporaryFolder(dir) }
        for (index, extra) in [["--strength", "0.8"], ["--strength", "0.3"], ["--mask", Self.initImage, "--strength", "0.5"]].enumerated() {
            let out = dir.appendingPathComponent("\(index).png").path
            let run = try CLI.run(["generate", "--model", Self.model, "--prompt", "a horse", "--steps", "10",
                                   "--init-image", Self.initImage, "-o", out] + extra)
            #expect(run.status == 0, "\(extra): \(run)")
            #expect(FileManager.default.fileExists(atPath: out))
        }
    }

    @Test("generate --force never writes over a --lora file (one without an extension, as .safetensors is refused by name)")
    func outputIsLoRA() throws {
        let dir = try CLI.makeTemporaryFolder("generate-over-lora")
        defer { CLI.removeTemporaryFolder(dir) }
        let lora = dir.appendingPathComponent("style").path
        try FileManager.default.copyItem(atPath: Self.kohya, toPath: lora)
        let run = try CLI.expectUnchanged([dir.path]) {
            try CLI.run(["generate", "--model", Self.model, "--prompt", "x", "--steps", "2", "--lora", lora, "--force", "-o", lora])
        }
        #expect(run.status == 1, "\(run)")
        #expect(run.stderrLines.count == 1 && run.stderr.contains("the output is one of the inputs"), "\(run.stderr)")
    }

    @Test("generate --force never writes over a LoRA named only by a prompt tag (by path or by library name)")
    func outputIsTaggedLoRA() throws {
        let dir = try CLI.makeTemporaryFolder("generate-over-tagged-lora")
        defer { CLI.removeTemporaryFolder(dir) }
        let lora = dir.appendingPathComponent("style").path
        try FileManager.default.copyItem(atPath: Self.kohya, toPath: lora)
        let library = dir.appendingPathComponent("loras")
        try FileManager.default.createDirectory(at: library, withIntermediateDirectories: true)
        // A library LoRA (a .safetensors name, which generate refuses as an output) reached through a hard link.
        let named = library.appendingPathComponent("pixel.safetensors").path
        try FileManager.default.copyItem(atPath: Self.kohya, toPath: named)
        let linked = dir.appendingPathComponent("linked.png").path
        try FileManager.default.linkItem(atPath: named, toPath: linked)
        let runs: [(arguments: [String], message: String)] = [
            (["--prompt", "x <lora:\(lora):0.5>", "-o", lora], "the output is one of the inputs"),
            (["--prompt", "x", "--negative", "blurry <lora:\(lora)>", "-o", lora], "the output is one of the inputs"),
            (["--prompt", "x <lora:pixel:0.5>", "--lora-dir", library.path, "-o", linked], "the output is the input \(named)"),
        ]
        for (arguments, message) in runs {
            let run = try CLI.expectUnchanged([dir.path]) {
                try CLI.run(["generate", "--model", Self.model, "--steps", "2", "--force"] + arguments)
            }
            #expect(run.status == 1, "\(arguments): \(run)")
            #expect(run.stderrLines.count == 1 && run.stderr.contains(message), "\(arguments): \(run.stderr)")
        }
    }

    @Test("with --force, a pipe at the output is refused by every command and stays a pipe (a device would be lost)")
    func outputIsPipe() throws {
        let dir = try CLI.makeTemporaryFolder("output-pipe")
        defer { CLI.removeTemporaryFolder(dir) }
        let pipe = dir.appendingPathComponent("out").path
        #expect(mkfifo(pipe, 0o644) == 0)
        let runs: [[String]] = [
            ["generate", "--model", Self.model, "--prompt", "x", "--steps", "2", "--force", "-o", pipe],
            ["merge", "--lora", Self.kohya, "--lora", Self.second, "--force", "-o", pipe],
            ["resize", Self.kohya, "--rank", "2", "--force", "-o", pipe],
            ["convert", Self.kohya, "--to", "peft", "--force", "-o", pipe],
        ]
        for arguments in runs {
            let run = try CLI.run(arguments)
            #expect(run.status == 1, "\(arguments): \(run)")
            #expect(run.stderrLines.count == 1 && run.stderr.contains("is a pipe"), "\(arguments): \(run.stderr)")
            var info = stat()
            #expect(lstat(pipe, &info) == 0 && info.st_mode & S_IFMT == S_IFIFO, "\(arguments) replaced the pipe")
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["out"], "\(arguments) left a file")
        }
    }

    @Test("generate into a missing folder is refused before the run, naming the folder")
    func missingFolder() throws {
        let dir = try CLI.makeTemporaryFolder("generate-missing-folder")
        defer { CLI.removeTemporaryFolder(dir) }
        let run = try CLI.run(["generate", "--model", Self.model, "--prompt", "x", "--steps", "2",
                               "-o", dir.appendingPathComponent("nope/out.png").path])
        #expect(run.status == 1, "\(run)")
        #expect(run.stderrLines.count == 1 && run.stderr.contains("does not exist"), "\(run.stderr)")
        #expect(!run.stderr.contains("step "), "the run started: \(run.stderr)")
    }

    @Test("a failing --json run prints one error object on stdout: kind, exit code, message and the library error")
    func jsonErrors() throws {
        let dir = try CLI.makeTemporaryFolder("json-errors")
        defer { CLI.removeTemporaryFolder(dir) }
        let garbage = dir.appendingPathComponent("garbage.safetensors")
        try Data((0..<4000).map { UInt8(truncatingIfNeeded: $0 &* 7919 &+ 13) }).write(to: garbage)
        let out = dir.appendingPathComponent("out.png").path

        let missing = try CLI.run(["generate", "--model", dir.appendingPathComponent("nope").path, "--prompt", "x", "--json", "-o", out])
        #expect(missing.status == 1, "\(missing)")
        var error = try #require(try CLI.jsonObject(missing)["error"] as? [String: Any], "\(missing)")
        #expect(error["kind"] as? String == "bad_input" && error["exit_code"] as? Int == 1)
        #expect((error["message"] as? String)?.contains("nope") == true, "\(error)")
        #expect((error["type"] as? String)?.hasPrefix("PipelineError.") == true, "\(error)")

        let bad = try CLI.run(["merge", "--lora", garbage.path, "--lora", Self.second, "--json", "-o", dir.appendingPathComponent("m.safetensors").path])
        #expect(bad.status == 1, "\(bad)")
        error = try #require(try CLI.jsonObject(bad)["error"] as? [String: Any], "\(bad)")
        #expect((error["causes"] as? [String])?.last?.hasPrefix("SafetensorsError.") == true, "\(error)")

        let usage = try CLI.run(["generate", "--model", Self.model, "--prompt", "x", "--steps", "0", "--json", "-o", out])
        #expect(usage.status == 2, "\(usage)")
        error = try #require(try CLI.jsonObject(usage)["error"] as? [String: Any], "\(usage)")
        #expect(error["kind"] as? String == "usage" && error["exit_code"] as? Int == 2)
        #expect((error["message"] as? String)?.contains("--steps") == true, "\(error)")

        let plain = try CLI.run(["generate", "--model", Self.model, "--prompt", "x", "--steps", "0", "-o", out])
        #expect(plain.status == 2 && plain.stdout.isEmpty, "\(plain)")
    }

    @Test("generate --json reports the model with snake-case keys, as the rest of the report")
    func jsonModelKeys() throws {
        let dir = try CLI.makeTemporaryFolder("json-model-keys")
        defer { CLI.removeTemporaryFolder(dir) }
        let run = try CLI.run(["generate", "--model", Self.model, "--prompt", "x", "--steps", "2", "--json",
                               "-o", dir.appendingPathComponent("out.png").path])
        #expect(run.status == 0, "\(run)")
        let model = try #require(try CLI.jsonObject(run)["model"] as? [String: Any])
        let components = try #require(model["components"] as? [[String: Any]])
        #expect(components.first?["weight_files"] != nil, "\(model)")
        #expect(!run.stdout.contains("weightFiles"))
    }

    @Test("--seed -1 (A1111) and --seed random draw a seed and report it; other negatives are usage errors")
    func randomSeed() throws {
        let dir = try CLI.makeTemporaryFolder("random-seed")
        defer { CLI.removeTemporaryFolder(dir) }
        var seeds: [Int] = []
        for (index, value) in ["-1", "random"].enumerated() {
            let run = try CLI.run(["generate", "--model", Self.model, "--prompt", "x", "--steps", "2", "--seed", value, "--json",
                                   "-o", dir.appendingPathComponent("\(index).png").path])
            #expect(run.status == 0, "\(run)")
            let seed = try #require(try CLI.jsonObject(run)["seed"] as? Int)
            #expect((0..<4_294_967_294).contains(seed))
            seeds.append(seed)
        }
        let bad = try CLI.run(["generate", "--model", Self.model, "--prompt", "x", "--seed", "-2", "-o", dir.appendingPathComponent("x.png").path])
        #expect(bad.status == 2, "\(bad)")
    }

    @Test("a size past 16384 pixels and an init image under 8 pixels are exit 1 with a line that says so")
    func sizes() throws {
        let dir = try CLI.makeTemporaryFolder("sizes")
        defer { CLI.removeTemporaryFolder(dir) }
        let huge = try CLI.run(["generate", "--model", Self.model, "--prompt", "x", "--width", "100000", "--height", "100000",
                                "-o", dir.appendingPathComponent("huge.png").path])
        #expect(huge.status == 1 && huge.stderrLines.count == 1 && huge.stderr.contains("over 16384 pixels"), "\(huge)")
        // The tiny model's VAE halves twice, so it can draw a 4×4 picture: too small for an init image.
        let small = dir.appendingPathComponent("small.png").path
        let made = try CLI.run(["generate", "--model", Self.model, "--prompt", "x", "--steps", "2", "--width", "4", "--height", "4", "-o", small])
        #expect(made.status == 0, "\(made)")
        let run = try CLI.run(["generate", "--model", Self.model, "--prompt", "x", "--init-image", small, "--scheduler", "euler",
                               "-o", dir.appendingPathComponent("out.png").path])
        #expect(run.status == 1 && run.stderrLines.count == 1 && run.stderr.contains("under 8 pixels"), "\(run)")
    }

    @Test("a folder given as --lora, an unreadable --config and a too-large clip skip each get a line naming what is wrong")
    func namedMistakes() throws {
        let dir = try CLI.makeTemporaryFolder("named-mistakes")
        defer { CLI.removeTemporaryFolder(dir) }
        let folder = try CLI.run(["merge", "--lora", dir.path, "--lora", Self.second, "-o", dir.appendingPathComponent("m.safetensors").path])
        #expect(folder.status == 1 && folder.stderrLines.count == 1 && folder.stderr.contains("is a folder"), "\(folder)")

        let config = dir.appendingPathComponent("scheduler_config.json")
        try Data("{ not json".utf8).write(to: config)
        let schedule = try CLI.run(["schedule", "--scheduler", "euler", "--steps", "4", "--config", config.path])
        #expect(schedule.status == 1 && schedule.stderrLines.count == 1 && schedule.stderr.contains(config.path), "\(schedule)")

        let skip = try CLI.run(["generate", "--model", Self.model, "--prompt", "x", "--steps", "2", "--clip-skip", "9",
                                "-o", dir.appendingPathComponent("out.png").path])
        #expect(skip.status == 1 && skip.stderr.contains("A1111 clip skip 9"), "\(skip)")
    }

    @Test("an output or preview named .jpg is a usage error (the file would hold PNG bytes); nothing is written")
    func pngNames() throws {
        let dir = try CLI.makeTemporaryFolder("png-names")
        defer { CLI.removeTemporaryFolder(dir) }
        for extra in [["-o", dir.appendingPathComponent("out.jpg").path],
                      ["-o", dir.appendingPathComponent("out.png").path, "--preview", dir.appendingPathComponent("p.JPEG").path]] {
            let run = try CLI.run(["generate", "--model", Self.model, "--prompt", "x", "--steps", "2"] + extra)
            #expect(run.status == 2 && run.stderr.contains("name it .png"), "\(extra): \(run)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    @Test("a named pipe given as a safetensors file is refused at once (it used to wait for a writer forever)")
    func pipeAsInput() throws {
        let dir = try CLI.makeTemporaryFolder("pipe-input")
        defer { CLI.removeTemporaryFolder(dir) }
        let pipe = dir.appendingPathComponent("x.safetensors").path
        #expect(mkfifo(pipe, 0o644) == 0)
        let out = dir.appendingPathComponent("out").path
        for arguments in [["inspect", pipe], ["merge", "--lora", pipe, "-o", out + ".safetensors"],
                          ["generate", "--model", pipe, "--prompt", "x", "-o", out + ".png"]] {
            let p = try CLI.process(arguments)
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            let deadline = Date().addingTimeInterval(60)
            while p.isRunning, Date() < deadline { usleep(20_000) }
            if p.isRunning {
                p.terminate()
                p.waitUntilExit()
                Issue.record("\(arguments) still running after 60 s")
                continue
            }
            #expect(p.terminationStatus == 1, "\(arguments)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["x.safetensors"])
    }

    @Test("Ctrl-C during a --json generate: exit 130, the error object says interrupted, no PNG and no temporary file")
    func interruptedJSON() throws {
        let dir = try CLI.makeTemporaryFolder("interrupted-json")
        defer { CLI.removeTemporaryFolder(dir) }
        let outURL = dir.appendingPathComponent("stdout"), errURL = dir.appendingPathComponent("stderr")
        let pictures = dir.appendingPathComponent("pictures")
        try FileManager.default.createDirectory(at: pictures, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        let p = try CLI.process(["generate", "--model", Self.model, "--prompt", "x", "--scheduler", "euler", "--steps", "1000",
                                 "--width", "128", "--height", "128", "--json", "-o", pictures.appendingPathComponent("x.png").path])
        p.standardOutput = out
        p.standardError = err
        try p.run()
        // Wait for the first step to be reported, then stop the run.
        let deadline = Date().addingTimeInterval(120)
        while p.isRunning, Date() < deadline,
              !String(decoding: (try? Data(contentsOf: errURL)) ?? Data(), as: UTF8.self).contains("step ") { usleep(10_000) }
        kill(p.processIdentifier, SIGINT)
        p.waitUntilExit()
        try out.close()
        try err.close()
        let run = CLI.Run(status: p.terminationStatus, stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
                          stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
        #expect(run.status == 130, "\(run)")
        let error = try #require(try CLI.jsonObject(run)["error"] as? [String: Any], "\(run)")
        #expect(error["kind"] as? String == "interrupted" && error["exit_code"] as? Int == 130, "\(error)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: pictures.path).isEmpty)
    }
}
