import Foundation

/// Matches diffusers `KDPM2DiscreteScheduler` (schedulers/scheduling_k_dpm_2_discrete.py) at 0.42.1.
///
/// k-diffusion's DPM-Solver-2 ("DPM2"): each step evaluates the model at σ and at the geometric midpoint
/// σ_I = sqrt(σ_i·σ_{i+1}); 2N−1 model calls in all, the last an Euler step to σ = 0.
public struct KDPM2DiscreteScheduler: SigmaScheduler {
    public static let diffusersClassName = "KDPM2DiscreteScheduler"
    public static let parameterization = SigmaParameterization.varianceExploding
    public static var defaults: SchedulerSettings { HeunDiscreteScheduler.defaults }

    /// σ_I per call index (see diffusers `sigmas_interpol`).
    public let sigmasInterpol: [Float]
    public var state: SigmaScheduleState
    public var order: Int { 2 }
    var savedSample: Tensor?

    public init(config: SchedulerConfig, request: ScheduleRequest) throws(SchedulerError) {
        let setup = try InterpolatedSigmaSchedule.Setup(config: config, request: request, defaults: Self.defaults,
                                                        scheduler: Self.diffusersClassName)
        let s = setup.settings, n = setup.steps
        let (tg, sg) = InterpolatedSigmaSchedule.kdpm2Grid(settings: s, noise: setup.noise, steps: n)   // sg: N+1
        let logSigmas = SigmaGrid.logSigmas(setup.noise.sigmaTable)
        // σ_I_j = exp(lerp(log σ_j, log σ_{j−1}, 0.5)); σ_I_0 is unused, σ_I_N = 0.
        var interp = [Float](repeating: 0, count: sg.count)
        for j in 1..<sg.count where sg[j] > 0 { interp[j] = InterpolatedSigmaSchedule.logMidpoint(sg[j], sg[j - 1]) }
        let sig = InterpolatedSigmaSchedule.repeatingTail(sg)
        let mids = interp[1..<n].map { Float(SigmaGrid.sigmaToTFloat($0, logSigmas: logSigmas)) }
        let ts = InterpolatedSigmaSchedule.interleaved(tg.map { Float($0) }, midpoints: mids)
        state = SigmaScheduleState(settings: s, noise: setup.noise, timesteps: ts, sigmas: sig,
                                   initNoiseSigma: DiscreteSigmaSchedule.initNoiseSigma(sigmas: sig, spacing: s.timestepSpacing),
                                   numInferenceSteps: n)
        sigmasInterpol = InterpolatedSigmaSchedule.repeatingTail(interp)
    }

    public func scaleModelInput(_ sample: Tensor) -> Tensor {
        DiscreteSigmaSchedule.scale(sample, sigmas: savedSample == nil ? sigmas : sigmasInterpol, atIndex: stepIndex)
    }

    public mutating func step<R: RandomSource>(modelOutput: Tensor, sample: Tensor, random: inout R) throws(SchedulerError) -> Tensor {
        try requireMatchingShapes(modelOutput, sample, history: [savedSample])
        try checkNotExhausted()
        let i = stepIndex
        let out: Tensor
        if savedSample == nil {
            let sigma = sigmas[i], sigmaI = sigmasInterpol[i + 1]
            let x0 = DiscreteSigmaSchedule.predictOriginal(modelOutput, sample: sample, sigma: sigma, sigmaHat: sigma, type: settings.predictionType)
            let dt = sigmaI - sigma
            savedSample = sample
            out = Tensor.zipWith(sample, x0) { xv, pv in xv + ((xv - pv) / sigma) * dt }
        } else {
            let sigma = sigmas[i - 1], sigmaI = sigmasInterpol[i], sigmaNext = sigmas[i]
            let x0 = DiscreteSigmaSchedule.predictOriginal(modelOutput, sample: sample, sigma: sigmaI, sigmaHat: sigmaI, type: settings.predictionType)
            let dt = sigmaNext - sigma
            let d = Tensor.zipWith(sample, x0) { xv, pv in (xv - pv) / sigmaI }
            out = Tensor.zipWith(savedSample ?? sample, d) { xv, dv in xv + dv * dt }
            savedSample = nil
        }
        stepIndex += 1
        return out
    }
}
