import Foundation

/// The σ schedule of the Euler-family schedulers (Euler, Euler a, Heun, LMS, KDPM2, KDPM2 a):
/// timesteps on the spaced grid, σ interpolated linearly from the table, optional respacing,
/// then the final σ (NUMERICS.md §4.0.5).
struct DiscreteSigmaSchedule {
    /// Timesteps before the float32 cast (fractional after respacing).
    var timesteps: [Double]
    /// σ for each timestep, without the final σ (float64 before the float32 cast).
    var sigmas: [Double]

    /// - Parameters:
    ///   - configRange: use `sigma_min`/`sigma_max` from the config for respacing (Euler only).
    ///   - respacing: the respacing method (Euler Ancestral passes `.none`).
    static func make(settings s: SchedulerSettings, noise: NoiseSchedule, steps N: Int,
                     respacing: SigmaRespacing, configRange: Bool,
                     customTimesteps: [Double]? = nil) -> DiscreteSigmaSchedule {
        let table = noise.sigmaTable
        let t32: [Float]
        if let custom = customTimesteps {
            t32 = custom.map { Float($0) }
        } else {
            t32 = TimestepGrid.floatGrid(spacing: s.timestepSpacing, trainSteps: s.numTrainTimesteps, steps: N, offset: s.stepsOffset)
        }
        var timesteps = t32.map { Double($0) }
        var sigmas = timesteps.map { SigmaGrid.interp($0, table: table) }
        if respacing != .none, let last = sigmas.last, let first = sigmas.first {
            let lo = (configRange ? s.sigmaMin : nil) ?? last
            let hi = (configRange ? s.sigmaMax : nil) ?? first
            let logSigmas = SigmaGrid.logSigmas(table)
            sigmas = SigmaGrid.respaced(respacing, sigmaMin: lo, sigmaMax: hi, count: sigmas.count) ?? sigmas
            timesteps = sigmas.map { SigmaGrid.sigmaToT($0, logSigmas: logSigmas) }
        }
        return DiscreteSigmaSchedule(timesteps: timesteps, sigmas: sigmas)
    }

    /// Euler-family `init_noise_sigma`: max σ for linspace/trailing spacing, sqrt(max σ² + 1) for leading.
    static func initNoiseSigma(sigmas: [Float], spacing: TimestepSpacing) -> Float {
        let m = sigmas.max() ?? 1
        switch spacing {
        case .linspace, .trailing: return m
        case .leading: return (m * m + 1).squareRoot()
        }
    }

    /// `sample / sqrt(σ² + 1)`.
    static func scale(_ sample: Tensor, sigma: Float) -> Tensor {
        let d = (sigma * sigma + 1).squareRoot()
        return sample.map { $0 / d }
    }

    /// Euler-family x0̂ (NUMERICS.md §4.0.6, VE family). `sigmaHat` is used for epsilon, `sigma` for v.
    static func predictOriginal(_ m: Tensor, sample x: Tensor, sigma: Float, sigmaHat: Float, type: PredictionType) -> Tensor {
        switch type {
        case .epsilon:
            return Tensor.zipWith(x, m) { xv, mv in xv - sigmaHat * mv }
        case .vPrediction:
            let c1 = -sigma / (sigma * sigma + 1).squareRoot()
            let c2 = sigma * sigma + 1
            return Tensor.zipWith(x, m) { xv, mv in mv * c1 + xv / c2 }
        case .sample, .originalSample:
            return m
        }
    }
}
