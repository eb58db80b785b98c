import Foundation

/// Timestep and σ grids of the VP multistep solvers (DPM-Solver multistep/singlestep, UniPC, DEIS;
/// NUMERICS.md §4.0.4–§4.0.5). σ endpoints for respacing come from the full σ table.
struct MultistepGrid {
    /// Integer timesteps (one per solver step).
    var timesteps: [Int]
    /// σ per timestep, before the final σ is appended (float64 before the float32 cast).
    var sigmas: [Double]
    /// Whether a respacing method produced the σ values.
    var respaced: Bool

    /// - Parameters:
    ///   - baseGrid: the spaced integer grid (used as is when there is no respacing).
    ///   - roundKarras: round the Karras / λ-uniform timesteps (all but squaredcos DPM multistep).
    ///   - configRange: honour `sigma_min`/`sigma_max` (UniPC only).
    static func make(settings s: SchedulerSettings, noise: NoiseSchedule, steps N: Int, baseGrid: [Int],
                     roundKarras: Bool, configRange: Bool, allowLu: Bool) -> MultistepGrid {
        let table = noise.sigmaTable
        let logSigmas = SigmaGrid.logSigmas(table)
        let sMin = (configRange ? s.sigmaMin : nil) ?? Double(table[0])
        let sMax = (configRange ? s.sigmaMax : nil) ?? Double(table[table.count - 1])
        func toT(_ sig: [Double], round: Bool) -> [Int] {
            sig.map { v in
                let t = SigmaGrid.sigmaToT(v, logSigmas: logSigmas)
                return TimestepGrid.integer(round ? TimestepGrid.round(t) : t)   // the int64 cast truncates
            }
        }
        if s.useKarrasSigmas {
            let sig = SigmaGrid.karras(sigmaMin: sMin, sigmaMax: sMax, count: N)
            return MultistepGrid(timesteps: toT(sig, round: roundKarras), sigmas: sig, respaced: true)
        }
        if allowLu && s.useLuLambdas {
            let lmin = Double(logSigmas[0]), lmax = Double(logSigmas[logSigmas.count - 1])
            let sig = TimestepGrid.linspace(0, 1, N).map { r in exp(lmax + r * (lmin - lmax)) }
            return MultistepGrid(timesteps: toT(sig, round: roundKarras), sigmas: sig, respaced: true)
        }
        if s.useExponentialSigmas || s.useBetaSigmas {
            let sig = SigmaGrid.respaced(s.useBetaSigmas ? .beta : .exponential, sigmaMin: sMin, sigmaMax: sMax, count: N) ?? []
            return MultistepGrid(timesteps: toT(sig, round: false), sigmas: sig, respaced: true)
        }
        return MultistepGrid(timesteps: baseGrid, sigmas: baseGrid.map { SigmaGrid.interp(Double($0), table: table) }, respaced: false)
    }

    /// `clipped_idx = searchsorted(flip(λ_t), lambda_min_clipped)`; returns `T − clipped_idx`.
    static func lastTimestep(noise: NoiseSchedule, lambdaMinClipped: Double) -> Int {
        let T = noise.count
        guard lambdaMinClipped > -Double.infinity else { return T }
        // λ_t = log sqrt(ᾱ) − log sqrt(1−ᾱ), float32, decreasing in t; flipped it ascends.
        let lambdas = noise.alphasCumprod.map { a in Foundation.log(a.squareRoot()) - Foundation.log((1 - a).squareRoot()) }
        let clipped = lambdas.reversed().filter { Double($0) < lambdaMinClipped }.count
        return T - clipped
    }
}

/// VP-σ family x0̂ conversion (DPM-Solver++, UniPC, DEIS): α = 1/sqrt(σ²+1), s = σ·α.
enum VPPrediction {
    static func dataPrediction(_ m: Tensor, sample x: Tensor, sigma: Float, type: PredictionType) -> Tensor {
        let (a, s) = SigmaGrid.alphaSigma(sigma)
        switch type {
        case .epsilon: return Tensor.zipWith(x, m) { xv, mv in (xv - s * mv) / a }
        case .vPrediction: return Tensor.combine(a, x, -s, m)
        case .sample, .originalSample: return m
        }
    }

    /// `add_noise` for VP-σ schedulers: α·x0 + s·ε at σ.
    static func addNoise(original: Tensor, noise: Tensor, sigma: Float) -> Tensor {
        let (a, s) = SigmaGrid.alphaSigma(sigma)
        return Tensor.combine(a, original, s, noise)
    }
}
