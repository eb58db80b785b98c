/// Matches diffusers `TCDScheduler` (schedulers/scheduling_tcd.py) at 0.42.1.
///
/// Trajectory Consistency Distillation. ``gamma`` is the paper's γ (diffusers' `eta` argument of `step`);
/// SD pipelines default it to 0, the TCD authors recommend 0.3. With γ > 0 every step but the last
/// re-noises from `t_s = ⌊(1−γ)·t_prev⌋` to `t_prev` with fresh noise from the caller.
public struct TCDScheduler: AlphaScheduler {
    public static let diffusersClassName = "TCDScheduler"
    public static var defaults: SchedulerSettings { LCMScheduler.defaults }

    public var state: AlphaScheduleState
    /// γ in [0, 1] (stochasticity). Default 0.3.
    public var gamma: Double = 0.3

    public init(config: SchedulerConfig, request: ScheduleRequest) throws(SchedulerError) {
        let s = SchedulerSettings(config, defaults: Self.defaults)
        let name = Self.diffusersClassName
        try s.validateCommon(scheduler: name, allowedBetaSchedules: [.linear, .scaledLinear, .squaredcosCapV2])
        let T = s.numTrainTimesteps
        let sched: LCMScheduler.Schedule
        if request.timesteps == nil, let n = request.steps, request.originalInferenceSteps != nil {
            // An explicit original_inference_steps makes diffusers use every training timestep below T·strength.
            guard request.strength > 0, request.strength <= 1 else { throw .invalidStrength(request.strength) }
            guard let k = request.originalInferenceSteps, k >= 1, k <= T else {
                throw .invalidConfig(key: "original_inference_steps", reason: "must be in 1...\(T)")
            }
            let origin = Array((0..<Int(Double(T) * request.strength)).reversed())
            guard n >= 1, n <= k, origin.count / n >= 1 else {
                throw .invalidStepCount(scheduler: name, steps: n, reason: "needs 1 ≤ steps ≤ original_inference_steps and enough training timesteps")
            }
            let ts = TimestepGrid.linspace(0, Double(origin.count), n + 1).dropLast().map { origin[Int($0.rounded(.down))] }
            sched = LCMScheduler.Schedule(timesteps: ts, count: n)
        } else {
            sched = try LCMScheduler.schedule(settings: s, request: request, originalSteps: s.originalInferenceSteps, scheduler: name)
        }
        state = AlphaScheduleState(settings: s, trainTimesteps: sched.timesteps, numInferenceSteps: sched.count)
    }

    public mutating func step<R: RandomSource>(modelOutput: Tensor, sample: Tensor, random: inout R) throws(SchedulerError) -> Tensor {
        try requireMatchingShapes(modelOutput, sample)
        try checkNotExhausted()
        guard gamma >= 0, gamma <= 1 else {
            throw .unsupportedOption(scheduler: Self.diffusersClassName, key: "gamma", value: String(gamma))
        }
        let i = stepIndex
        let t = trainTimesteps[i]
        let tPrev = i + 1 < trainTimesteps.count ? trainTimesteps[i + 1] : 0
        let tS = Int((Float(1 - gamma) * Float(tPrev)).rounded(.down))
        let aT = noise.alphaCumprod(at: t)
        let aP = tPrev >= 0 ? noise.alphaCumprod(at: tPrev) : finalAlphaCumprod
        let aS = noise.alphaCumprod(at: tS)
        let (x0, eps) = Prediction.originalAndEpsilon(modelOutput, sample: sample, alphaCumprod: aT, type: settings.predictionType)
        let noised = Tensor.combine(aS.squareRoot(), x0, (1 - aS).squareRoot(), eps)
        stepIndex += 1
        if gamma > 0 && i != numInferenceSteps - 1 {
            let z = try random.schedulerNoise(shape: modelOutput.shape)
            let r = aP / aS
            return Tensor.combine(r.squareRoot(), noised, (1 - r).squareRoot(), z)
        }
        return noised
    }
}
