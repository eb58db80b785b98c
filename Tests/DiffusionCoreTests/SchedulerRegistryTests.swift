import Foundation
import Testing
@testable import DiffusionCore

@Suite("Scheduler names and grids")
struct SchedulerRegistryTests {
    @Test("diffusers, InvokeAI and A1111 names resolve to the same preset",
          arguments: [("Euler a", "euler_a", "EulerAncestralDiscreteScheduler"),
                      ("DPM++ 2M", "dpmpp_2m", "DPMSolverMultistepScheduler"),
                      ("LCM", "lcm", "LCMScheduler"),
                      ("DDIM", "ddim", "DDIMScheduler"),
                      ("UniPC", "unipc", "UniPCMultistepScheduler")])
    func namesAgree(a1111: String, invoke: String, diffusers: String) throws {
        let a = try SchedulerRegistry.preset(named: a1111)
        let b = try SchedulerRegistry.preset(named: invoke)
        let c = try SchedulerRegistry.preset(named: diffusers)
        #expect(a == b)
        #expect(a.kind == c.kind)
        #expect(a.kind.rawValue == diffusers)
    }

    @Test("Karras presets set use_karras_sigmas, SDE presets the SDE algorithm")
    func presetOverrides() throws {
        let k = try SchedulerRegistry.preset(named: "DPM++ 2M Karras")
        #expect(k.id == "dpmpp_2m_k")
        #expect(k.overrides.useKarrasSigmas == true)
        let sde = try SchedulerRegistry.preset(named: "dpmpp_2m_sde_k")
        #expect(sde.overrides.algorithmType == .sdeDpmsolverPlusPlus)
        #expect(try SchedulerRegistry.preset(named: "dpm++ 2m karras") == k)
        #expect(throws: SchedulerError.unknownScheduler("Euler b")) { _ = try SchedulerRegistry.preset(named: "Euler b") }
    }

    @Test("ComfyUI names no scheduler here reproduces are refused with the reason, never run as something else")
    func comfyUIRefusals() throws {
        for name in ["uni_pc", "uni_pc_bh2", "uni_pc_bh2_karras", "UNI-PC normal", "euler_exponential", "dpmpp_2m sgm_uniform",
                     "uni_pc_exponential"] {
            do {
                _ = try SchedulerRegistry.preset(named: name)
                Issue.record("\(name) resolved")
            } catch {
                guard case let .unavailableScheduler(refused, reason) = error else { Issue.record("\(name): \(error)"); continue }
                #expect(refused == name && !reason.isEmpty)
                #expect(error.description.hasPrefix("scheduler '\(name)' is not available: "))
            }
        }
        #expect(throws: SchedulerError.self) { _ = try SchedulerRegistry.preset(named: "uni_pc_bh2") }
        let uniPC = try #require(SchedulerRegistry.comfyUIRefusals["uni_pc_bh2"])
        #expect(uniPC.contains("order 3") && uniPC.hasSuffix("Use unipc for diffusers' UniPC"))
        // The names around them still resolve; a name nobody uses is still unknown.
        #expect(try SchedulerRegistry.preset(named: "euler_karras").id == "euler_k")
        #expect(try SchedulerRegistry.preset(named: "unipc").id == "unipc" && SchedulerRegistry.preset(named: "UniPC").id == "unipc")
        #expect(throws: SchedulerError.unknownScheduler("euler_simple")) { _ = try SchedulerRegistry.preset(named: "euler_simple") }
    }

    @Test("every preset builds from the SD 1.5 and SDXL configs")
    func everyPresetBuilds() throws {
        var ids = Set<String>()
        for p in SchedulerRegistry.presets {
            #expect(ids.insert(p.id).inserted, "duplicate id \(p.id)")
            for cfg in [SchedulerConfig.stableDiffusion15, .stableDiffusionXL] {
                let s = try p.make(config: cfg, request: ScheduleRequest(steps: 8))
                #expect(!s.timesteps.isEmpty)
            }
        }
        for kind in SchedulerKind.allCases { #expect((try? SchedulerRegistry.preset(named: kind.rawValue).kind) == kind) }
    }

    // Grids from NUMERICS.md Appendix A.1 (diffusers 0.42.1), independent of the fixture files.
    @Test("PLMS evaluates the second timestep twice")
    func plmsGrid() throws {
        let s = try PNDMScheduler(config: .stableDiffusion15, request: ScheduleRequest(steps: 10))
        #expect(s.timesteps == [901, 801, 801, 701, 601, 501, 401, 301, 201, 101, 1])
    }

    @Test("DPM++ timesteps use the N+1 grid and Karras rounds them")
    func dpmGrids() throws {
        let s = try DPMSolverMultistepScheduler(config: .stableDiffusion15, request: ScheduleRequest(steps: 10))
        #expect(s.timesteps == [999, 899, 799, 699, 599, 500, 400, 300, 200, 100])
        var k = SchedulerConfig.stableDiffusion15
        k.useKarrasSigmas = true
        let sk = try DPMSolverMultistepScheduler(config: k, request: ScheduleRequest(steps: 10))
        #expect(sk.timesteps == [999, 916, 815, 687, 523, 327, 146, 41, 7, 0])
        let xl = try DPMSolverMultistepScheduler(config: .stableDiffusionXL, request: ScheduleRequest(steps: 10))
        #expect(xl.timesteps == [901, 811, 721, 631, 541, 451, 361, 271, 181, 91])
    }

    @Test("Euler SDXL init_noise_sigma uses sqrt(σ_max² + 1) for leading spacing")
    func eulerSDXLInitSigma() throws {
        let s = try EulerDiscreteScheduler(config: .stableDiffusionXL, request: ScheduleRequest(steps: 10))
        #expect(abs(s.initNoiseSigma - 8.45007) < 1e-4)
        #expect(abs(s.sigmas[0] - 8.39069) < 1e-4)
    }

    @Test("LCM timestep selection", arguments: [(1, 1.0, [999]), (2, 1.0, [999, 499]), (4, 1.0, [999, 759, 499, 259]),
                                                (8, 1.0, [999, 879, 759, 639, 499, 379, 259, 139]), (4, 0.5, [499, 379, 259, 139])])
    func lcmTimesteps(steps: Int, strength: Double, expected: [Int]) throws {
        #expect(try LCMScheduler.timesteps(trainSteps: 1000, originalSteps: 50, steps: steps, strength: strength) == expected)
    }

    @Test("trailing spacing reproduces NumPy's extra element for N = 61")
    func trailingQuirk() throws {
        let s = try DDIMScheduler(config: { var c = SchedulerConfig.stableDiffusion15; c.timestepSpacing = .trailing; return c }(),
                                  request: ScheduleRequest(steps: 61))
        #expect(s.timesteps.count == 62)
        #expect(s.timesteps.last == -1)
    }

    @Test("img2img begin index follows get_timesteps")
    func img2img() throws {
        #expect(try TimestepGrid.img2imgBeginIndex(steps: 10, strength: 0.6, order: 1) == 4)
        #expect(try TimestepGrid.img2imgBeginIndex(steps: 10, strength: 0.6, order: 2) == 8)
        #expect(try TimestepGrid.img2imgBeginIndex(steps: 10, strength: 1, order: 1) == 0)
    }

    @Test("LCM boundary scalings")
    func lcmScalings() throws {
        let s = try LCMScheduler(config: .stableDiffusion15, request: ScheduleRequest(steps: 4))
        let (skip999, out999) = s.boundaryScalings(timestep: 999)
        #expect(abs(skip999 - 2.505e-9) < 1e-11)
        #expect(abs(out999 - 1) < 1e-6)
        let (skip0, out0) = s.boundaryScalings(timestep: 0)
        #expect(skip0 == 1 && out0 == 0)
    }

    @Test("schedulers are Sendable value types")
    func sendable() throws {
        let s: any Scheduler & Sendable = try EulerDiscreteScheduler(config: .stableDiffusion15, request: ScheduleRequest(steps: 4))
        var copy = s as! EulerDiscreteScheduler
        var rng = NoRandomSource()
        let x = try Tensor(shape: [1, 1, 1, 2], repeating: 1)
        _ = try copy.step(modelOutput: x, sample: x, random: &rng)
        #expect(copy.stepIndex == 1)
        #expect((s as! EulerDiscreteScheduler).stepIndex == 0)
    }
}
