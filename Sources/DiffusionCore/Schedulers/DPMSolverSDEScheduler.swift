import Foundation

/// Matches diffusers `DPMSolverSDEScheduler` (schedulers/scheduling_dpmsolver_sde.py) at 0.42.1 ("DPM++ SDE").
///
/// k-diffusion's `sample_dpmpp_sde`: two model calls per step (at σ and at the log-midpoint), ancestral
/// noise after each. diffusers draws that noise from a torchsde Brownian tree seeded by
/// `noise_sampler_seed`; here it comes from the caller's ``RandomSource`` (one standard-normal draw per
/// noisy call, in call order), so runs are statistically, not sample-for-sample, equal unless the caller
/// injects the tree's increments.
public struct DPMSolverSDEScheduler: SigmaScheduler {
    public static let diffusersClassName = "DPMSolverSDEScheduler"
    public static let parameterization = SigmaParameterization.varianceExploding
    public static var defaults: SchedulerSettings { HeunDiscreteScheduler.defaults }

    public var state: SigmaScheduleState
    public var order: Int { 2 }
    /// Noise multiplier (`s_noise`).
    public var sNoise: Float = 1
    var savedSample: Tensor?
    var midPointSigma: Float?

    public init(config: SchedulerConfig, request: ScheduleRequest) throws(SchedulerError) {
        let setup = try InterpolatedSigmaSchedule.Setup(config: config, request: request, defaults: Self.defaults,
                                                        scheduler: Self.diffusersClassName)
        let s = setup.settings, n = setup.steps, noise = setup.noise
        // This class builds its linspace grid in float64 (not float32).
        let linspace64: [Double]? = s.timestepSpacing == .linspace
            ? TimestepGrid.linspace(0, Double(s.numTrainTimesteps - 1), n).reversed() : nil
        let grid = DiscreteSigmaSchedule.make(settings: s, noise: noise, steps: n, respacing: s.sigmaRespacing,
                                              configRange: false, float64Timesteps: linspace64)
        let logSigmas = SigmaGrid.logSigmas(noise.sigmaTable)
        var mids: [Double] = []
        for j in 0..<(grid.sigmas.count - 1) {
            let t0 = -log(grid.sigmas[j]), t1 = -log(grid.sigmas[j + 1])
            mids.append(SigmaGrid.sigmaToT(exp(-(t0 + (t1 - t0) * 0.5)), logSigmas: logSigmas))
        }
        let sig = InterpolatedSigmaSchedule.repeatingInterior((grid.sigmas + [0]).map { Float($0) })
        let ts = InterpolatedSigmaSchedule.interleaved(grid.timesteps.map { Float($0) }, midpoints: mids.map { Float($0) })
        state = SigmaScheduleState(settings: s, noise: noise, timesteps: ts, sigmas: sig,
                                   initNoiseSigma: DiscreteSigmaSchedule.initNoiseSigma(sigmas: sig, spacing: s.timestepSpacing),
                                   numInferenceSteps: n)
    }

    public func scaleModelInput(_ sample: Tensor) -> Tensor {
        let i = min(stepIndex, sigmas.count - 1)
        return DiscreteSigmaSchedule.scale(sample, sigma: savedSample == nil ? sigmas[i] : (midPointSigma ?? sigmas[i]))
    }

    public mutating func step<R: RandomSource>(modelOutput: Tensor, sample: Tensor, random: inout R) throws(SchedulerError) -> Tensor {
        try requireMatchingShapes(modelOutput, sample)
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
            let (sUp, sDown) = DiscreteSigmaSchedule.ancestralStep(from: sFrom, to: sTo, capUp: true)
            let ancestralT = tFn(sDown)
            let c1 = sigmaFn(ancestralT) / sigmaFn(t)
            let c2 = -Foundation.expm1(t - ancestralT)
            let z = try random.schedulerNoise(shape: modelOutput.shape)
            let moved = Tensor.combine(c1, x, c2, x0)
            out = Tensor.zipWith(moved, z) { u, zv in u + zv * sNoise * sUp }
            if first { savedSample = x; midPointSigma = sigmaFn(tNext) } else { savedSample = nil; midPointSigma = nil }
        }
        stepIndex += 1
        return out
    }
}
