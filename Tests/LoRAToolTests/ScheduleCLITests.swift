import Foundation
import Testing

/// `lora-tool schedulers` and `lora-tool schedule`, run through the built binary (see `CLI`).
/// Expected names come from `Docs/schedulers.md`; expected timesteps and σ from the diffusers reference runs in
/// `Tests/DiffusionCoreTests/Fixtures/schedulers/`.
@Suite("lora-tool schedulers and schedule")
struct ScheduleCLITests {
    /// Every preset of `Docs/schedulers.md`: id, A1111 label ("" for none), diffusers class, approximate (≈).
    static let presets: [(id: String, a1111: String, diffusersClass: String, approximate: Bool)] = [
        ("euler", "Euler", "EulerDiscreteScheduler", false),
        ("euler_k", "Euler Karras", "EulerDiscreteScheduler", false),
        ("euler_a", "Euler a", "EulerAncestralDiscreteScheduler", false),
        ("heun", "Heun", "HeunDiscreteScheduler", false),
        ("heun_k", "Heun Karras", "HeunDiscreteScheduler", false),
        ("lms", "LMS", "LMSDiscreteScheduler", false),
        ("lms_k", "LMS Karras", "LMSDiscreteScheduler", false),
        ("kdpm_2", "DPM2", "KDPM2DiscreteScheduler", false),
        ("kdpm_2_k", "DPM2 Karras", "KDPM2DiscreteScheduler", false),
        ("kdpm_2_a", "DPM2 a", "KDPM2AncestralDiscreteScheduler", false),
        ("kdpm_2_a_k", "DPM2 a Karras", "KDPM2AncestralDiscreteScheduler", false),
        ("dpmpp_2m", "DPM++ 2M", "DPMSolverMultistepScheduler", false),
        ("dpmpp_2m_k", "DPM++ 2M Karras", "DPMSolverMultistepScheduler", false),
        ("dpmpp_2m_sde", "DPM++ 2M SDE", "DPMSolverMultistepScheduler", true),
        ("dpmpp_2m_sde_k", "DPM++ 2M SDE Karras", "DPMSolverMultistepScheduler", true),
        ("dpmpp_3m", "", "DPMSolverMultistepScheduler", false),
        ("dpmpp_3m_k", "", "DPMSolverMultistepScheduler", false),
        ("dpmpp_3m_sde", "DPM++ 3M SDE", "DPMSolverMultistepScheduler", true),
        ("dpmpp_3m_sde_k", "DPM++ 3M SDE Karras", "DPMSolverMultistepScheduler", true),
        ("dpmpp_2s", "DPM++ 2S a", "DPMSolverSinglestepScheduler", true),
        ("dpmpp_2s_k", "DPM++ 2S a Karras", "DPMSolverSinglestepScheduler", true),
        ("dpmpp_sde", "DPM++ SDE", "DPMSolverSDEScheduler", true),
        ("dpmpp_sde_k", "DPM++ SDE Karras", "DPMSolverSDEScheduler", true),
        ("unipc", "UniPC", "UniPCMultistepScheduler", false),
        ("unipc_k", "UniPC Karras", "UniPCMultistepScheduler", false),
        ("deis", "", "DEISMultistepScheduler", false),
        ("deis_k", "", "DEISMultistepScheduler", false),
        ("ddim", "DDIM", "DDIMScheduler", false),
        ("ddpm", "", "DDPMScheduler", false),
        ("pndm", "PLMS", "PNDMScheduler", false),
        ("lcm", "LCM", "LCMScheduler", false),
        ("tcd", "TCD", "TCDScheduler", false),
    ]

    /// One case of a diffusers reference file: `referenceCase("EulerDiscreteScheduler", "sdxl")`.
    static func referenceCase(_ diffusersClass: String, _ name: String) throws -> [String: Any] {
        let url = CLI.packageRoot.appendingPathComponent("Tests/DiffusionCoreTests/Fixtures/schedulers/\(diffusersClass).json")
        let file = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let cases = try #require(file["cases"] as? [[String: Any]])
        return try #require(cases.first { $0["name"] as? String == name }, "no case \(name) in \(url.path)")
    }

    static func floats(_ value: Any?) throws -> [Double] {
        try #require(value as? [Any], "not an array: \(String(describing: value))").map {
            try #require(($0 as? NSNumber)?.doubleValue, "not a number: \($0)")
        }
    }

    static func expectClose(_ got: [Double], _ want: [Double], relative: Double = 1e-5,
                            sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(got.count == want.count, "\(got) vs \(want)", sourceLocation: sourceLocation)
        for (g, w) in zip(got, want) {
            #expect(abs(g - w) <= relative * max(1, abs(w)), "\(got) vs \(want)", sourceLocation: sourceLocation)
        }
    }

    /// The TIMESTEP column of `schedule`'s text table.
    static func timestepColumn(_ stdout: String) throws -> [Double] {
        let lines = stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let header = try #require(lines.firstIndex { $0.contains("TIMESTEP") }, "no table header in:\n\(stdout)")
        return try lines[(header + 1)...].filter { !$0.isEmpty && !$0.hasPrefix("final") }.map { line in
            let columns = line.split(separator: " ")
            return try #require(columns.count >= 2 ? Double(columns[1]) : nil, "bad row \(line)")
        }
    }

    // MARK: - schedulers

    @Test("schedulers: one row per preset with its A1111 label and diffusers class; LCM and TCD listed")
    func schedulersTable() throws {
        let r = try CLI.run(["schedulers"])
        #expect(r.status == 0, "\(r)")
        #expect(r.stderr.isEmpty)
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let header = try #require(lines.first)
        #expect(header.split(separator: " ") == ["ID", "A1111", "COMFYUI", "DIFFUSERS", "CLASS", "+", "OVERRIDES"])
        // Columns by the header's character offsets ("≈" is one character, as the padding counts them).
        let a1111Column = try #require(header.range(of: "A1111")).lowerBound
        let comfyColumn = try #require(header.range(of: "COMFYUI")).lowerBound
        let classColumn = try #require(header.range(of: "DIFFUSERS CLASS")).lowerBound
        let comfyOffset = header.distance(from: header.startIndex, to: comfyColumn)
        let a1111Offset = header.distance(from: header.startIndex, to: a1111Column)
        let classOffset = header.distance(from: header.startIndex, to: classColumn)
        let rows = lines.dropFirst().prefix { !$0.isEmpty }
        #expect(rows.count == Self.presets.count, "\(r.stdout)")
        var seen: [String: (label: String, cls: String)] = [:]
        for row in rows {
            let chars = Array(row)
            guard chars.count > classOffset else { Issue.record("short row: \(row)"); continue }
            let id = String(chars[..<a1111Offset]).trimmingCharacters(in: .whitespaces)
            let label = String(chars[a1111Offset..<comfyOffset]).trimmingCharacters(in: .whitespaces)
            let cls = String(chars[classOffset...]).split(separator: " ").first.map(String.init) ?? ""
            seen[id] = (label, cls)
        }
        for p in Self.presets {
            let row = try #require(seen[p.id], "no row for \(p.id)")
            let label = p.a1111.isEmpty ? "-" : p.a1111 + (p.approximate ? " ≈" : "")
            #expect(row.label == label, "\(p.id)")
            #expect(row.cls == p.diffusersClass, "\(p.id)")
        }
        #expect(seen["lcm"]?.cls == "LCMScheduler" && seen["tcd"]?.cls == "TCDScheduler")
        #expect(r.stdout.contains("euler_k  ") && r.stdout.contains("EulerDiscreteScheduler (use_karras_sigmas=true)"))
        #expect(r.stdout.contains("PNDMScheduler (skip_prk_steps=true)"))
        #expect(r.stdout.contains("≈ the A1111 sampler uses a different noise process"))
    }

    @Test("schedulers --json: every preset with id, A1111 labels, diffusers class, overrides, order")
    func schedulersJSON() throws {
        let r = try CLI.run(["schedulers", "--json"])
        #expect(r.status == 0, "\(r)")
        #expect(r.stderr.isEmpty)
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        #expect(entries.compactMap { $0["id"] as? String } == Self.presets.map(\.id))
        for p in Self.presets {
            let e = try #require(entries.first { $0["id"] as? String == p.id }, "no entry \(p.id)")
            #expect(e["diffusers_class"] as? String == p.diffusersClass, "\(p.id)")
            #expect(e["a1111"] as? [String] == (p.a1111.isEmpty ? [] : [p.a1111]), "\(p.id)")
            #expect(e["approximate"] as? Bool == p.approximate, "\(p.id)")
            #expect(e["overrides"] is [String: Any], "\(p.id)")
            #expect((e["order"] as? Int).map { $0 >= 1 } == true, "\(p.id)")
        }
        let karras = try #require(entries.first { $0["id"] as? String == "dpmpp_2m_k" }?["overrides"] as? [String: Any])
        #expect(karras["use_karras_sigmas"] as? Bool == true)
        #expect(entries.first { $0["id"] as? String == "heun" }?["order"] as? Int == 2)
    }

    // MARK: - schedule

    @Test("schedule --scheduler lcm --steps 4: timesteps 999 759 499 259 (SD 1.5 config), as text and as JSON")
    func lcmFourSteps() throws {
        let reference = try Self.referenceCase("LCMScheduler", "n4")
        let want = try Self.floats(reference["timesteps"])
        #expect(want == [999, 759, 499, 259])

        let text = try CLI.run(["schedule", "--scheduler", "lcm", "--steps", "4"])
        #expect(text.status == 0, "\(text)")
        #expect(text.stderr.isEmpty)
        #expect(text.stdout.hasPrefix("Scheduler:   lcm (LCMScheduler, A1111 \"LCM\")\n"))
        #expect(text.stdout.contains("Model calls: 4\n"))
        #expect(try Self.timestepColumn(text.stdout) == want)

        let json = try CLI.run(["schedule", "--scheduler", "lcm", "--steps", "4", "--json"])
        #expect(json.status == 0, "\(json)")
        let o = try CLI.jsonObject(json)
        #expect(try Self.floats(o["timesteps"]) == want)
        #expect(o["scheduler"] as? String == "lcm")
        #expect(o["diffusers_class"] as? String == "LCMScheduler")
        #expect(o["model_calls"] as? Int == 4 && o["steps"] as? Int == 4 && o["begin_index"] as? Int == 0)
        #expect((o["init_noise_sigma"] as? NSNumber)?.doubleValue == (reference["init_noise_sigma"] as? NSNumber)?.doubleValue)
    }

    @Test("schedule accepts the A1111 label and the diffusers class as well as the id")
    func nameForms() throws {
        let byID = try CLI.run(["schedule", "--scheduler", "dpmpp_2m_k", "--steps", "20", "--json"])
        let byLabel = try CLI.run(["schedule", "--scheduler", "DPM++ 2M Karras", "--steps", "20", "--json"])
        #expect(byID.status == 0 && byLabel.status == 0, "\(byID)\n\(byLabel)")
        #expect(byID.stdout == byLabel.stdout)
        #expect(try CLI.jsonObject(byID)["scheduler"] as? String == "dpmpp_2m_k")
        let byClass = try CLI.run(["schedule", "--scheduler", "LCMScheduler", "--steps", "4", "--json"])
        #expect(byClass.status == 0, "\(byClass)")
        #expect(try Self.floats(CLI.jsonObject(byClass)["timesteps"]) == [999, 759, 499, 259])
    }

    @Test("schedule --strength: LCM selects its own timesteps; Euler starts part-way at the diffusers begin index")
    func strength() throws {
        let lcmReference = try Self.referenceCase("LCMScheduler", "strength0.6")
        let lcm = try CLI.run(["schedule", "--scheduler", "lcm", "--steps", "4", "--strength", "0.6", "--json"])
        #expect(lcm.status == 0, "\(lcm)")
        let lo = try CLI.jsonObject(lcm)
        #expect(try Self.floats(lo["timesteps"]) == Self.floats(lcmReference["timesteps"]))
        #expect(try Self.floats(lo["timesteps"]) == [599, 459, 299, 159])
        #expect(lo["begin_index"] as? Int == 0 && lo["model_calls"] as? Int == 4)
        #expect((lo["strength"] as? NSNumber)?.doubleValue == 0.6)

        let eulerReference = try Self.referenceCase("EulerDiscreteScheduler", "img2img0.6")
        let begin = try #require(eulerReference["begin_index"] as? Int)
        let euler = try CLI.run(["schedule", "--scheduler", "euler", "--steps", "10", "--strength", "0.6", "--json"])
        #expect(euler.status == 0, "\(euler)")
        let eo = try CLI.jsonObject(euler)
        #expect(eo["begin_index"] as? Int == begin)
        #expect(eo["model_calls"] as? Int == 10 - begin)
        #expect(try Self.floats(eo["timesteps"]) == Array(Self.floats(eulerReference["timesteps"]).dropFirst(begin)))
        Self.expectClose(try Self.floats(eo["sigmas"]), Array(try Self.floats(eulerReference["sigmas"]).dropFirst(begin)))

        let text = try CLI.run(["schedule", "--scheduler", "euler", "--steps", "10", "--strength", "0.6"])
        #expect(text.status == 0, "\(text)")
        #expect(text.stdout.contains("Steps:       10, strength 0.6, first model call \(begin)\n"))
        #expect(try Self.timestepColumn(text.stdout) == Array(Self.floats(eulerReference["timesteps"]).dropFirst(begin)))
    }

    @Test("schedule --config: a model's scheduler_config.json (SDXL, leading spacing) changes the grid as in diffusers")
    func config() throws {
        let reference = try Self.referenceCase("EulerDiscreteScheduler", "sdxl")
        let dir = try CLI.makeTemporaryFolder("schedule-config")
        defer { CLI.removeTemporaryFolder(dir) }
        let configURL = dir.appendingPathComponent("scheduler/scheduler_config.json")
        try FileManager.default.createDirectory(at: configURL.deletingLastPathComponent(), withIntermediateDirectories: true)
        let config = try #require(reference["config"] as? [String: Any])
        #expect(config["timestep_spacing"] as? String == "leading")
        try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys]).write(to: configURL)
        let steps = try #require(reference["steps"] as? Int)

        let r = try CLI.expectUnchanged([configURL.path]) {
            try CLI.run(["schedule", "--scheduler", "euler", "--steps", String(steps), "--config", configURL.path, "--json"])
        }
        #expect(r.status == 0, "\(r)")
        #expect(r.stderr.isEmpty)
        let o = try CLI.jsonObject(r)
        #expect(try Self.floats(o["timesteps"]) == Self.floats(reference["timesteps"]))
        Self.expectClose(try Self.floats(o["sigmas"]), try Self.floats(reference["sigmas"]))
        Self.expectClose([try #require((o["init_noise_sigma"] as? NSNumber)?.doubleValue)],
                         [try #require((reference["init_noise_sigma"] as? NSNumber)?.doubleValue)])

        // The SD 1.5 default (linspace) gives another grid: the config was really used.
        let plain = try CLI.run(["schedule", "--scheduler", "euler", "--steps", String(steps), "--json"])
        #expect(try Self.floats(CLI.jsonObject(plain)["timesteps"]).first == 999)

        // Text output: a σ column and the final σ.
        let text = try CLI.run(["schedule", "--scheduler", "euler", "--steps", String(steps), "--config", configURL.path])
        #expect(text.status == 0, "\(text)")
        #expect(try Self.timestepColumn(text.stdout) == Self.floats(reference["timesteps"]))
        #expect(text.stdout.contains("TIMESTEP          SIGMA\n"))
        #expect(text.stdout.contains("final σ:"))
    }

    @Test("schedule: a bad config file or an impossible schedule is bad input: exit 1, one line on stderr")
    func badInput() throws {
        let dir = try CLI.makeTemporaryFolder("schedule-bad")
        defer { CLI.removeTemporaryFolder(dir) }
        let bad = dir.appendingPathComponent("scheduler_config.json")
        try Data(#"{"beta_schedule": "wobbly", "num_train_timesteps": 1000}"#.utf8).write(to: bad)
        let cases: [([String], String)] = [
            (["--scheduler", "euler", "--steps", "4", "--config", bad.path], "beta_schedule"),
            (["--scheduler", "euler", "--steps", "4", "--config", dir.appendingPathComponent("missing.json").path], "missing.json"),
            (["--scheduler", "euler", "--steps", "2000"], "num_train_timesteps"),
            (["--scheduler", "lcm", "--steps", "100"], "original_inference_steps"),
        ]
        for (arguments, needle) in cases {
            let r = try CLI.run(["schedule"] + arguments)
            #expect(r.status == 1, "\(arguments): \(r)")
            #expect(r.stdout.isEmpty, "\(arguments)")
            #expect(r.stderrLines.count == 1, "\(arguments): \(r.stderr)")
            #expect(r.stderr.hasPrefix("lora-tool: ") && r.stderr.contains(needle), "\(arguments): \(r.stderr)")
        }
    }

    @Test("schedule: unknown scheduler, --steps 0, --strength 1.5 are usage errors: exit 2, the reason first on stderr")
    func usageErrors() throws {
        let cases: [([String], String)] = [
            (["--scheduler", "nope", "--steps", "4"], "Error: unknown scheduler 'nope'"),
            (["--scheduler", "lcm", "--steps", "0"], "Error: --steps must be at least 1"),
            (["--scheduler", "lcm", "--steps", "4", "--strength", "1.5"], "Error: --strength must be in (0, 1], got 1.5"),
            (["--scheduler", "euler", "--steps", "4", "--strength", "0"], "Error: --strength must be in (0, 1]"),
            (["--steps", "4"], "Error: Missing expected argument '--scheduler <scheduler>'"),
        ]
        for (arguments, message) in cases {
            let r = try CLI.run(["schedule"] + arguments)
            #expect(r.status == 2, "\(arguments): \(r)")
            #expect(r.stdout.isEmpty, "\(arguments)")
            // The message is one line; ArgumentParser's usage lines follow it.
            #expect(r.stderrLines.first.map { $0.hasPrefix(message) } == true, "\(arguments): \(r.stderr)")
            #expect(r.stderrLines.contains { $0.hasPrefix("Usage: lora-tool schedule") }, "\(arguments): \(r.stderr)")
        }
    }
}
