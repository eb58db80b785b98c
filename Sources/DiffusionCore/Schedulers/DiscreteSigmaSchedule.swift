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
    ///   - customTimesteps: caller timesteps, cast to float32 like the spaced grid.
    ///   - float64Timesteps: a grid used as is, without the float32 cast (DPM++ SDE's linspace grid).
    static func make(settings s: SchedulerSettings, noise: NoiseSchedule, steps N: Int,
                     respacing: SigmaRespacing, configRange: Bool,
                     customTimesteps: [Double]? = nil, float64Timesteps: [Double]? = nil) -> DiscreteSigmaSchedule {
        let table = noise.sigmaTable
        var timesteps: [Double]
        if let exact = float64Timesteps {
            timesteps = exact
        } else {
            let t32: [Float]
            if let custom = customTimesteps {
                t32 = custom.map { Float($0) }
            } else {
                t32 = TimestepGrid.floatGrid(spacing: s.timestepSpacing, trainSteps: s.numTrainTimesteps, steps: N, offset: s.stepsOffset)
            }
            timesteps = t32.map { Double($0) }
        }
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

    /// `scale_model_input` at model call `index` (clamped to the last σ).
    static func scale(_ sample: Tensor, sigmas: [Float], atIndex index: Int) -> Tensor {
        scale(sample, sigma: sigmas[min(index, sigmas.count - 1)])
    }

    /// `add_noise` of the VE σ schedulers: x0 + σ·ε with σ of model call `index` (clamped to the σ list).
    static func addNoise(original: Tensor, noise z: Tensor, sigmas: [Float], atIndex index: Int) -> Tensor {
        Tensor.combine(1, original, sigmas[min(max(index, 0), sigmas.count - 1)], z)
    }

    /// k-diffusion `get_ancestral_step` (η = 1, float32): σ_up = sqrt(σ_to²·(σ_from² − σ_to²)/σ_from²),
    /// σ_down = sqrt(σ_to² − σ_up²). `capUp` applies k-diffusion's `min(σ_to, σ_up)`, which diffusers keeps
    /// only in DPM++ SDE (Euler a and KDPM2 a use the bare formula).
    @inline(__always)
    static func ancestralStep(from sigma: Float, to next: Float, capUp: Bool = false) -> (up: Float, down: Float) {
        var up = (next * next * (sigma * sigma - next * next) / (sigma * sigma)).squareRoot()
        if capUp { up = min(next, up) }
        return (up, (next * next - up * up).squareRoot())
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
