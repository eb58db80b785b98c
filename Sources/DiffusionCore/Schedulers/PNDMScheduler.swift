/// Matches diffusers `PNDMScheduler` (schedulers/scheduling_pndm.py) at 0.42.1.
///
/// PLMS (linear multistep on ε) with `skip_prk_steps = true` (the SD default, A1111 "PLMS"), or the
/// Runge–Kutta warm-up of the original PNDM when `skip_prk_steps = false`. With PLMS, N steps make N+1
/// model calls (the second timestep is evaluated twice).
public struct PNDMScheduler: AlphaScheduler {
    public static let diffusersClassName = "PNDMScheduler"
    public static var defaults: SchedulerSettings {
        var d = SchedulerSettings()
        d.setAlphaToOne = false
        d.timestepSpacing = .leading
        return d
    }

    public var state: AlphaScheduleState
    let prkCount: Int
    var ets: [Tensor] = []
    var curSample: Tensor?
    var curModelOutput: Tensor?
    /// Model calls made so far (diffusers' `counter`): it starts at 0 whatever the begin index, so an img2img run
    /// that starts part-way through the schedule warms its multistep history up as a full run does.
    var counter = 0

    public init(config: SchedulerConfig, request: ScheduleRequest) throws(SchedulerError) {
        let s = SchedulerSettings(config, defaults: Self.defaults)
        let name = Self.diffusersClassName
        try s.validateCommon(scheduler: name, allowedBetaSchedules: [.linear, .scaledLinear, .squaredcosCapV2])
        if s.predictionType != .epsilon && s.predictionType != .vPrediction {
            throw .unsupportedOption(scheduler: name, key: "prediction_type", value: s.predictionType.rawValue)
        }
        let n = try request.stepCount(scheduler: name, allowTimesteps: false, allowSigmas: false)
        try TimestepGrid.validate(steps: n, trainSteps: s.numTrainTimesteps, scheduler: name)
        let T = s.numTrainTimesteps
        let asc: [Int]   // `_timesteps`, ascending
        switch s.timestepSpacing {
        case .linspace, .leading:
            asc = TimestepGrid.integerGrid(spacing: s.timestepSpacing, trainSteps: T, steps: n, offset: s.stepsOffset).reversed()
        case .trailing:
            asc = TimestepGrid.trailing(trainSteps: T, steps: n).map { TimestepGrid.integer($0) }.reversed()
        }
        var prk: [Int] = []
        let plms: [Int]
        if s.skipPRKSteps {
            guard asc.count >= 2 else { throw .invalidStepCount(scheduler: name, steps: n, reason: "PLMS needs at least 2 steps") }
            plms = (Array(asc.dropLast()) + [asc[asc.count - 2], asc[asc.count - 1]]).reversed()
        } else {
            guard asc.count >= 4 else { throw .invalidStepCount(scheduler: name, steps: n, reason: "PNDM with PRK steps needs at least 4 steps") }
            let half = T / n / 2
            var p: [Int] = []
            for t in asc.suffix(4) { p.append(t); p.append(t + half) }
            var rep: [Int] = []
            for v in p.dropLast() { rep.append(v); rep.append(v) }
            prk = Array(rep.dropFirst().dropLast().reversed())
            plms = Array(asc.dropLast(3).reversed())
        }
        state = AlphaScheduleState(settings: s, trainTimesteps: prk + plms, numInferenceSteps: n)
        prkCount = prk.count
    }

    public mutating func step<R: RandomSource>(modelOutput: Tensor, sample: Tensor, random: inout R) throws(SchedulerError) -> Tensor {
        try requireMatchingShapes(modelOutput, sample, history: ets.map { $0 } + [curSample])
        try checkNotExhausted()
        let out = counter < prkCount && !settings.skipPRKSteps ? prkStep(modelOutput, sample: sample) : plmsStep(modelOutput, sample: sample)
        stepIndex += 1
        counter += 1
        return out
    }

    private var delta: Int { settings.numTrainTimesteps / numInferenceSteps }

    private mutating func prkStep(_ m: Tensor, sample: Tensor) -> Tensor {
        let t = trainTimesteps[stepIndex]
        let prevT = t - (counter % 2 == 1 ? 0 : delta / 2)
        let base = trainTimesteps[counter / 4 * 4]
        var eps = m
        switch counter % 4 {
        case 0:
            curModelOutput = accumulate(curModelOutput, Float(1.0 / 6.0), m)
            ets.append(m)
            curSample = sample
        case 1, 2:
            curModelOutput = accumulate(curModelOutput, Float(1.0 / 3.0), m)
        default:
            eps = accumulate(curModelOutput, Float(1.0 / 6.0), m)
            curModelOutput = nil
        }
        return previousSample(curSample ?? sample, t: base, prevT: prevT, eps: eps)
    }

    private func accumulate(_ acc: Tensor?, _ c: Float, _ m: Tensor) -> Tensor {
        guard let acc else { return m.map { c * $0 } }
        return Tensor.zipWith(acc, m) { a, b in a + c * b }
    }

    private mutating func plmsStep(_ m: Tensor, sample: Tensor) -> Tensor {
        var t = trainTimesteps[stepIndex]   // `counter` counts PRK calls too, as diffusers does
        var prevT = t - delta
        if counter != 1 {
            ets = Array(ets.suffix(3))
            ets.append(m)
        } else {
            prevT = t
            t = t + delta
        }
        var x = sample
        let eps: Tensor
        let e = ets.count
        if e == 1 && counter == 0 {
            eps = m
            curSample = sample
        } else if e == 1 && counter == 1 {
            eps = Tensor.zipWith(m, ets[0]) { a, b in (a + b) / 2 }
            x = curSample ?? sample
            curSample = nil
        } else if e == 2 {
            eps = Tensor.zipWith(ets[1], ets[0]) { a, b in (3 * a - b) / 2 }
        } else if e == 3 {
            let (e1, e2, e3) = (ets[2], ets[1], ets[0])
            eps = Tensor.zipWith(e1, e2, e3) { a, b, c in (23 * a - 16 * b + 5 * c) / 12 }
        } else {
            let (e1, e2, e3, e4) = (ets[e - 1], ets[e - 2], ets[e - 3], ets[e - 4])
            let c: Float = 1.0 / 24.0
            eps = Tensor.zipWith(e1, e2, e3, e4) { a, b, d, f in c * (55 * a - 59 * b + 37 * d - 9 * f) }
        }
        return previousSample(x, t: t, prevT: prevT, eps: eps)
    }

    private func previousSample(_ x: Tensor, t: Int, prevT: Int, eps m: Tensor) -> Tensor {
        let aT = noise.alphaCumprod(at: t)
        let aP = prevT >= 0 ? noise.alphaCumprod(at: prevT) : finalAlphaCumprod
        let bT = 1 - aT, bP = 1 - aP
        var eps = m
        if settings.predictionType == .vPrediction { eps = Tensor.combine(aT.squareRoot(), m, bT.squareRoot(), x) }
        let sampleCoeff = (aP / aT).squareRoot()
        let denom = aT * bP.squareRoot() + (aT * bT * aP).squareRoot()
        let d = aP - aT
        return Tensor.zipWith(x, eps) { xv, ev in sampleCoeff * xv - (d * ev) / denom }
    }
}
