/// Matches diffusers `DDIMScheduler` (schedulers/scheduling_ddim.py) at 0.42.1.
///
/// The previous timestep is always `t − T/N` (a fixed stride, even on linspace/trailing grids), as in diffusers.
/// Set ``eta`` > 0 for stochastic DDIM; the noise then comes from the caller's ``RandomSource``.
public struct DDIMScheduler: Scheduler {
    public static let diffusersClassName = "DDIMScheduler"
    public static var defaults: SchedulerSettings {
        var d = SchedulerSettings()
        d.clipSample = true
        d.setAlphaToOne = true
        d.timestepSpacing = .leading
        return d
    }

    public let settings: SchedulerSettings
    public let noise: NoiseSchedule
    public let timesteps: [Float]
    public var sigmas: [Float] { [] }
    public let numInferenceSteps: Int
    public private(set) var stepIndex = 0
    /// The integer training timesteps of the run.
    public let trainTimesteps: [Int]
    /// η of the DDIM paper (0 = deterministic DDIM, 1 = DDPM-like). diffusers pipelines default to 0.
    public var eta: Float = 0
    /// Recompute ε̂ from the clipped x0̂ (`use_clipped_model_output`).
    public var useClippedModelOutput = false
    let finalAlphaCumprod: Float

    public init(config: SchedulerConfig, request: ScheduleRequest) throws(SchedulerError) {
        let s = SchedulerSettings(config, defaults: Self.defaults)
        let name = Self.diffusersClassName
        try s.validateCommon(scheduler: name, allowedBetaSchedules: [.linear, .scaledLinear, .squaredcosCapV2])
        let n = try request.stepCount(scheduler: name, allowTimesteps: false, allowSigmas: false)
        try TimestepGrid.validate(steps: n, trainSteps: s.numTrainTimesteps, scheduler: name)
        let noise = NoiseSchedule(settings: s, terminalAlphaCumprodFloor: false)
        settings = s
        self.noise = noise
        numInferenceSteps = n
        trainTimesteps = TimestepGrid.integerGrid(spacing: s.timestepSpacing, trainSteps: s.numTrainTimesteps, steps: n, offset: s.stepsOffset)
        timesteps = trainTimesteps.map { Float($0) }
        finalAlphaCumprod = s.setAlphaToOne ? 1 : noise.alphasCumprod[0]
    }

    public mutating func setBeginIndex(_ index: Int) { stepIndex = index }

    public func addNoise(original: Tensor, noise z: Tensor, atIndex index: Int) -> Tensor {
        noise.addNoise(original: original, noise: z, timesteps: trainTimesteps, atIndex: index)
    }

    public mutating func step<R: RandomSource>(modelOutput: Tensor, sample: Tensor, random: inout R) throws(SchedulerError) -> Tensor {
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
            let z = try random.normal(shape: modelOutput.shape)
            prev = Tensor.combine(1, prev, std, z)
        }
        stepIndex += 1
        return prev
    }
}
