import ArgumentParser
import DiffusionCore
import Foundation

/// `lora-tool schedule`: the timesteps and σ a run would use.
struct ScheduleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule",
        abstract: "Show the timesteps and sigmas a scheduler would use for a run.",
        discussion: """
        Without --config the Stable Diffusion 1.5 scheduler_config.json is used. With --strength the run \
        starts part-way, as img2img does (LCM and TCD apply the strength to their own timestep selection).
        """)

    @Option(help: "Scheduler name: InvokeAI id (dpmpp_2m_k), A1111 label (\"DPM++ 2M Karras\"), ComfyUI sampler and scheduler (dpmpp_2m_karras, \"dpmpp_2m karras\", euler_ancestral) or diffusers class.")
    var scheduler: String

    @Option(parsing: .unconditional, help: "Number of inference steps.")
    var steps: Int

    @Option(help: "A diffusers scheduler_config.json, or a model folder holding scheduler/scheduler_config.json (default: the SD 1.5 one).")
    var config: String?

    @Option(parsing: .unconditional, help: "img2img strength in (0, 1].")
    var strength: Double?

    @Flag(help: "Print JSON on stdout.")
    var json = false

    func validate() throws {
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1") }
        if let s = strength, !(s > 0 && s <= 1) { throw ValidationError("--strength must be in (0, 1], got \(s)") }
        do { _ = try SchedulerRegistry.preset(named: scheduler) } catch {
            throw ValidationError("\(error)")
        }
    }

    struct Report: Encodable {
        let scheduler: String
        let diffusersClass: String
        let a1111: [String]
        let steps: Int
        let strength: Double?
        let beginIndex: Int
        let modelCalls: Int
        let initNoiseSigma: Float
        let timesteps: [Float]
        let sigmas: [Float]?

        enum CodingKeys: String, CodingKey {
            case scheduler, a1111, steps, strength, timesteps, sigmas
            case diffusersClass = "diffusers_class"
            case beginIndex = "begin_index"
            case modelCalls = "model_calls"
            case initNoiseSigma = "init_noise_sigma"
        }
    }

    /// The `--config` file: the path itself, or the scheduler config inside a model folder.
    /// Prints the reason and exits with status 1 when there is none.
    var configFile: URL? {
        get throws {
            guard let config else { return nil }
            let url = URL(fileURLWithPath: config)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: config, isDirectory: &isDirectory) else {
                printError("\(config): no such file")
                throw badInputExitCode
            }
            guard isDirectory.boolValue else { return url }
            for candidate in ["scheduler/scheduler_config.json", "scheduler_config.json"] {
                let file = url.appendingPathComponent(candidate)
                if FileManager.default.fileExists(atPath: file.path) { return file }
            }
            printError("\(config): a folder without scheduler/scheduler_config.json or scheduler_config.json; give the config file")
            throw badInputExitCode
        }
    }

    func run() throws {
        let configFile = try self.configFile
        do {
            let report = try makeReport(configFile: configFile)
            if json {
                try printJSON(encoding: report) {
                    $0.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
                }
            } else {
                try emit(text(report))
            }
        } catch let error as SchedulerError {
            // A config that cannot be read is named; the scheduler's own errors name the scheduler.
            if case .invalidConfig = error, let configFile { printError("\(configFile.path): \(error)", error) } else { printError("\(error)", error) }
            throw badInputExitCode
        }
    }

    private func makeReport(configFile: URL?) throws(SchedulerError) -> Report {
        let preset = try SchedulerRegistry.preset(named: scheduler)
        let base = try configFile.map { url throws(SchedulerError) in try SchedulerConfig.load(contentsOf: url) }
            ?? .stableDiffusion15
        let ownStrength = preset.kind == .lcm || preset.kind == .tcd
        let request = ScheduleRequest(steps: steps, strength: ownStrength ? (strength ?? 1) : 1)
        let s = try preset.make(config: base, request: request)
        var begin = 0
        if let strength, !ownStrength {
            begin = try s.img2imgBeginIndex(strength: strength)
        }
        let ts = Array(s.timesteps.dropFirst(begin))
        let sig: [Float]? = s.sigmas.isEmpty ? nil : Array(s.sigmas.dropFirst(begin))
        return Report(scheduler: preset.id, diffusersClass: preset.kind.rawValue, a1111: preset.a1111, steps: steps,
                      strength: strength, beginIndex: begin, modelCalls: ts.count, initNoiseSigma: s.initNoiseSigma,
                      timesteps: ts, sigmas: sig)
    }

    private func text(_ r: Report) -> String {
        var out = "Scheduler:   \(r.scheduler) (\(r.diffusersClass)\(r.a1111.isEmpty ? "" : ", A1111 \"" + r.a1111.joined(separator: "\", \"") + "\""))\n"
        out += "Steps:       \(r.steps)"
        if let s = r.strength { out += ", strength \(s), first model call \(r.beginIndex)" }
        out += "\nModel calls: \(r.modelCalls)\n"
        if r.strength == nil { out += "Init σ:      \(r.initNoiseSigma)\n" }
        out += "\n   #   TIMESTEP" + (r.sigmas == nil ? "" : "          SIGMA") + "\n"
        for (k, t) in r.timesteps.enumerated() {
            var line = String(repeating: " ", count: max(0, 4 - String(k).count)) + "\(k)"
            let ts = t == t.rounded() ? String(Int(t)) : String(format: "%.4f", t)
            line += String(repeating: " ", count: max(1, 11 - ts.count)) + ts
            if let sig = r.sigmas, k < sig.count {
                let ss = String(format: "%.6g", sig[k])
                line += String(repeating: " ", count: max(1, 15 - ss.count)) + ss
            }
            out += line + "\n"
        }
        if let sig = r.sigmas, sig.count > r.timesteps.count {
            out += "final σ:" + String(repeating: " ", count: 18) + String(format: "%.6g", sig[sig.count - 1]) + "\n"
        }
        return out
    }
}
