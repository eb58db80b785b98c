import Foundation

/// Matches diffusers `KDPM2AncestralDiscreteScheduler` (schedulers/scheduling_k_dpm_2_ancestral_discrete.py) at 0.42.1.
///
/// "DPM2 a": DPM-Solver-2 to σ_down with the midpoint between σ and σ_down, plus fresh noise of size σ_up
/// from the caller after each second-order call.
public struct KDPM2AncestralDiscreteScheduler: SigmaScheduler {
    public static let diffusersClassName = "KDPM2AncestralDiscreteScheduler"
    public static let parameterization = SigmaParameterization.varianceExploding
    public static var defaults: SchedulerSettings { HeunDiscreteScheduler.defaults }

    public let sigmasInterpol: [Float]
    let sigmasUp: [Float]
    let sigmasDown: [Float]
    public var state: SigmaScheduleState
    public var order: Int { 2 }
    var savedSample: Tensor?

    public init(config: SchedulerConfig, request: ScheduleRequest) throws(SchedulerError) {
        let setup = try InterpolatedSigmaSchedule.Setup(config: config, request: request, defaults: Self.defaults,
                                                        scheduler: Self.diffusersClassName)
        let s = setup.settings, n = setup.steps
        let (tg, sg) = InterpolatedSigmaSchedule.kdpm2Grid(settings: s, noise: setup.noise, steps: n)   // sg: N+1
        let m = sg.count
        var up = [Float](repeating: 0, count: m), down = [Float](repeating: 0, count: m), interp = [Float](repeating: 0, count: m)
        for j in 0..<m {
            let next: Float = j + 1 < m ? sg[j + 1] : 0
            let (u, d) = DiscreteSigmaSchedule.ancestralStep(from: sg[j], to: next)
            up[j] = u
            down[j] = j == m - 1 ? 0 : d
        }
        // σ_I_j = exp(lerp(log σ_j, log σ_down_j, 0.5)); the last two stay 0.
        for j in 0..<max(m - 2, 0) { interp[j] = InterpolatedSigmaSchedule.logMidpoint(sg[j], down[j]) }
        let logSigmas = SigmaGrid.logSigmas(setup.noise.sigmaTable)
        let mids = interp[0..<(n - 1)].map { Float(SigmaGrid.sigmaToTFloat($0, logSigmas: logSigmas)) }
        let ts = InterpolatedSigmaSchedule.interleaved(tg.map { Float($0) }, midpoints: mids)
        state = SigmaScheduleState(settings: s, noise: setup.noise, timesteps: ts, sigmas: InterpolatedSigmaSchedule.repeatingTail(sg),
                                   initNoiseSigma: DiscreteSigmaSchedule.initNoiseSigma(sigmas: sg, spacing: s.timestepSpacing),
                                   numInferenceSteps: n)
        sigmasInterpol = InterpolatedSigmaSchedule.repeatingTail(interp)
        sigmasUp = InterpolatedSigmaSchedule.repeatingTail(up)
        sigmasDown = InterpolatedSigmaSchedule.repeatingTail(down)
    }

    public func scaleModelInput(_ sample: Tensor) -> Tensor {
        let i = min(stepIndex, sigmas.count - 1)
        return DiscreteSigmaSchedule.scale(sample, sigma: savedSample == nil ? sigmas[i] : sigmasInterpol[max(i - 1, 0)])
    }

    public mutating func step<R: RandomSource>(modelOutput: Tensor, sample: Tensor, random: inout R) throws(SchedulerError) -> Tensor {
        try requireMatchingShapes(modelOutput, sample, history: [savedSample])
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
            let z = try random.schedulerNoise(shape: modelOutput.shape)
            out = Tensor.combine(1, moved, sigmaUp, z)
        }
        stepIndex += 1
        return out
    }
}
