import Foundation

/// Matches diffusers `DDPMScheduler` (schedulers/scheduling_ddpm.py) at 0.42.1.
///
/// Ancestral DDPM sampling between the grid's timesteps (the "previous" timestep is the next grid entry).
/// Noise is drawn from the caller's source on every step with t > 0. Learned variances are not supported.
public struct DDPMScheduler: AlphaScheduler {
    public static let diffusersClassName = "DDPMScheduler"
    public static var defaults: SchedulerSettings {
        var d = SchedulerSettings()
        d.clipSample = true
        d.timestepSpacing = .leading
        d.varianceType = .fixedSmall
        return d
    }

    public var state: AlphaScheduleState

    public init(config: SchedulerConfig, request: ScheduleRequest) throws(SchedulerError) {
        let s = SchedulerSettings(config, defaults: Self.defaults)
        let name = Self.diffusersClassName
        try s.validateCommon(scheduler: name, allowedBetaSchedules: [.linear, .scaledLinear, .squaredcosCapV2, .sigmoid])
        if let v = s.varianceType, v == .learned || v == .learnedRange {
            throw .unsupportedOption(scheduler: name, key: "variance_type", value: v.rawValue)
        }
        let n = try request.stepCount(scheduler: name, allowTimesteps: true, allowSigmas: false)
        let ts: [Int]
        if let custom = request.timesteps {
            ts = try TimestepGrid.customIntegers(custom, scheduler: name)
            for i in 1..<max(ts.count, 1) where ts[i] >= ts[i - 1] {
                throw .invalidCustomSchedule(scheduler: name, reason: "timesteps must be strictly descending")
            }
            guard ts[0] < s.numTrainTimesteps, ts.last.map({ $0 >= 0 }) ?? true else {
                throw .invalidCustomSchedule(scheduler: name, reason: "timesteps must lie in 0..<\(s.numTrainTimesteps)")
            }
        } else {
            try TimestepGrid.validate(steps: n, trainSteps: s.numTrainTimesteps, scheduler: name)
            ts = TimestepGrid.integerGrid(spacing: s.timestepSpacing, trainSteps: s.numTrainTimesteps, steps: n, offset: s.stepsOffset)
        }
        state = AlphaScheduleState(settings: s, trainTimesteps: ts, numInferenceSteps: n)
    }

    public mutating func step<R: RandomSource>(modelOutput: Tensor, sample: Tensor, random: inout R) throws(SchedulerError) -> Tensor {
        try requireMatchingShapes(modelOutput, sample)
        try checkNotExhausted()
        let i = stepIndex
        let t = trainTimesteps[i]
        let tPrev = i + 1 < trainTimesteps.count ? trainTimesteps[i + 1] : -1
        let aT = noise.alphaCumprod(at: t)
        let aP: Float = tPrev >= 0 ? noise.alphaCumprod(at: tPrev) : 1
        let bT = 1 - aT, bP = 1 - aP
        let curAlpha = aT / aP, curBeta = 1 - curAlpha
        var (x0, _) = Prediction.originalAndEpsilon(modelOutput, sample: sample, alphaCumprod: aT, type: settings.predictionType)
        x0 = Prediction.postprocess(x0, settings: settings)
        let c0 = aP.squareRoot() * curBeta / bT
        let c1 = curAlpha.squareRoot() * bP / bT
        var prev = Tensor.combine(c0, x0, c1, sample)
        if t > 0 {
            let z = try random.schedulerNoise(shape: modelOutput.shape)
            let variance = max(bP / bT * curBeta, 1e-20)
            let scale: Float
            switch settings.varianceType ?? .fixedSmall {
            case .fixedSmallLog: scale = Foundation.exp(0.5 * Foundation.log(variance))
            case .fixedLarge: scale = curBeta.squareRoot()
            case .fixedLargeLog: scale = Foundation.log(curBeta).squareRoot()
            default: scale = variance.squareRoot()
            }
            prev = Tensor.combine(1, prev, scale, z)
        }
        stepIndex += 1
        return prev
    }
}
