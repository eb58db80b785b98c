/// Matches diffusers `LMSDiscreteScheduler` (schedulers/scheduling_lms_discrete.py) at 0.42.1.
///
/// Linear multistep on the σ ODE, order ``lmsOrder`` (default 4). The Lagrange-basis integrals that
/// diffusers computes with `scipy.integrate.quad` are evaluated exactly with a 4-point Gauss–Legendre rule.
public struct LMSDiscreteScheduler: SigmaScheduler {
    public static let diffusersClassName = "LMSDiscreteScheduler"
    public static let parameterization = SigmaParameterization.varianceExploding
    public static var defaults: SchedulerSettings { SchedulerSettings() }

    public var state: SigmaScheduleState
    /// The multistep order (`order` argument of diffusers' `step`, default 4).
    public var lmsOrder = 4
    var derivatives: [Tensor] = []

    public init(config: SchedulerConfig, request: ScheduleRequest) throws(SchedulerError) {
        var s = SchedulerSettings(config, defaults: Self.defaults)
        s.rescaleBetasZeroSNR = false
        let name = Self.diffusersClassName
        try s.validateCommon(scheduler: name, allowedBetaSchedules: [.linear, .scaledLinear, .squaredcosCapV2])
        try s.validateSigmaRespacing(scheduler: name)
        let n = try request.stepCount(scheduler: name, allowTimesteps: false, allowSigmas: false)
        try TimestepGrid.validate(steps: n, trainSteps: s.numTrainTimesteps, scheduler: name)
        let noise = NoiseSchedule(settings: s, terminalAlphaCumprodFloor: false)
        let grid = DiscreteSigmaSchedule.make(settings: s, noise: noise, steps: n, respacing: s.sigmaRespacing, configRange: false)
        let sg = (grid.sigmas + [0]).map { Float($0) }
        state = SigmaScheduleState(settings: s, noise: noise, timesteps: grid.timesteps.map { Float($0) }, sigmas: sg,
                                   initNoiseSigma: DiscreteSigmaSchedule.initNoiseSigma(sigmas: sg, spacing: s.timestepSpacing),
                                   numInferenceSteps: n)
    }

    /// ∫_{σ_t}^{σ_{t+1}} Π_{k≠current} (τ − σ_{t−k})/(σ_{t−current} − σ_{t−k}) dτ.
    func coefficient(order: Int, t: Int, current: Int) -> Double {
        let a = Double(sigmas[t]), b = Double(sigmas[t + 1])
        let nodes = [-0.8611363115940526, -0.3399810435848563, 0.3399810435848563, 0.8611363115940526]
        let weights = [0.3478548451374538, 0.6521451548625461, 0.6521451548625461, 0.3478548451374538]
        var total = 0.0
        for (x, w) in zip(nodes, weights) {
            let tau = 0.5 * (b - a) * x + 0.5 * (a + b)
            var prod = 1.0
            for k in 0..<order where k != current {
                prod *= (tau - Double(sigmas[t - k])) / (Double(sigmas[t - current]) - Double(sigmas[t - k]))
            }
            total += w * prod
        }
        return 0.5 * (b - a) * total
    }

    public mutating func step<R: RandomSource>(modelOutput: Tensor, sample: Tensor, random: inout R) throws(SchedulerError) -> Tensor {
        try requireMatchingShapes(modelOutput, sample, history: derivatives.map { $0 })
        try checkNotExhausted()
        let i = stepIndex
        let sigma = sigmas[i]
        let x0 = DiscreteSigmaSchedule.predictOriginal(modelOutput, sample: sample, sigma: sigma, sigmaHat: sigma, type: settings.predictionType)
        derivatives.append(Tensor.zipWith(sample, x0) { xv, pv in (xv - pv) / sigma })
        let maxOrder = max(lmsOrder, 1)
        if derivatives.count > maxOrder { derivatives.removeFirst() }
        let order = min(i + 1, maxOrder)
        var terms: [(Float, Tensor)] = []
        for (k, d) in zip(0..<order, derivatives.reversed()) {
            terms.append((Float(coefficient(order: order, t: i, current: k)), d))
        }
        let sum = Tensor.linearCombination(terms)
        stepIndex += 1
        return Tensor.combine(1, sample, 1, sum)
    }
}
