import Foundation

/// Matches diffusers `KDPM2DiscreteScheduler` (schedulers/scheduling_k_dpm_2_discrete.py) at 0.42.1.
///
/// k-diffusion's DPM-Solver-2 ("DPM2"): each step evaluates the model at σ and at the geometric midpoint
/// σ_I = sqrt(σ_i·σ_{i+1}); 2N−1 model calls in all, the last an Euler step to σ = 0.
public struct KDPM2DiscreteScheduler: Scheduler {
    public static let diffusersClassName = "KDPM2DiscreteScheduler"
    public static var defaults: SchedulerSettings { HeunDiscreteScheduler.defaults }

    public let settings: SchedulerSettings
    public let noise: NoiseSchedule
    public let timesteps: [Float]
    public let sigmas: [Float]
    /// σ_I per call index (see diffusers `sigmas_interpol`).
    public let sigmasInterpol: [Float]
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
        let logSigmas = SigmaGrid.logSigmas(noise.sigmaTable)
        // σ_I_j = exp(lerp(log σ_j, log σ_{j−1}, 0.5)); σ_I_0 is unused, σ_I_N = 0.
        var interp = [Float](repeating: 0, count: sg.count)
        for j in 1..<sg.count where sg[j] > 0 {
            let a = Foundation.log(sg[j]), b = Foundation.log(sg[j - 1])
            interp[j] = Foundation.exp(b - (b - a) * 0.5)
        }
        var sig = [sg[0]], sigI = [interp[0]]
        for j in 1..<sg.count { sig += [sg[j], sg[j]]; sigI += [interp[j], interp[j]] }
        sig.append(sg[sg.count - 1]); sigI.append(interp[interp.count - 1])
        var ts = [Float(tg[0])]
        for j in 1..<n {
            ts.append(Float(SigmaGrid.sigmaToTFloat(interp[j], logSigmas: logSigmas)))
            ts.append(Float(tg[j]))
        }
        settings = s
        self.noise = noise
        sigmas = sig
        sigmasInterpol = sigI
        timesteps = ts
        numInferenceSteps = n
        initNoiseSigma = DiscreteSigmaSchedule.initNoiseSigma(sigmas: sig, spacing: s.timestepSpacing)
    }

    public mutating func setBeginIndex(_ index: Int) { stepIndex = index }

    public func scaleModelInput(_ sample: Tensor) -> Tensor {
        let i = min(stepIndex, sigmas.count - 1)
        return DiscreteSigmaSchedule.scale(sample, sigma: savedSample == nil ? sigmas[i] : sigmasInterpol[i])
    }

    public func addNoise(original: Tensor, noise z: Tensor, atIndex index: Int) -> Tensor {
        Tensor.combine(1, original, sigmas[min(max(index, 0), sigmas.count - 1)], z)
    }

    public mutating func step<R: RandomSource>(modelOutput: Tensor, sample: Tensor, random: inout R) throws(SchedulerError) -> Tensor {
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
