import Foundation

/// Matches diffusers `DPMSolverMultistepScheduler` (schedulers/scheduling_dpmsolver_multistep.py) at 0.42.1.
///
/// DPM-Solver++ of order 1–3 (`dpmsolver++`, "DPM++ 2M", "DPM++ 3M") with midpoint or heun second-order
/// updates, and the SDE variant (`sde-dpmsolver++`, "DPM++ 2M SDE"), whose noise comes from the caller.
/// The deprecated ε-space variants (`dpmsolver`, `sde-dpmsolver`) are rejected.
public struct DPMSolverMultistepScheduler: SigmaScheduler {
    public static let diffusersClassName = "DPMSolverMultistepScheduler"
    public static let parameterization = SigmaParameterization.variancePreserving
    public static var defaults: SchedulerSettings { SchedulerSettings() }

    public var state: SigmaScheduleState
    var modelOutputs: [Tensor?]
    var lowerOrderNums = 0

    public init(config: SchedulerConfig, request: ScheduleRequest) throws(SchedulerError) {
        var s = SchedulerSettings(config, defaults: Self.defaults)
        let name = Self.diffusersClassName
        try s.validateMultistepBase(scheduler: name)
        try s.normalizeDPMSolverPlusPlus(scheduler: name)
        if let v = s.varianceType, v == .learned || v == .learnedRange {
            throw .unsupportedOption(scheduler: name, key: "variance_type", value: v.rawValue)
        }
        let n = try request.stepCount(scheduler: name, allowTimesteps: true, allowSigmas: false)
        let noise = NoiseSchedule(settings: s, terminalAlphaCumprodFloor: true)
        let grid: MultistepGrid
        if let custom = request.timesteps {
            if s.useKarrasSigmas || s.useLuLambdas || s.useExponentialSigmas || s.useBetaSigmas {
                throw .conflictingOptions(scheduler: name, reason: "custom timesteps cannot be combined with σ respacing")
            }
            let ts = try TimestepGrid.customIntegers(custom, scheduler: name)
            guard ts.allSatisfy({ $0 >= 0 && $0 < s.numTrainTimesteps }) else {
                throw .invalidCustomSchedule(scheduler: name, reason: "timesteps must lie in 0..<\(s.numTrainTimesteps)")
            }
            grid = MultistepGrid(timesteps: ts, sigmas: ts.map { SigmaGrid.interp(Double($0), table: noise.sigmaTable) }, respaced: false)
        } else {
            try TimestepGrid.validate(steps: n, trainSteps: s.numTrainTimesteps, scheduler: name)
            let last = MultistepGrid.lastTimestep(noise: noise, lambdaMinClipped: s.lambdaMinClipped)
            grid = MultistepGrid.make(settings: s, noise: noise, steps: n, lastTimestep: last,
                                      roundKarras: s.betaSchedule != .squaredcosCapV2, configRange: false, allowLu: true)
        }
        let finalSigma: Double = s.finalSigmasType == .zero ? 0 : Double(noise.sigmaTable[0])
        let (ts, sg) = grid.float32(finalSigma: finalSigma)
        state = SigmaScheduleState(settings: s, noise: noise, timesteps: ts, sigmas: sg, numInferenceSteps: grid.timesteps.count)
        modelOutputs = Array(repeating: nil, count: s.solverOrder)
    }

    public mutating func step<R: RandomSource>(modelOutput: Tensor, sample: Tensor, random: inout R) throws(SchedulerError) -> Tensor {
        try requireMatchingShapes(modelOutput, sample, history: modelOutputs)
        try checkNotExhausted()
        let i = stepIndex, count = timesteps.count, s = settings
        let lowerOrderFinal = i == count - 1 && (s.eulerAtFinal || (s.lowerOrderFinal && count < 15) || s.finalSigmasType == .zero)
        let lowerOrderSecond = i == count - 2 && s.lowerOrderFinal && count < 15
        let x0 = VPPrediction.convertModelOutput(modelOutput, sample: sample, sigma: sigmas[i], settings: s)
        modelOutputs.removeFirst()
        modelOutputs.append(x0)
        let z: Tensor? = s.algorithmType == .sdeDpmsolverPlusPlus ? try random.schedulerNoise(shape: modelOutput.shape) : nil
        let prev: Tensor
        if s.solverOrder == 1 || lowerOrderNums < 1 || lowerOrderFinal {
            prev = VPPrediction.dpmSolverFirstOrder(x0, sample: sample, noise: z, sigmaFrom: sigmas[i], sigmaTo: sigmas[i + 1])
        } else if s.solverOrder == 2 || lowerOrderNums < 2 || lowerOrderSecond {
            prev = secondOrder(sample: sample, noise: z)
        } else {
            prev = thirdOrder(sample: sample, noise: z)
        }
        if lowerOrderNums < s.solverOrder { lowerOrderNums += 1 }
        stepIndex += 1
        return prev
    }

    private func output(_ k: Int) -> Tensor {
        // k = 0 newest; callers only ask for entries the order logic guarantees.
        modelOutputs[modelOutputs.count - 1 - k] ?? Tensor(validShape: [0], scalars: [])
    }

    private func secondOrder(sample x: Tensor, noise z: Tensor?) -> Tensor {
        let i = stepIndex
        let (aT, sT) = SigmaGrid.alphaSigma(sigmas[i + 1])
        let (a0, s0) = SigmaGrid.alphaSigma(sigmas[i])
        let (a1, s1) = SigmaGrid.alphaSigma(sigmas[i - 1])
        let lT = Foundation.log(aT) - Foundation.log(sT)
        let l0 = Foundation.log(a0) - Foundation.log(s0)
        let l1 = Foundation.log(a1) - Foundation.log(s1)
        let h = lT - l0, h0 = l0 - l1
        let r0 = h0 / h
        let inv = 1 / r0
        let m0 = output(0), m1 = output(1)
        let d1 = Tensor.zipWith(m0, m1) { a, b in inv * (a - b) }
        let e = Foundation.exp(-h)
        if let z {
            let e2 = Foundation.exp(-2 * h)
            let c1 = sT / s0 * e, c2 = aT * (1 - e2)
            let c3: Float = s.solverType == .heun ? aT * ((1 - e2) / (-2 * h) + 1) : 0.5 * (aT * (1 - e2))
            return Tensor.linearCombination([(c1, x), (c2, m0), (c3, d1), (sT * (1 - e2).squareRoot(), z)])
        }
        let c1 = sT / s0, c2 = -(aT * (e - 1))
        let c3: Float = s.solverType == .heun ? aT * ((e - 1) / h + 1) : -(0.5 * (aT * (e - 1)))
        return Tensor.combine(c1, x, c2, m0, c3, d1)
    }

    private var s: SchedulerSettings { settings }

    private func thirdOrder(sample x: Tensor, noise z: Tensor?) -> Tensor {
        let i = stepIndex
        let (aT, sT) = SigmaGrid.alphaSigma(sigmas[i + 1])
        let (a0, s0) = SigmaGrid.alphaSigma(sigmas[i])
        let (a1, s1) = SigmaGrid.alphaSigma(sigmas[i - 1])
        let (a2, s2) = SigmaGrid.alphaSigma(sigmas[i - 2])
        let lT = Foundation.log(aT) - Foundation.log(sT)
        let l0 = Foundation.log(a0) - Foundation.log(s0)
        let l1 = Foundation.log(a1) - Foundation.log(s1)
        let l2 = Foundation.log(a2) - Foundation.log(s2)
        let h = lT - l0, h0 = l0 - l1, h1 = l1 - l2
        let r0 = h0 / h, r1 = h1 / h
        let m0 = output(0), m1 = output(1), m2 = output(2)
        let i0 = 1 / r0, i1 = 1 / r1, w = r0 / (r0 + r1), i01 = 1 / (r0 + r1)
        let d10 = Tensor.zipWith(m0, m1) { a, b in i0 * (a - b) }
        let d11 = Tensor.zipWith(m1, m2) { a, b in i1 * (a - b) }
        let d1 = Tensor.zipWith(d10, d11) { a, b in a + w * (a - b) }
        let d2 = Tensor.zipWith(d10, d11) { a, b in i01 * (a - b) }
        if let z {
            let e2 = Foundation.exp(-2 * h)
            let c1 = sT / s0 * Foundation.exp(-h), c2 = aT * (1 - e2)
            let c3 = aT * ((1 - e2) / (-2 * h) + 1)
            let c4 = aT * ((1 - e2 - 2 * h) / ((2 * h) * (2 * h)) - 0.5)
            return Tensor.linearCombination([(c1, x), (c2, m0), (c3, d1), (c4, d2), (sT * (1 - e2).squareRoot(), z)])
        }
        let e = Foundation.exp(-h)
        let c1 = sT / s0, c2 = -(aT * (e - 1))
        let c3 = aT * ((e - 1) / h + 1)
        let c4 = -(aT * ((e - 1 + h) / (h * h) - 0.5))
        return Tensor.linearCombination([(c1, x), (c2, m0), (c3, d1), (c4, d2)])
    }
}
