/// Matches diffusers `DDIMScheduler` (schedulers/scheduling_ddim.py) at 0.42.1.
///
/// The previous timestep is always `t − T/N` (a fixed stride, even on linspace/trailing grids), as in diffusers.
/// Set ``eta`` > 0 for stochastic DDIM; the noise then comes from the caller's ``RandomSource``.
public struct DDIMScheduler: AlphaScheduler {
    public static let diffusersClassName = "DDIMScheduler"
    public static var defaults: SchedulerSettings {
        var d = SchedulerSettings()
        d.clipSample = true
        d.setAlphaToOne = true
        d.timestepSpacing = .leading
        return d
    }

    public var state: AlphaScheduleState
    /// The integer training timesteps of the run.
    /// η of the DDIM paper (0 = deterministic DDIM, 1 = DDPM-like). diffusers pipelines default to 0.
    public var eta: Float = 0
    /// Recompute ε̂ from the clipped x0̂ (`use_clipped_model_output`).
    public var useClippedModelOutput = false

    public init(config: SchedulerConfig, request: ScheduleRequest) throws(SchedulerError) {
        let s = SchedulerSettings(config, defaults: Self.defaults)
        let name = Self.diffusersClassName
        try s.validateCommon(scheduler: name, allowedBetaSchedules: [.linear, .scaledLinear, .squaredcosCapV2])
        let n = try request.stepCount(scheduler: name, allowTimesteps: false, allowSigmas: false)
        try TimestepGrid.validate(steps: n, trainSteps: s.numTrainTimesteps, scheduler: name)
        let ts = TimestepGrid.integerGrid(spacing: s.timestepSpacing, trainSteps: s.numTrainTimesteps, steps: n, offset: s.stepsOffset)
        state = AlphaScheduleState(settings: s, trainTimesteps: ts, numInferenceSteps: n)
    }

    public mutating func step<R: RandomSource>(modelOutput: Tensor, sample: Tensor, random: inout R) throws(SchedulerError) -> Tensor {
        try requireMatchingShapes(modelOutput, sample)
        try checkNotExhausted()
        let t = trainTimesteps[stepIndex]
        let tPrev = t - settings.numTrainTimesteps / numInferenceSteps
        let aT = noise.alphaCumprod(at: t)
        let aP = tPrev >= 0 ? noise.alphasCumprod[tPrev] : finalAlphaCumprod
        let bT = 1 - aT
        var (x0, eps) = Prediction.originalAndEpsilon(modelOutput, sample: sample, alphaCumprod: aT, type: settings.predictionType)
        x0 = Prediction.postprocess(x0, settings: settings)
        let variance = (1 - aP) / bT * (1 - aT / aP)
        let std = eta * variance.squareRoot()
        if useClippedModelOutput {
            let sa = aT.squareRoot(), sb = bT.squareRoot()
            eps = Tensor.zipWith(sample, x0) { xv, pv in (xv - sa * pv) / sb }
        }
        let dirCoeff = (1 - aP - std * std).squareRoot()
        var prev = Tensor.combine(aP.squareRoot(), x0, dirCoeff, eps)
        if eta > 0 {
            let z = try random.schedulerNoise(shape: modelOutput.shape)
            prev = Tensor.combine(1, prev, std, z)
        }
        stepIndex += 1
        return prev
    }
}
