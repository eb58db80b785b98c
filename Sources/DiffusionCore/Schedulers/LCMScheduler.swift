/// Matches diffusers `LCMScheduler` (schedulers/scheduling_lcm.py) at 0.42.1.
///
/// Latent Consistency Models: timesteps are picked from the `original_inference_steps`-point training grid
/// (see ``LCMScheduler/timesteps(trainSteps:originalSteps:steps:strength:)``), each step applies the
/// consistency boundary condition `denoised = c_out·x0̂ + c_skip·x` and re-noises to the next timestep with
/// fresh noise from the caller (except after the last step). img2img strength truncates the training grid
/// inside `set_timesteps`, as `LatentConsistencyModelImg2ImgPipeline` does.
public struct LCMScheduler: AlphaScheduler {
    public static let diffusersClassName = "LCMScheduler"
    public static var defaults: SchedulerSettings {
        var d = SchedulerSettings()
        d.betaStart = 0.00085
        d.betaEnd = 0.012
        d.betaSchedule = .scaledLinear
        d.clipSample = false
        d.setAlphaToOne = true
        d.timestepSpacing = .leading
        return d
    }

    public var state: AlphaScheduleState
    /// Integer training timesteps of the run.
    /// The denoised estimate from the last step (what `LatentConsistencyModelPipeline` decodes).
    public private(set) var denoised: Tensor?

    public init(config: SchedulerConfig, request: ScheduleRequest) throws(SchedulerError) {
        let s = SchedulerSettings(config, defaults: Self.defaults)
        let name = Self.diffusersClassName
        try s.validateCommon(scheduler: name, allowedBetaSchedules: [.linear, .scaledLinear, .squaredcosCapV2])
        let original = request.originalInferenceSteps ?? s.originalInferenceSteps
        let ts = try LCMScheduler.schedule(settings: s, request: request, originalSteps: original, scheduler: name)
        state = AlphaScheduleState(settings: s, trainTimesteps: ts.timesteps, numInferenceSteps: ts.count)
    }

    /// The LCM timestep rule (pure): `origin = [1…⌊K·strength⌋]·(T/K) − 1`, reversed, sampled at
    /// `⌊linspace(0, len, N, endpoint: false)⌋`.
    public static func timesteps(trainSteps T: Int, originalSteps K: Int, steps N: Int, strength: Double = 1) throws(SchedulerError) -> [Int] {
        let name = diffusersClassName
        guard strength > 0, strength <= 1 else { throw .invalidStrength(strength) }
        guard K >= 1, K <= T else {
            throw .invalidConfig(key: "original_inference_steps", reason: "must be in 1...\(T), got \(K)")
        }
        guard N >= 1 else { throw .invalidStepCount(scheduler: name, steps: N, reason: "needs at least 1 step") }
        guard N <= T else { throw .invalidStepCount(scheduler: name, steps: N, reason: "more steps than num_train_timesteps (\(T))") }
        let k = T / K
        let count = Int(Double(K) * strength)
        let origin = (1...max(count, 1)).map { $0 * k - 1 }.prefix(count).reversed().map { $0 }
        guard origin.count / N >= 1 else {
            throw .invalidStepCount(scheduler: name, steps: N, reason: "original_inference_steps × strength = \(origin.count) is smaller than the step count")
        }
        guard N <= K else {
            throw .invalidStepCount(scheduler: name, steps: N, reason: "more steps than original_inference_steps (\(K))")
        }
        return TimestepGrid.linspace(0, Double(origin.count), N + 1).dropLast().map { origin[Int($0.rounded(.down))] }
    }

    struct Schedule { var timesteps: [Int]; var count: Int }

    static func schedule(settings s: SchedulerSettings, request: ScheduleRequest, originalSteps K: Int, scheduler name: String) throws(SchedulerError) -> Schedule {
        let T = s.numTrainTimesteps
        if let custom = request.timesteps {
            guard request.strength > 0, request.strength <= 1 else { throw .invalidStrength(request.strength) }
            let ts = try TimestepGrid.customIntegers(custom, scheduler: name)
            guard !ts.isEmpty else { throw .invalidCustomSchedule(scheduler: name, reason: "empty timestep list") }
            for i in 1..<max(ts.count, 1) where ts[i] >= ts[i - 1] {
                throw .invalidCustomSchedule(scheduler: name, reason: "timesteps must be strictly descending")
            }
            guard ts[0] < T, ts.last.map({ $0 >= 0 }) ?? true else {
                throw .invalidCustomSchedule(scheduler: name, reason: "timesteps must lie in 0..<\(T)")
            }
            let n = ts.count
            let initSteps = min(Int(Double(n) * request.strength), n)
            return Schedule(timesteps: Array(ts[max(n - initSteps, 0)...]), count: n)
        }
        if request.sigmas != nil { throw .invalidCustomSchedule(scheduler: name, reason: "custom sigmas are not supported") }
        guard let n = request.steps else { throw .invalidStepCount(scheduler: name, steps: 0, reason: "no step count given") }
        let ts = try timesteps(trainSteps: T, originalSteps: K, steps: n, strength: request.strength)
        return Schedule(timesteps: ts, count: n)
    }

    /// Consistency-model boundary scalings at timestep `t` (σ_data = 0.5; float32 like diffusers).
    public func boundaryScalings(timestep t: Int) -> (cSkip: Float, cOut: Float) {
        let st = Float(t) * Float(settings.timestepScaling)
        let sd2: Float = 0.25
        return (sd2 / (st * st + sd2), st / (st * st + sd2).squareRoot())
    }

    public mutating func step<R: RandomSource>(modelOutput: Tensor, sample: Tensor, random: inout R) throws(SchedulerError) -> Tensor {
        try requireMatchingShapes(modelOutput, sample)
        try checkNotExhausted()
        let i = stepIndex
        let t = trainTimesteps[i]
        let tPrev = i + 1 < trainTimesteps.count ? trainTimesteps[i + 1] : t
        let aT = noise.alphaCumprod(at: t)
        let aP = tPrev >= 0 ? noise.alphaCumprod(at: tPrev) : finalAlphaCumprod
        let (cSkip, cOut) = boundaryScalings(timestep: t)
        var (x0, _) = Prediction.originalAndEpsilon(modelOutput, sample: sample, alphaCumprod: aT, type: settings.predictionType)
        x0 = Prediction.postprocess(x0, settings: settings)
        let den = Tensor.combine(cOut, x0, cSkip, sample)
        denoised = den
        stepIndex += 1
        if i != numInferenceSteps - 1 {
            let z = try random.schedulerNoise(shape: modelOutput.shape)
            return Tensor.combine(aP.squareRoot(), den, (1 - aP).squareRoot(), z)
        }
        return den
    }
}
