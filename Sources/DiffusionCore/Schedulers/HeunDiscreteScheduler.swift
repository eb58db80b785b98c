/// Matches diffusers `HeunDiscreteScheduler` (schedulers/scheduling_heun_discrete.py) at 0.42.1.
///
/// Second order (two model calls per step, 2N−1 calls in all): an Euler predictor, then the trapezoidal
/// corrector. The last call is a plain Euler step to σ = 0.
public struct HeunDiscreteScheduler: SigmaScheduler {
    public static let diffusersClassName = "HeunDiscreteScheduler"
    public static let parameterization = SigmaParameterization.varianceExploding
    public static var defaults: SchedulerSettings {
        var d = SchedulerSettings()
        d.betaStart = 0.00085
        d.betaEnd = 0.012
        return d
    }

    public var state: SigmaScheduleState
    public var order: Int { 2 }
    var prevDerivative: Tensor?
    var dt: Float?
    var savedSample: Tensor?

    public init(config: SchedulerConfig, request: ScheduleRequest) throws(SchedulerError) {
        var s = SchedulerSettings(config, defaults: Self.defaults)
        s.rescaleBetasZeroSNR = false   // not a HeunDiscreteScheduler option
        let name = Self.diffusersClassName
        try s.validateCommon(scheduler: name, allowedBetaSchedules: [.linear, .scaledLinear, .squaredcosCapV2, .exp])
        try s.validateSigmaRespacing(scheduler: name)
        let n = try request.stepCount(scheduler: name, allowTimesteps: true, allowSigmas: false)
        if request.timesteps != nil && s.sigmaRespacing != .none {
            throw .conflictingOptions(scheduler: name, reason: "custom timesteps cannot be combined with σ respacing")
        }
        if request.timesteps == nil { try TimestepGrid.validate(steps: n, trainSteps: s.numTrainTimesteps, scheduler: name) }
        let noise = NoiseSchedule(settings: s, terminalAlphaCumprodFloor: false)
        let grid = DiscreteSigmaSchedule.make(settings: s, noise: noise, steps: n, respacing: s.sigmaRespacing,
                                              configRange: false, customTimesteps: request.timesteps)
        let sg = (grid.sigmas + [0]).map { Float($0) }
        let tg = grid.timesteps.map { Float($0) }
        let sig = InterpolatedSigmaSchedule.repeatingInterior(sg)
        // The corrector call runs at the next step's timestep: [t_0, t_1, t_1, t_2, t_2, …].
        let ts = InterpolatedSigmaSchedule.interleaved(tg, midpoints: Array(tg.dropFirst()))
        state = SigmaScheduleState(settings: s, noise: noise, timesteps: ts, sigmas: sig,
                                   initNoiseSigma: DiscreteSigmaSchedule.initNoiseSigma(sigmas: sig, spacing: s.timestepSpacing),
                                   numInferenceSteps: n)
    }

    public mutating func step<R: RandomSource>(modelOutput: Tensor, sample: Tensor, random: inout R) throws(SchedulerError) -> Tensor {
        try requireMatchingShapes(modelOutput, sample, history: [prevDerivative, savedSample])
        try checkNotExhausted()
        let i = stepIndex
        let first = dt == nil
        let sigma = first ? sigmas[i] : sigmas[i - 1]
        let sigmaNext = first ? sigmas[i + 1] : sigmas[i]
        let sigmaIn = first ? sigma : sigmaNext
        var x0 = DiscreteSigmaSchedule.predictOriginal(modelOutput, sample: sample, sigma: sigmaIn, sigmaHat: sigmaIn, type: settings.predictionType)
        if settings.clipSample { x0 = x0.clamped(-Float(settings.clipSampleRange), Float(settings.clipSampleRange)) }
        let out: Tensor
        if first {
            let d = Tensor.zipWith(sample, x0) { xv, pv in (xv - pv) / sigma }
            let step = sigmaNext - sigma
            prevDerivative = d
            dt = step
            savedSample = sample
            out = Tensor.zipWith(sample, d) { xv, dv in xv + dv * step }
        } else {
            let d2 = Tensor.zipWith(sample, x0) { xv, pv in (xv - pv) / sigmaNext }
            let d = Tensor.zipWith(prevDerivative ?? d2, d2) { a, b in (a + b) / 2 }
            let step = dt ?? 0
            out = Tensor.zipWith(savedSample ?? sample, d) { xv, dv in xv + dv * step }
            prevDerivative = nil; dt = nil; savedSample = nil
        }
        stepIndex += 1
        return out
    }
}
