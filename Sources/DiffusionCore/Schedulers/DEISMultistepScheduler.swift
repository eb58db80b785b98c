import Foundation

/// Matches diffusers `DEISMultistepScheduler` (schedulers/scheduling_deis_multistep.py) at 0.42.1.
///
/// DEIS log-ρ multistep, order 1–3. Note that diffusers ends DEIS at σ_min of the table (0.029 for SD),
/// not at 0; with σ respacing the last σ is repeated, so the last step is a no-op.
public struct DEISMultistepScheduler: SigmaScheduler {
    public static let diffusersClassName = "DEISMultistepScheduler"
    public static let parameterization = SigmaParameterization.variancePreserving
    public static var defaults: SchedulerSettings {
        var d = SchedulerSettings()
        d.algorithmType = .deis
        d.solverType = .logrho
        return d
    }

    public var state: SigmaScheduleState
    var modelOutputs: [Tensor?]
    var lowerOrderNums = 0

    public init(config: SchedulerConfig, request: ScheduleRequest) throws(SchedulerError) {
        var s = SchedulerSettings(config, defaults: Self.defaults)
        s.rescaleBetasZeroSNR = false
        let name = Self.diffusersClassName
        try s.validateMultistepBase(scheduler: name)
        if s.algorithmType == .dpmsolver || s.algorithmType == .dpmsolverPlusPlus { s.algorithmType = .deis }
        guard s.algorithmType == .deis else { throw .unsupportedOption(scheduler: name, key: "algorithm_type", value: s.algorithmType.rawValue) }
        try s.validateSolverOrder(scheduler: name)
        let n = try request.stepCount(scheduler: name, allowTimesteps: false, allowSigmas: false)
        try TimestepGrid.validate(steps: n, trainSteps: s.numTrainTimesteps, scheduler: name)
        let noise = NoiseSchedule(settings: s, terminalAlphaCumprodFloor: false)
        let grid = MultistepGrid.make(settings: s, noise: noise, steps: n, lastTimestep: s.numTrainTimesteps,
                                      roundKarras: true, configRange: false, allowLu: false)
        let (ts, sg) = grid.float32(finalSigma: grid.sigmaMinFinal(noise: noise))
        state = SigmaScheduleState(settings: s, noise: noise, timesteps: ts, sigmas: sg, numInferenceSteps: grid.timesteps.count)
        modelOutputs = Array(repeating: nil, count: s.solverOrder)
    }

    public mutating func step<R: RandomSource>(modelOutput: Tensor, sample: Tensor, random: inout R) throws(SchedulerError) -> Tensor {
        try requireMatchingShapes(modelOutput, sample, history: modelOutputs)
        try checkNotExhausted()
        let i = stepIndex, count = timesteps.count, s = settings
        let lowerFinal = i == count - 1 && s.lowerOrderFinal && count < 15
        let lowerSecond = i == count - 2 && s.lowerOrderFinal && count < 15
        let x0 = VPPrediction.convertModelOutput(modelOutput, sample: sample, sigma: sigmas[i], settings: s)
        let (a, sg) = SigmaGrid.alphaSigma(sigmas[i])
        let eps = Tensor.zipWith(sample, x0) { xv, pv in (xv - a * pv) / sg }
        modelOutputs.removeFirst()
        modelOutputs.append(eps)
        let prev: Tensor
        if s.solverOrder == 1 || lowerOrderNums < 1 || lowerFinal {
            let (aT, sT) = SigmaGrid.alphaSigma(sigmas[i + 1])
            let h = (Foundation.log(aT) - Foundation.log(sT)) - (Foundation.log(a) - Foundation.log(sg))
            prev = Tensor.combine(aT / a, sample, -(sT * (Foundation.exp(h) - 1)), eps)
        } else if s.solverOrder == 2 || lowerOrderNums < 2 || lowerSecond {
            prev = multistep(sample: sample, order: 2)
        } else {
            prev = multistep(sample: sample, order: 3)
        }
        if lowerOrderNums < s.solverOrder { lowerOrderNums += 1 }
        stepIndex += 1
        return prev
    }

    private func multistep(sample x: Tensor, order: Int) -> Tensor {
        let i = stepIndex
        let (aT, sT) = SigmaGrid.alphaSigma(sigmas[i + 1])
        var rho = [Float](), alphas = [Float]()
        for k in 0..<order {
            let (a, s) = SigmaGrid.alphaSigma(sigmas[i - k])
            rho.append(s / a); alphas.append(a)
        }
        let rt = sT / aT
        func L(_ v: Float) -> Float { Foundation.log(v) }
        let m = (0..<order).map { modelOutputs[modelOutputs.count - 1 - $0] ?? x }
        var coeffs: [Float]
        if order == 2 {
            func f(_ t: Float, _ b: Float, _ c: Float) -> Float { t * (-L(c) + L(t) - 1) / (L(b) - L(c)) }
            coeffs = [f(rt, rho[0], rho[1]) - f(rho[0], rho[0], rho[1]),
                      f(rt, rho[1], rho[0]) - f(rho[0], rho[1], rho[0])]
        } else {
            func g(_ t: Float, _ b: Float, _ c: Float, _ d: Float) -> Float {
                let lb = L(b), lc = L(c), ld = L(d), lt = L(t)
                let p1: Float = lc * (ld - lt + 1)
                let p2: Float = p1 - ld * lt + ld
                let p3: Float = p2 + lt * lt - 2 * lt + 2
                return (t * p3) / ((lb - lc) * (lb - ld))
            }
            coeffs = [g(rt, rho[0], rho[1], rho[2]) - g(rho[0], rho[0], rho[1], rho[2]),
                      g(rt, rho[1], rho[2], rho[0]) - g(rho[0], rho[1], rho[2], rho[0]),
                      g(rt, rho[2], rho[0], rho[1]) - g(rho[0], rho[2], rho[0], rho[1])]
        }
        let a0 = alphas[0]
        var inner = x.map { $0 / a0 }
        for (c, mk) in zip(coeffs, m) { inner = Tensor.zipWith(inner, mk) { u, v in u + c * v } }
        return inner.map { aT * $0 }
    }
}
