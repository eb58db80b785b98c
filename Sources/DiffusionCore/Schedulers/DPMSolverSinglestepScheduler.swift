import Foundation

/// Matches diffusers `DPMSolverSinglestepScheduler` (schedulers/scheduling_dpmsolver_singlestep.py) at 0.42.1.
///
/// Singlestep DPM-Solver++ (order 1–3, midpoint/heun, optional `sde-dpmsolver++`): each order-k step
/// restarts from the sample saved at the preceding order-1 step. The timestep grid ignores
/// `timestep_spacing` (always linspace over the N+1 grid), as in diffusers.
public struct DPMSolverSinglestepScheduler: SigmaScheduler {
    public static let diffusersClassName = "DPMSolverSinglestepScheduler"
    public static let parameterization = SigmaParameterization.variancePreserving
    public static var defaults: SchedulerSettings {
        var d = SchedulerSettings()
        d.lowerOrderFinal = false
        return d
    }

    public var state: SigmaScheduleState
    /// The solver order used at each step (diffusers `order_list`).
    public let orderList: [Int]
    var modelOutputs: [Tensor?]
    var anchor: Tensor?

    public init(config: SchedulerConfig, request: ScheduleRequest) throws(SchedulerError) {
        var s = SchedulerSettings(config, defaults: Self.defaults)
        s.rescaleBetasZeroSNR = false
        let name = Self.diffusersClassName
        try s.validateMultistepBase(scheduler: name)
        try s.normalizeDPMSolverPlusPlus(scheduler: name)
        let n = try request.stepCount(scheduler: name, allowTimesteps: false, allowSigmas: false)
        try TimestepGrid.validate(steps: n, trainSteps: s.numTrainTimesteps, scheduler: name)
        let noise = NoiseSchedule(settings: s, terminalAlphaCumprodFloor: false)
        let last = MultistepGrid.lastTimestep(noise: noise, lambdaMinClipped: s.lambdaMinClipped)
        let grid = MultistepGrid.make(settings: s, noise: noise, steps: n, lastTimestep: last,
                                      roundKarras: true, configRange: false, allowLu: false, linspaceOnly: true)
        let finalSigma: Double = s.finalSigmasType == .zero ? 0 : Double(noise.sigmaTable[0])
        if !s.lowerOrderFinal && (n % s.solverOrder != 0 || s.finalSigmasType == .zero) { s.lowerOrderFinal = true }
        guard let orders = DPMSolverSinglestepScheduler.orderList(steps: n, order: s.solverOrder, lowerOrderFinal: s.lowerOrderFinal,
                                                                 finalZero: s.finalSigmasType == .zero), orders.count >= n else {
            throw .invalidStepCount(scheduler: name, steps: n, reason: "too few steps for solver_order \(s.solverOrder)")
        }
        let (ts, sg) = grid.float32(finalSigma: finalSigma)
        state = SigmaScheduleState(settings: s, noise: noise, timesteps: ts, sigmas: sg, numInferenceSteps: n)
        orderList = orders
        modelOutputs = Array(repeating: nil, count: s.solverOrder)
    }

    /// diffusers `get_order_list`.
    static func orderList(steps: Int, order: Int, lowerOrderFinal: Bool, finalZero: Bool) -> [Int]? {
        func rep(_ p: [Int], _ n: Int) -> [Int] { Array((0..<max(n, 0)).map { _ in p }.joined()) }
        var o: [Int]
        if lowerOrderFinal {
            switch order {
            case 3:
                switch steps % 3 {
                case 0: o = rep([1, 2, 3], steps / 3 - 1) + [1, 2, 1]
                case 1: o = rep([1, 2, 3], steps / 3) + [1]
                default: o = rep([1, 2, 3], steps / 3) + [1, 2]
                }
            case 2:
                o = steps % 2 == 0 ? rep([1, 2], steps / 2 - 1) + [1, 1]
                                   : rep([1, 2], steps / 2) + [1]
            default: o = Array(repeating: 1, count: steps)
            }
        } else {
            o = rep(Array(1...max(order, 1)), steps / max(order, 1))
        }
        guard !o.isEmpty else { return nil }
        if finalZero { o[o.count - 1] = 1 }
        return o
    }

    public mutating func step<R: RandomSource>(modelOutput: Tensor, sample: Tensor, random: inout R) throws(SchedulerError) -> Tensor {
        try requireMatchingShapes(modelOutput, sample, history: modelOutputs)
        try checkNotExhausted()
        let i = stepIndex, s = settings
        let x0 = VPPrediction.convertModelOutput(modelOutput, sample: sample, sigma: sigmas[i], settings: s)
        modelOutputs.removeFirst()
        modelOutputs.append(x0)
        let z: Tensor? = s.algorithmType == .sdeDpmsolverPlusPlus ? try random.schedulerNoise(shape: modelOutput.shape) : nil
        var order = orderList[min(i, orderList.count - 1)]
        while order > 1 && modelOutputs[modelOutputs.count - order] == nil { order -= 1 }
        if order == 1 { anchor = sample }
        let x = anchor ?? sample
        let prev: Tensor
        switch order {
        case 1: prev = VPPrediction.dpmSolverFirstOrder(x0, sample: x, noise: z, sigmaFrom: sigmas[i], sigmaTo: sigmas[i + 1])
        case 2: prev = secondOrder(sample: x, noise: z)
        default: prev = thirdOrder(sample: x, noise: z)
        }
        stepIndex += 1
        return prev
    }

    private func vp(_ index: Int) -> (Float, Float, Float) {
        let (a, s) = SigmaGrid.alphaSigma(sigmas[index])
        return (a, s, Foundation.log(a) - Foundation.log(s))
    }

    private func output(_ k: Int) -> Tensor { modelOutputs[modelOutputs.count - 1 - k] ?? Tensor(validShape: [0], scalars: []) }

    private func secondOrder(sample x: Tensor, noise z: Tensor?) -> Tensor {
        let i = stepIndex
        let (aT, sT, lT) = vp(i + 1)
        let (_, _, l0) = vp(i)
        let (_, s1, l1) = vp(i - 1)
        let h = lT - l1, h0 = l0 - l1
        let r0 = h0 / h, inv = 1 / r0
        let m0 = output(0), m1 = output(1)
        let d1 = Tensor.zipWith(m0, m1) { a, b in inv * (a - b) }
        if let z {
            let e2 = Foundation.exp(-2 * h)
            let c3: Float = settings.solverType == .heun ? aT * ((1 - e2) / (-2 * h) + 1) : 0.5 * (aT * (1 - e2))
            return Tensor.linearCombination([(sT / s1 * Foundation.exp(-h), x), (aT * (1 - e2), m1), (c3, d1), (sT * (1 - e2).squareRoot(), z)])
        }
        let e = Foundation.exp(-h)
        let c3: Float = settings.solverType == .heun ? aT * ((e - 1) / h + 1) : -(0.5 * (aT * (e - 1)))
        return Tensor.combine(sT / s1, x, -(aT * (e - 1)), m1, c3, d1)
    }

    private func thirdOrder(sample x: Tensor, noise z: Tensor?) -> Tensor {
        let i = stepIndex
        let (aT, sT, lT) = vp(i + 1)
        let (_, _, l0) = vp(i)
        let (_, _, l1) = vp(i - 1)
        let (_, s2, l2) = vp(i - 2)
        let h = lT - l2, h0 = l0 - l2, h1 = l1 - l2
        let r0 = h0 / h, r1 = h1 / h
        let m0 = output(0), m1 = output(1), m2 = output(2)
        let i1 = 1 / r1, i0 = 1 / r0
        let d10 = Tensor.zipWith(m1, m2) { a, b in i1 * (a - b) }
        let d11 = Tensor.zipWith(m0, m2) { a, b in i0 * (a - b) }
        let d1 = Tensor.zipWith(d10, d11) { a, b in (r0 * a - r1 * b) / (r0 - r1) }
        let d2 = Tensor.zipWith(d10, d11) { a, b in 2 * (b - a) / (r0 - r1) }
        let heun = settings.solverType == .heun
        if let z {
            let e2 = Foundation.exp(-2 * h)
            let c3 = aT * ((1 - e2) / (-2 * h) + 1)
            var terms: [(Float, Tensor)] = [(sT / s2 * Foundation.exp(-h), x), (aT * (1 - e2), m2), (c3, heun ? d1 : d11)]
            if heun { terms.append((aT * ((1 - e2 + -2 * h) / ((-2 * h) * (-2 * h)) - 0.5), d2)) }
            terms.append((sT * (1 - e2).squareRoot(), z))
            return Tensor.linearCombination(terms)
        }
        let e = Foundation.exp(-h)
        let c3 = aT * ((e - 1) / h + 1)
        var terms: [(Float, Tensor)] = [(sT / s2, x), (-(aT * (e - 1)), m2), (c3, heun ? d1 : d11)]
        if heun { terms.append((-(aT * ((e - 1 + h) / (h * h) - 0.5)), d2)) }
        return Tensor.linearCombination(terms)
    }
}

