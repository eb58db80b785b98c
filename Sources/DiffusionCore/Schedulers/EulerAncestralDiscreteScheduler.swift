/// Matches diffusers `EulerAncestralDiscreteScheduler` (schedulers/scheduling_euler_ancestral_discrete.py) at 0.42.1.
///
/// "Euler a": an Euler step to σ_down plus fresh noise of size σ_up, drawn on every step (also the last, where σ_up = 0).
public struct EulerAncestralDiscreteScheduler: SigmaScheduler {
    public static let diffusersClassName = "EulerAncestralDiscreteScheduler"
    public static let parameterization = SigmaParameterization.varianceExploding
    public static var defaults: SchedulerSettings { SchedulerSettings() }

    public var state: SigmaScheduleState

    public init(config: SchedulerConfig, request: ScheduleRequest) throws(SchedulerError) {
        let s = SchedulerSettings(config, defaults: Self.defaults)
        let name = Self.diffusersClassName
        try s.validateCommon(scheduler: name, allowedBetaSchedules: [.linear, .scaledLinear, .squaredcosCapV2])
        if s.predictionType == .sample || s.predictionType == .originalSample {
            throw .unsupportedOption(scheduler: name, key: "prediction_type", value: s.predictionType.rawValue)
        }
        let n = try request.stepCount(scheduler: name, allowTimesteps: false, allowSigmas: false)
        try TimestepGrid.validate(steps: n, trainSteps: s.numTrainTimesteps, scheduler: name)
        let noise = NoiseSchedule(settings: s, terminalAlphaCumprodFloor: true)
        let grid = DiscreteSigmaSchedule.make(settings: s, noise: noise, steps: n, respacing: .none, configRange: false)
        let sg = (grid.sigmas + [0]).map { Float($0) }
        state = SigmaScheduleState(settings: s, noise: noise, timesteps: grid.timesteps.map { Float($0) }, sigmas: sg,
                                   initNoiseSigma: DiscreteSigmaSchedule.initNoiseSigma(sigmas: sg, spacing: s.timestepSpacing),
                                   numInferenceSteps: n)
    }

    public mutating func step<R: RandomSource>(modelOutput: Tensor, sample: Tensor, random: inout R) throws(SchedulerError) -> Tensor {
        try requireMatchingShapes(modelOutput, sample)
        try checkNotExhausted()
        let sigma = sigmas[stepIndex], sigmaTo = sigmas[stepIndex + 1]
        let x0 = DiscreteSigmaSchedule.predictOriginal(modelOutput, sample: sample, sigma: sigma, sigmaHat: sigma, type: settings.predictionType)
        let (sigmaUp, sigmaDown) = DiscreteSigmaSchedule.ancestralStep(from: sigma, to: sigmaTo)
        let dt = sigmaDown - sigma
        let z = try random.schedulerNoise(shape: modelOutput.shape)
        var out = Tensor.zipWith(sample, x0) { xv, pv in xv + ((xv - pv) / sigma) * dt }
        out = Tensor.combine(1, out, sigmaUp, z)
        stepIndex += 1
        return out
    }
}
