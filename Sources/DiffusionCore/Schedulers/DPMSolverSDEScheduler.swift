import Foundation

/// Matches diffusers `DPMSolverSDEScheduler` (schedulers/scheduling_dpmsolver_sde.py) at 0.42.1 ("DPM++ SDE").
///
/// k-diffusion's `sample_dpmpp_sde`: two model calls per step (at σ and at the log-midpoint), ancestral
/// noise after each. diffusers draws that noise from a torchsde Brownian tree seeded by
/// `noise_sampler_seed`; here it comes from the caller's ``RandomSource`` (one standard-normal draw per
/// noisy call, in call order), so runs are statistically, not sample-for-sample, equal unless the caller
/// injects the tree's increments.
public struct DPMSolverSDEScheduler: Scheduler {
    public static let diffusersClassName = "DPMSolverSDEScheduler"
    public static var defaults: SchedulerSettings { HeunDiscreteScheduler.defaults }

    public let settings: SchedulerSettings
    public let noise: NoiseSchedule
    public let timesteps: [Float]
    public let sigmas: [Float]
    public let initNoiseSigma: Float
    public let numInferenceSteps: Int
    public private(set) var stepIndex = 0
    public var order: Int { 2 }
    /// Noise multiplier (`s_noise`).
    public var sNoise: Float = 1
    var savedSample: Tensor?
    var midPointSigma: Float?

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
        // This class builds its linspace grid in float64 (not float32).
        var custom: [Double]? = nil
        if s.timestepSpacing == .linspace { custom = TimestepGrid.linspace(0, Double(s.numTrainTimesteps - 1), n).reversed() }
        var grid = DiscreteSigmaSchedule.make(settings: s, noise: noise, steps: n, respacing: .none, configRange: false)
        if let custom {
            grid.timesteps = custom
            grid.sigmas = custom.map { SigmaGrid.interp($0, table: noise.sigmaTable) }
        }
        if s.sigmaRespacing != .none, let lo = grid.sigmas.last, let hi = grid.sigmas.first {
            let logSigmas = SigmaGrid.logSigmas(noise.sigmaTable)
            grid.sigmas = SigmaGrid.respaced(s.sigmaRespacing, sigmaMin: lo, sigmaMax: hi, count: n) ?? grid.sigmas
            grid.timesteps = grid.sigmas.map { SigmaGrid.sigmaToT($0, logSigmas: logSigmas) }
        }
        let logSigmas = SigmaGrid.logSigmas(noise.sigmaTable)
        var mids: [Double] = []
        for j in 0..<(grid.sigmas.count - 1) {
            let t0 = -log(grid.sigmas[j]), t1 = -log(grid.sigmas[j + 1])
            mids.append(SigmaGrid.sigmaToT(exp(-(t0 + (t1 - t0) * 0.5)), logSigmas: logSigmas))
        }
        let sg = (grid.sigmas + [0]).map { Float($0) }
        var sig = [sg[0]]
        for v in sg.dropFirst().dropLast() { sig += [v, v] }
        sig.append(sg[sg.count - 1])
        var ts = [Float(grid.timesteps[0])]
        for j in 1..<n { ts += [Float(mids[j - 1]), Float(grid.timesteps[j])] }
        settings = s
        self.noise = noise
        sigmas = sig
        timesteps = ts
        numInferenceSteps = n
        initNoiseSigma = DiscreteSigmaSchedule.initNoiseSigma(sigmas: sig, spacing: s.timestepSpacing)
    }

    public mutating func setBeginIndex(_ index: Int) { stepIndex = index }

    public func scaleModelInput(_ sample: Tensor) -> Tensor {
        let i = min(stepIndex, sigmas.count - 1)
        return DiscreteSigmaSchedule.scale(sample, sigma: savedSample == nil ? sigmas[i] : (midPointSigma ?? sigmas[i]))
    }

    public func addNoise(original: Tensor, noise z: Tensor, atIndex index: Int) -> Tensor {
        Tensor.combine(1, original, sigmas[min(max(index, 0), sigmas.count - 1)], z)
    }

    public mutating func step<R: RandomSource>(modelOutput: Tensor, sample: Tensor, random: inout R) throws(SchedulerError) -> Tensor {
        try checkNotExhausted()
        let i = stepIndex
        let first = savedSample == nil
        let sigma = first ? sigmas[i] : sigmas[i - 1]
        let sigmaNext = first ? sigmas[i + 1] : sigmas[i]
        func tFn(_ s: Float) -> Float { -Foundation.log(s) }
        func sigmaFn(_ t: Float) -> Float { Foundation.exp(-t) }
        let t = tFn(sigma)
        var tNext = tFn(sigmaNext)
        let tProposed = t + (tNext - t) * 0.5
        let sigmaIn = first ? sigma : sigmaFn(tProposed)
        let x0 = DiscreteSigmaSchedule.predictOriginal(modelOutput, sample: sample, sigma: sigmaIn, sigmaHat: sigmaIn, type: settings.predictionType)
        let out: Tensor
        if sigmaNext == 0 {
            let dt = sigmaNext - sigma
            out = Tensor.zipWith(sample, x0) { xv, pv in xv + ((xv - pv) / sigma) * dt }
        } else {
            var x = sample
            if first { tNext = tProposed } else { x = savedSample ?? sample }
            let sFrom = sigmaFn(t), sTo = sigmaFn(tNext)
            let sUp = min(sTo, (sTo * sTo * (sFrom * sFrom - sTo * sTo) / (sFrom * sFrom)).squareRoot())
            let sDown = (sTo * sTo - sUp * sUp).squareRoot()
            let ancestralT = tFn(sDown)
            let c1 = sigmaFn(ancestralT) / sigmaFn(t)
            let c2 = -Foundation.expm1(t - ancestralT)
            let z = try random.normal(shape: modelOutput.shape)
            let moved = Tensor.combine(c1, x, c2, x0)
            out = Tensor.zipWith(moved, z) { u, zv in u + zv * sNoise * sUp }
            if first { savedSample = x; midPointSigma = sigmaFn(tNext) } else { savedSample = nil; midPointSigma = nil }
        }
        stepIndex += 1
        return out
    }
}
