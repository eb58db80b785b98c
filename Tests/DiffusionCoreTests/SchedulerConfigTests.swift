import Foundation
import Testing
@testable import DiffusionCore

@Suite("Scheduler config and errors")
struct SchedulerConfigTests {
    let sd15 = SchedulerConfig.stableDiffusion15

    @Test("decodes a diffusers config, ignoring unknown keys and accepting -Infinity")
    func decodesDiffusersConfig() throws {
        let json = """
        {"_class_name": "DPMSolverMultistepScheduler", "_diffusers_version": "0.21.0", "beta_end": 0.012,
         "beta_schedule": "scaled_linear", "beta_start": 0.00085, "lambda_min_clipped": -Infinity,
         "num_train_timesteps": 1000, "solver_order": 2, "algorithm_type": "sde-dpmsolver++",
         "use_karras_sigmas": true, "trained_betas": null, "some_future_key": [1, 2, {"x": 3}],
         "variance_type": null, "disable_corrector": [0, 2]}
        """
        let c = try SchedulerConfig.decode(from: Data(json.utf8))
        #expect(c.className == "DPMSolverMultistepScheduler")
        #expect(c.lambdaMinClipped == -.infinity)
        #expect(c.algorithmType == .sdeDpmsolverPlusPlus)
        #expect(c.useKarrasSigmas == true)
        #expect(c.trainedBetas == nil)
        #expect(c.disableCorrector == [0, 2])
        #expect(c.betaSchedule == .scaledLinear)
        #expect(c.clipSample == nil)
    }

    @Test("an unknown beta_schedule is a typed error naming the key")
    func unknownBetaSchedule() {
        let json = #"{"beta_schedule": "cosine_v9"}"#
        #expect {
            _ = try SchedulerConfig.decode(from: Data(json.utf8))
        } throws: { error in
            guard case let SchedulerError.invalidConfig(key, _)? = error as? SchedulerError else { return false }
            return key == "beta_schedule"
        }
    }

    @Test("a value of the wrong type is a typed error naming the key")
    func wrongType() {
        #expect {
            _ = try SchedulerConfig.decode(from: Data(#"{"num_train_timesteps": "many"}"#.utf8))
        } throws: { error in
            guard case let SchedulerError.invalidConfig(key, _)? = error as? SchedulerError else { return false }
            return key == "num_train_timesteps"
        }
        #expect(throws: SchedulerError.self) { _ = try SchedulerConfig.decode(from: Data("not json".utf8)) }
    }

    @Test("class defaults differ per scheduler, file values win")
    func classDefaults() throws {
        let ddim = try DDIMScheduler(config: SchedulerConfig(), request: ScheduleRequest(steps: 10))
        #expect(ddim.settings.clipSample == true)
        #expect(ddim.settings.timestepSpacing == .leading)
        let euler = try EulerDiscreteScheduler(config: SchedulerConfig(), request: ScheduleRequest(steps: 10))
        #expect(euler.settings.timestepSpacing == .linspace)
        let lcm = try LCMScheduler(config: SchedulerConfig(), request: ScheduleRequest(steps: 4))
        #expect(lcm.settings.betaSchedule == .scaledLinear)
        let ddimSD = try DDIMScheduler(config: sd15, request: ScheduleRequest(steps: 10))
        #expect(ddimSD.settings.clipSample == false)
        #expect(ddimSD.timesteps == [901, 801, 701, 601, 501, 401, 301, 201, 101, 1])
    }

    // MARK: Errors

    @Test("a beta schedule a class does not implement is rejected")
    func unsupportedBetaSchedule() {
        var c = sd15
        c.betaSchedule = .sigmoid
        #expect(throws: SchedulerError.unsupportedOption(scheduler: "EulerDiscreteScheduler", key: "beta_schedule", value: "sigmoid")) {
            _ = try EulerDiscreteScheduler(config: c, request: ScheduleRequest(steps: 10))
        }
        #expect(throws: Never.self) { _ = try DDPMScheduler(config: c, request: ScheduleRequest(steps: 10)) }
    }

    @Test("more steps than training timesteps is a typed error for every scheduler", arguments: SchedulerKind.allCases)
    func tooManySteps(kind: SchedulerKind) {
        #expect {
            _ = try kind.make(config: sd15, request: ScheduleRequest(steps: 1001))
        } throws: { error in
            if case .invalidStepCount? = error as? SchedulerError { return true }
            return false
        }
        #expect(throws: SchedulerError.self) { _ = try kind.make(config: sd15, request: ScheduleRequest(steps: 0)) }
        #expect(throws: SchedulerError.self) { _ = try kind.make(config: sd15, request: ScheduleRequest()) }
    }

    @Test("strength outside (0, 1] is rejected", arguments: [0.0, -0.5, 1.5, Double.nan])
    func badStrength(strength: Double) {
        #expect(throws: SchedulerError.self) {
            _ = try LCMScheduler(config: sd15, request: ScheduleRequest(steps: 4, strength: strength))
        }
        #expect(throws: SchedulerError.self) { _ = try TimestepGrid.img2imgBeginIndex(steps: 10, strength: strength, order: 1) }
    }

    @Test("conflicting σ options, unsupported orders and algorithms are typed errors")
    func conflictingOptions() {
        var c = sd15
        c.useKarrasSigmas = true
        c.useExponentialSigmas = true
        #expect(throws: SchedulerError.self) { _ = try EulerDiscreteScheduler(config: c, request: ScheduleRequest(steps: 10)) }
        #expect(throws: SchedulerError.self) { _ = try DPMSolverMultistepScheduler(config: c, request: ScheduleRequest(steps: 10)) }
        var o = sd15
        o.solverOrder = 4
        for kind in [SchedulerKind.dpmSolverMultistep, .dpmSolverSinglestep, .uniPC, .deis] {
            #expect(throws: SchedulerError.self) { _ = try kind.make(config: o, request: ScheduleRequest(steps: 10)) }
        }
        var a = sd15
        a.algorithmType = .sdeDpmsolver
        #expect(throws: SchedulerError.unsupportedOption(scheduler: "DPMSolverMultistepScheduler", key: "algorithm_type", value: "sde-dpmsolver")) {
            _ = try DPMSolverMultistepScheduler(config: a, request: ScheduleRequest(steps: 10))
        }
        var p = sd15
        p.predictionType = .sample
        #expect(throws: SchedulerError.self) { _ = try EulerAncestralDiscreteScheduler(config: p, request: ScheduleRequest(steps: 10)) }
    }

    @Test("LCM rejects more steps than original_inference_steps")
    func lcmStepLimit() {
        #expect(throws: SchedulerError.self) { _ = try LCMScheduler(config: sd15, request: ScheduleRequest(steps: 51)) }
        #expect(throws: SchedulerError.self) { _ = try LCMScheduler(config: sd15, request: ScheduleRequest(steps: 4, originalInferenceSteps: 2000)) }
    }

    @Test("trained_betas of the wrong length is rejected")
    func trainedBetasLength() {
        var c = sd15
        c.trainedBetas = [0.001, 0.002]
        #expect(throws: SchedulerError.self) { _ = try DDIMScheduler(config: c, request: ScheduleRequest(steps: 10)) }
    }

    @Test("stepping past the end throws instead of trapping")
    func exhausted() throws {
        var s = try EulerDiscreteScheduler(config: sd15, request: ScheduleRequest(steps: 2))
        var rng = NoRandomSource()
        let x = try Tensor(shape: [1, 1, 2, 2], repeating: 1)
        _ = try s.step(modelOutput: x, sample: x, random: &rng)
        _ = try s.step(modelOutput: x, sample: x, random: &rng)
        #expect(throws: SchedulerError.scheduleExhausted(scheduler: "EulerDiscreteScheduler", stepIndex: 2, count: 2)) {
            _ = try s.step(modelOutput: x, sample: x, random: &rng)
        }
    }

    @Test("a model output or history of another shape is a typed error, not a trap")
    func mismatchedShapes() throws {
        var rng = NoRandomSource()
        let x = try Tensor(shape: [1, 1, 2, 2], repeating: 1), other = try Tensor(shape: [1, 1, 2, 3], repeating: 1)
        var euler = try EulerDiscreteScheduler(config: sd15, request: ScheduleRequest(steps: 4))
        #expect(throws: SchedulerError.shapeMismatch(expected: [1, 1, 2, 2], actual: [1, 1, 2, 3])) {
            _ = try euler.step(modelOutput: other, sample: x, random: &rng)
        }
        var dpm = try DPMSolverMultistepScheduler(config: sd15, request: ScheduleRequest(steps: 4))
        _ = try dpm.step(modelOutput: x, sample: x, random: &rng)
        #expect(throws: SchedulerError.self) { _ = try dpm.step(modelOutput: other, sample: other, random: &rng) }
    }

    @Test("a stochastic step without noise reports the exhausted source")
    func missingNoise() throws {
        var s = try EulerAncestralDiscreteScheduler(config: sd15, request: ScheduleRequest(steps: 2))
        var rng = NoRandomSource()
        let x = try Tensor(shape: [1, 1, 2, 2], repeating: 1)
        #expect(throws: SchedulerError.randomSource(underlying: .exhausted(requestedShape: [1, 1, 2, 2]))) {
            _ = try s.step(modelOutput: x, sample: x, random: &rng)
        }
    }
}
