import Foundation

/// Matches diffusers `KDPM2AncestralDiscreteScheduler` (schedulers/scheduling_k_dpm_2_ancestral_discrete.py) at 0.42.1.
///
/// "DPM2 a": DPM-Solver-2 to σ_down with the midpoint between σ and σ_down, plus fresh noise of size σ_up
/// from the caller after each second-order call.
public struct KDPM2AncestralDiscreteScheduler: Scheduler {
    public static let diffusersClassName = "KDPM2AncestralDiscreteScheduler"
    public static var defaults: SchedulerSettings { HeunDiscreteScheduler.defaults }

    public let settings: SchedulerSettings
    public let noise: NoiseSchedule
    public let timesteps: [Float]
    public let sigmas: [Float]
    public let sigmasInterpol: [Float]
    let sigmasUp: [Float]
    let sigmasDown: [Float]
    public let initNoiseSigma: Float
    public let numInferenceSteps: Int
    public private(set) var stepIndex = 0
    public var order: Int { 2 }
    var savedSample: Tensor?

    public init(config: SchedulerConfig, request: ScheduleRequest) throws(SchedulerError) {
        var s = SchedulerSettings(config, defaults: Self.defaults)
        s.rescaleBetasZeroSNR = false
        let name = Self.diffusersClassName
        try s.validateCommon(scheduler: name, allowedBetaSchedules: [.linear, .scaledLinear, .squaredcosCapV2])
        try s.validateSigmaRespacing(scheduler: name)
        if s.predictionType == .sample || s.predictionType == .originalSample {
            throw .unsupportedOption(scheduler: name, key: "prediction_type", value: s.predictionType.rawValue)
        }
        let n = try request.stepCount(scheduler: name, allowTimesteps: false, allowSigmas: false)
        try TimestepGrid.validate(steps: n, trainSteps: s.numTrainTimesteps, scheduler: name)
        let noise = NoiseSchedule(settings: s, terminalAlphaCumprodFloor: false)
        let grid = DiscreteSigmaSchedule.make(settings: s, noise: noise, steps: n, respacing: s.sigmaRespacing, configRange: false)
        var tg = grid.timesteps
        if s.useKarrasSigmas { tg = tg.map { TimestepGrid.round($0) } }
        let sg = (grid.sigmas + [0]).map { Float($0) }   // N+1
        let m = sg.count
        var up = [Float](repeating: 0, count: m), down = [Float](repeating: 0, count: m), interp = [Float](repeating: 0, count: m)
        for j in 0..<m {
            let next: Float = j + 1 < m ? sg[j + 1] : 0
            let u = (next * next * (sg[j] * sg[j] - next * next) / (sg[j] * sg[j])).squareRoot()
            up[j] = u
            down[j] = j == m - 1 ? 0 : (next * next - u * u).squareRoot()
        }
        for j in 0..<max(m - 2, 0) {
            let a = Foundation.log(sg[j]), b = Foundation.log(down[j])
            interp[j] = Foundation.exp(b - (b - a) * 0.5)
        }
        func expand(_ v: [Float]) -> [Float] {
            var r = [v[0]]
            for j in 1..<v.count { r += [v[j], v[j]] }
            r.append(v[v.count - 1])
            return r
        }
        let logSigmas = SigmaGrid.logSigmas(noise.sigmaTable)
        var ts = [Float(tg[0])]
        for j in 1..<n {
            ts.append(Float(SigmaGrid.sigmaToTFloat(interp[j - 1], logSigmas: logSigmas)))
            ts.append(Float(tg[j]))
        }
        settings = s
        self.noise = noise
        sigmas = expand(sg)
        sigmasInterpol = expand(interp)
        sigmasUp = expand(up)
        sigmasDown = expand(down)
        timesteps = ts
        numInferenceSteps = n
        initNoiseSigma = DiscreteSigmaSchedule.initNoiseSigma(sigmas: sg, spacing: s.timestepSpacing)
    }

    public mutating func setBeginIndex(_ index: Int) { stepIndex = index }

    public func scaleModelInput(_ sample: Tensor) -> Tensor {
        let i = min(stepIndex, sigmas.count - 1)
        return DiscreteSigmaSchedule.scale(sample, sigma: savedSample == nil ? sigmas[i] : sigmasInterpol[max(i - 1, 0)])
    }

    public func addNoise(original: Tensor, noise z: Tensor, atIndex index: Int) -> Tensor {
        Tensor.combine(1, original, sigmas[min(max(index, 0), sigmas.count - 1)], z)
    }

    public mutating func step<R: RandomSource>(modelOutput: Tensor, sample: Tensor, random: inout R) throws(SchedulerError) -> Tensor {
        try checkNotExhausted()
        let i = stepIndex
        let out: Tensor
        if savedSample == nil {
            let sigma = sigmas[i], sigmaI = sigmasInterpol[i]
            let x0 = DiscreteSigmaSchedule.predictOriginal(modelOutput, sample: sample, sigma: sigma, sigmaHat: sigma, type: settings.predictionType)
            let dt = sigmaI - sigma
            savedSample = sample
            out = Tensor.zipWith(sample, x0) { xv, pv in xv + ((xv - pv) / sigma) * dt }
        } else {
            let sigma = sigmas[i - 1], sigmaI = sigmasInterpol[i - 1]
            let sigmaUp = sigmasUp[i - 1], sigmaDown = sigmasDown[i - 1]
            let x0 = DiscreteSigmaSchedule.predictOriginal(modelOutput, sample: sample, sigma: sigmaI, sigmaHat: sigmaI, type: settings.predictionType)
            let dt = sigmaDown - sigma
            let d = Tensor.zipWith(sample, x0) { xv, pv in (xv - pv) / sigmaI }
            let moved = Tensor.zipWith(savedSample ?? sample, d) { xv, dv in xv + dv * dt }
            savedSample = nil
            let z = try random.normal(shape: modelOutput.shape)
            out = Tensor.combine(1, moved, sigmaUp, z)
        }
        stepIndex += 1
        return out
    }
}
