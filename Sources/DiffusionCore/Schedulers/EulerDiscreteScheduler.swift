import Foundation

/// Matches diffusers `EulerDiscreteScheduler` (schedulers/scheduling_euler_discrete.py) at 0.42.1.
///
/// Karras / exponential / beta σ, `sigma_min`/`sigma_max`, `final_sigmas_type`, `interpolation_type`,
/// continuous v-prediction timesteps, custom timesteps or σ, and optional "churn" (`sChurn` …).
public struct EulerDiscreteScheduler: SigmaScheduler {
    public static let diffusersClassName = "EulerDiscreteScheduler"
    public static let parameterization = SigmaParameterization.varianceExploding
    public static var defaults: SchedulerSettings { SchedulerSettings() }

    public var state: SigmaScheduleState

    /// Stochastic churn (k-diffusion `s_churn`, default 0 = deterministic).
    public var sChurn: Float = 0
    public var sTmin: Float = 0
    public var sTmax: Float = .infinity
    public var sNoise: Float = 1

    public init(config: SchedulerConfig, request: ScheduleRequest) throws(SchedulerError) {
        let s = SchedulerSettings(config, defaults: Self.defaults)
        let name = Self.diffusersClassName
        try s.validateCommon(scheduler: name, allowedBetaSchedules: [.linear, .scaledLinear, .squaredcosCapV2])
        try s.validateSigmaRespacing(scheduler: name)
        let n = try request.stepCount(scheduler: name, allowTimesteps: true, allowSigmas: true)
        if request.timesteps != nil && s.sigmaRespacing != .none {
            throw .conflictingOptions(scheduler: name, reason: "custom timesteps cannot be combined with Karras/exponential/beta sigmas")
        }
        let continuousV = s.timestepType == .continuous && s.predictionType == .vPrediction
        if request.timesteps != nil && continuousV {
            throw .conflictingOptions(scheduler: name, reason: "custom timesteps cannot be combined with continuous v-prediction timesteps")
        }
        if request.timesteps == nil && request.sigmas == nil {
            try TimestepGrid.validate(steps: n, trainSteps: s.numTrainTimesteps, scheduler: name)
        }
        let noise = NoiseSchedule(settings: s, terminalAlphaCumprodFloor: true)
        var ts: [Float]
        var sg: [Float]
        if let custom = request.sigmas {
            let logSigmas = SigmaGrid.logSigmas(noise.sigmaTable)
            sg = custom.map { Float($0) }
            ts = sg.dropLast().map { Float(SigmaGrid.sigmaToTFloat($0, logSigmas: logSigmas)) }
        } else {
            let grid = DiscreteSigmaSchedule.make(settings: s, noise: noise, steps: n, respacing: s.sigmaRespacing,
                                                  configRange: true, customTimesteps: request.timesteps)
            var sig = grid.sigmas
            if s.interpolationType == .logLinear {
                let table = noise.sigmaTable
                let lo = Float(Foundation.log(table[table.count - 1])), hi = Float(Foundation.log(table[0]))
                sig = NoiseSchedule.torchLinspace(lo, hi, n + 1).map { Double(Foundation.exp($0)) }
            }
            if s.sigmaRespacing != .none { sig = grid.sigmas }
            let last: Double = s.finalSigmasType == .zero ? 0 : Double(noise.sigmaTable[0])
            sg = (sig + [last]).map { Float($0) }
            ts = grid.timesteps.map { Float($0) }
        }
        if continuousV {
            ts = sg.dropLast().map { 0.25 * Foundation.log($0) }
        }
        state = SigmaScheduleState(settings: s, noise: noise, timesteps: ts, sigmas: sg,
                                   initNoiseSigma: DiscreteSigmaSchedule.initNoiseSigma(sigmas: sg, spacing: s.timestepSpacing),
                                   numInferenceSteps: n)
    }

    public mutating func step<R: RandomSource>(modelOutput: Tensor, sample: Tensor, random: inout R) throws(SchedulerError) -> Tensor {
        try requireMatchingShapes(modelOutput, sample)
        try checkNotExhausted()
        let sigma = sigmas[stepIndex]
        let gamma: Float = (sTmin <= sigma && sigma <= sTmax) ? min(sChurn / Float(sigmas.count - 1), Float(2).squareRoot() - 1) : 0
        let sigmaHat = sigma * (gamma + 1)
        var x = sample
        if gamma > 0 {
            let z = try random.schedulerNoise(shape: modelOutput.shape)
            let c = (sigmaHat * sigmaHat - sigma * sigma).squareRoot()
            x = Tensor.zipWith(x, z) { xv, zv in xv + (zv * sNoise) * c }
        }
        let x0 = DiscreteSigmaSchedule.predictOriginal(modelOutput, sample: x, sigma: sigma, sigmaHat: sigmaHat, type: settings.predictionType)
        let dt = sigmas[stepIndex + 1] - sigmaHat
        let out = Tensor.zipWith(x, x0) { xv, pv in xv + ((xv - pv) / sigmaHat) * dt }
        stepIndex += 1
        return out
    }
}

extension SigmaGrid {
    /// `_sigma_to_t` for a float32 σ (custom σ lists): the logarithm and weights are float32 like NumPy.
    static func sigmaToTFloat(_ sigma: Float, logSigmas: [Float]) -> Double {
        let n = logSigmas.count
        guard n >= 2 else { return 0 }
        let ls = Foundation.log(max(sigma, 1e-10))
        var lo = 0
        for k in 0..<n where ls - logSigmas[k] >= 0 { lo = k }
        lo = min(lo, n - 2)
        let low = logSigmas[lo], high = logSigmas[lo + 1]
        let w = min(max((low - ls) / (low - high), 0), 1)
        return Double(1 - w) * Double(lo) + Double(w) * Double(lo + 1)
    }
}
