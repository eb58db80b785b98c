import Foundation
import Testing
@testable import DiffusionCore

/// The end-to-end vectors of NUMERICS.md Appendix A.2 (diffusers 0.42.1, torch 2.15 CPU): SD 1.5 config,
/// z = [1, −0.5, 0.25, 2] as (1, 4, 1, 1), x = z·init_noise_sigma, m = 0.5·x_in·cos(t/1000) + 0.05.
/// Independent of the fixture files; values are given to 7 significant digits.
@Suite("Scheduler end-to-end vectors (NUMERICS.md A.2)")
struct SchedulerEndToEndTests {
    static let cases: [(String, @Sendable (inout SchedulerConfig) -> Void, Int, [Float])] = [
        ("DDIMScheduler", { _ in }, 10, [2.68155, -1.654284, 0.5136327, 5.572106]),
        ("PNDMScheduler", { _ in }, 10, [2.391544, -1.474843, 0.4583502, 4.969136]),
        ("EulerDiscreteScheduler", { _ in }, 10, [4.110413, -2.53059, 0.7899113, 8.537748]),
        ("EulerDiscreteScheduler", { $0.timestepSpacing = .leading }, 10, [2.641894, -1.632192, 0.5048506, 5.491285]),
        ("EulerDiscreteScheduler", { $0.useKarrasSigmas = true }, 10, [4.231864, -2.60686, 0.812502, 8.791014]),
        ("HeunDiscreteScheduler", { _ in }, 10, [3.385527, -2.087847, 0.6488389, 7.034441]),
        ("LMSDiscreteScheduler", { _ in }, 10, [3.815894, -2.34718, 0.7343564, 7.924608]),
        ("KDPM2DiscreteScheduler", { _ in }, 10, [3.470889, -2.13949, 0.6656997, 7.211144]),
        ("DPMSolverMultistepScheduler", { _ in }, 10, [3.582975, -2.208132, 0.6874214, 7.443714]),
        ("DPMSolverMultistepScheduler", { $0.useKarrasSigmas = true }, 10, [3.323428, -2.047844, 0.6377917, 6.904275]),
        ("DPMSolverMultistepScheduler", { $0.solverType = .heun }, 10, [3.548635, -2.187211, 0.6807117, 7.372533]),
        ("DPMSolverMultistepScheduler", { $0.solverOrder = 3 }, 10, [3.621943, -2.230146, 0.6958981, 7.523335]),
        ("DPMSolverMultistepScheduler", { $0.timestepSpacing = .leading }, 10, [2.396952, -1.480757, 0.4580971, 4.98209]),
        ("DPMSolverSinglestepScheduler", { _ in }, 10, [3.72292, -2.294889, 0.7140151, 7.734793]),
        ("UniPCMultistepScheduler", { _ in }, 10, [3.534158, -2.178504, 0.6778269, 7.342598]),
        ("UniPCMultistepScheduler", { $0.solverType = .bh1; $0.finalSigmasType = .sigmaMin }, 10, [3.536742, -2.178046, 0.6793476, 7.346603]),
        ("UniPCMultistepScheduler", { $0.solverOrder = 3 }, 10, [3.548602, -2.186883, 0.6808581, 7.372257]),
        ("DEISMultistepScheduler", { _ in }, 10, [3.739532, -2.301138, 0.7191966, 7.766645]),
        ("LCMScheduler", { _ in }, 1, [9.963776, -6.077987, 1.942895, 20.65829]),
    ]

    static func run(_ kind: SchedulerKind, _ config: SchedulerConfig, steps: Int, gamma: Double? = nil) throws -> [Float] {
        var s = try kind.make(config: config, request: ScheduleRequest(steps: steps))
        if let gamma, var t = s as? TCDScheduler { t.gamma = gamma; s = t }
        var x = try Tensor(shape: [1, 4, 1, 1], scalars: [1, -0.5, 0.25, 2]) * s.initNoiseSigma
        var rng = NoRandomSource()
        while let t = s.currentTimestep {
            x = try s.step(modelOutput: fakeModel(s.scaleModelInput(x), timestep: t), sample: x, random: &rng)
        }
        return x.scalars
    }

    @Test("final latents match diffusers", arguments: 0..<cases.count)
    func finalLatents(index: Int) throws {
        let (name, edit, steps, expected) = Self.cases[index]
        var config = SchedulerConfig.stableDiffusion15
        edit(&config)
        let got = try Self.run(try #require(SchedulerKind(rawValue: name)), config, steps: steps)
        for (k, (g, e)) in zip(got, expected).enumerated() {
            #expect(abs(g - e) <= 2e-6 * max(1, abs(e)), "\(name) #\(index) element \(k): expected \(e), got \(g)")
        }
    }

    @Test("TCD with γ = 0 matches diffusers at 1 and 4 steps")
    func tcd() throws {
        let one = try Self.run(.tcd, .stableDiffusion15, steps: 1, gamma: 0)
        let four = try Self.run(.tcd, .stableDiffusion15, steps: 4, gamma: 0)
        for (g, e) in zip(one, [9.968886, -6.077889, 1.945499, 20.66674] as [Float]) { #expect(abs(g - e) <= 2e-6 * max(1, abs(e))) }
        for (g, e) in zip(four, [4.969639, -3.050702, 0.9594685, 10.31653] as [Float]) { #expect(abs(g - e) <= 2e-6 * max(1, abs(e))) }
    }
}
