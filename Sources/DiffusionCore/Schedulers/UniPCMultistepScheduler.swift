import Foundation

/// Matches diffusers `UniPCMultistepScheduler` (schedulers/scheduling_unipc_multistep.py) at 0.42.1,
/// data-prediction form (`predict_x0 = true`).
///
/// UniP predictor plus UniC corrector (bh1 or bh2), order 1–3, `disable_corrector`, `lower_order_final`.
/// Deviation on purpose: with `bh1` and a final σ of 0, diffusers returns NaN on the last step (−∞·0 in a
/// correction term that is multiplied by zero); here that term is skipped and the last step returns x0̂.
public struct UniPCMultistepScheduler: SigmaScheduler {
    public static let diffusersClassName = "UniPCMultistepScheduler"
    public static let parameterization = SigmaParameterization.variancePreserving
    public static var defaults: SchedulerSettings {
        var d = SchedulerSettings()
        d.solverType = .bh2
        return d
    }

    public var state: SigmaScheduleState
    var modelOutputs: [Tensor?]
    var lowerOrderNums = 0
    var lastSample: Tensor?
    var thisOrder = 1

    public init(config: SchedulerConfig, request: ScheduleRequest) throws(SchedulerError) {
        let s = SchedulerSettings(config, defaults: Self.defaults)
        let name = Self.diffusersClassName
        try s.validateMultistepBase(scheduler: name)
        guard s.solverType == .bh1 || s.solverType == .bh2 else {
            throw .unsupportedOption(scheduler: name, key: "solver_type", value: s.solverType.rawValue)
        }
        guard s.predictX0 else { throw .unsupportedOption(scheduler: name, key: "predict_x0", value: "false") }
        try s.validateSolverOrder(scheduler: name)
        let n = try request.stepCount(scheduler: name, allowTimesteps: false, allowSigmas: false)
        try TimestepGrid.validate(steps: n, trainSteps: s.numTrainTimesteps, scheduler: name)
        let noise = NoiseSchedule(settings: s, terminalAlphaCumprodFloor: true)
        let grid = MultistepGrid.make(settings: s, noise: noise, steps: n, lastTimestep: s.numTrainTimesteps,
                                      roundKarras: true, configRange: true, allowLu: false)
        let finalSigma: Double
        switch s.finalSigmasType {
        case .zero: finalSigma = 0
        case .sigmaMin: finalSigma = grid.sigmaMinFinal(noise: noise)
        }
        let (ts, sg) = grid.float32(finalSigma: finalSigma)
        state = SigmaScheduleState(settings: s, noise: noise, timesteps: ts, sigmas: sg, numInferenceSteps: grid.timesteps.count)
        modelOutputs = Array(repeating: nil, count: s.solverOrder)
    }

    public mutating func step<R: RandomSource>(modelOutput: Tensor, sample: Tensor, random: inout R) throws(SchedulerError) -> Tensor {
        try requireMatchingShapes(modelOutput, sample, history: modelOutputs + [lastSample])
        try checkNotExhausted()
        let i = stepIndex, s = settings
        var x = sample
        let useCorrector = i > 0 && !s.disableCorrector.contains(i - 1) && lastSample != nil
        let converted = VPPrediction.convertModelOutput(modelOutput, sample: sample, sigma: sigmas[i], settings: s)
        if useCorrector, let last = lastSample {
            x = update(anchor: last, target: i, source: i - 1, order: thisOrder, correction: converted)
        }
        modelOutputs.removeFirst()
        modelOutputs.append(converted)
        var order = s.lowerOrderFinal ? min(s.solverOrder, timesteps.count - i) : s.solverOrder
        order = min(order, lowerOrderNums + 1)
        thisOrder = order
        lastSample = x
        let prev = update(anchor: x, target: i + 1, source: i, order: order, correction: nil)
        if lowerOrderNums < s.solverOrder { lowerOrderNums += 1 }
        stepIndex += 1
        return prev
    }

    private func lambda(_ index: Int) -> (alpha: Float, sigma: Float, lambda: Float) {
        let (a, s) = SigmaGrid.alphaSigma(sigmas[index])
        return (a, s, Foundation.log(a) - Foundation.log(s))
    }

    /// One UniP (predictor, `correction == nil`) or UniC (corrector) update from σ[source] to σ[target].
    /// The previous points are s_k = source − k with outputs `modelOutputs[−1−k]`; `m0` is the newest stored
    /// output (the corrector runs before the new output is stored, the predictor after).
    private func update(anchor x: Tensor, target: Int, source: Int, order: Int, correction mt: Tensor?) -> Tensor {
        let (aT, sT, lT) = lambda(target)
        let (_, s0, l0) = lambda(source)
        let h = lT - l0
        let count = modelOutputs.count
        guard let m0 = modelOutputs[count - 1] else { return x }
        var rks: [Float] = []
        var d1s: [Tensor] = []
        if order > 1 {
            for k in 1..<order {
                let si = source - k
                guard si >= 0, let mi = modelOutputs[count - 1 - k] else { continue }
                let rk = (lambda(si).lambda - l0) / h
                rks.append(rk)
                d1s.append(Tensor.zipWith(mi, m0) { a, b in (a - b) / rk })
            }
        }
        rks.append(1)
        let hh = -h
        let hPhi1 = Foundation.expm1(hh)
        var hPhiK = hPhi1 / hh - 1
        var factorial: Float = 1
        let bh: Float = settings.solverType == .bh1 ? hh : Foundation.expm1(hh)
        var R: [[Double]] = []
        var b: [Double] = []
        for n in 1...order {
            R.append(rks.map { Double(pow($0, Float(n - 1))) })
            b.append(Double(hPhiK * factorial / bh))
            factorial *= Float(n + 1)
            hPhiK = hPhiK / hh - 1 / factorial
        }
        let base = Tensor.combine(sT / s0, x, -(aT * hPhi1), m0)
        if let mt {
            let rhos: [Float] = order == 1 ? [0.5] : LinearSolve.solve(R, b).map { Float($0) }
            let dt = Tensor.zipWith(mt, m0) { a, c in a - c }
            var res = dt.map { $0 * rhos[rhos.count - 1] }
            if !d1s.isEmpty {
                let corr = Tensor.linearCombination(zip(rhos.dropLast(), d1s).map { ($0, $1) })
                res = Tensor.zipWith(corr, dt) { c, d in c + rhos[rhos.count - 1] * d }
            }
            let c = aT * bh
            return Tensor.zipWith(base, res) { u, r in u - c * r }
        }
        guard !d1s.isEmpty else { return base }   // order 1: no correction term (avoids −∞·0 with bh1)
        let rhos: [Float]
        if order == 2 { rhos = [0.5] } else {
            rhos = LinearSolve.solve(Array(R.prefix(order - 1).map { Array($0.prefix(order - 1)) }), Array(b.prefix(order - 1))).map { Float($0) }
        }
        let pred = Tensor.linearCombination(zip(rhos, d1s).map { ($0, $1) })
        let c = aT * bh
        return Tensor.zipWith(base, pred) { u, r in u - c * r }
    }
}

/// Dense Gaussian elimination with partial pivoting for the tiny UniPC systems (n ≤ 3).
enum LinearSolve {
    static func solve(_ a: [[Double]], _ b: [Double]) -> [Double] {
        let n = b.count
        var m = a, v = b
        for col in 0..<n {
            var p = col
            for r in col..<n where abs(m[r][col]) > abs(m[p][col]) { p = r }
            m.swapAt(col, p); v.swapAt(col, p)
            let d = m[col][col]
            guard d != 0 else { continue }
            for r in (col + 1)..<n {
                let f = m[r][col] / d
                for c in col..<n { m[r][c] -= f * m[col][c] }
                v[r] -= f * v[col]
            }
        }
        var x = [Double](repeating: 0, count: n)
        for r in stride(from: n - 1, through: 0, by: -1) {
            var sum = v[r]
            for c in (r + 1)..<n { sum -= m[r][c] * x[c] }
            x[r] = m[r][r] != 0 ? sum / m[r][r] : 0
        }
        return x
    }
}
