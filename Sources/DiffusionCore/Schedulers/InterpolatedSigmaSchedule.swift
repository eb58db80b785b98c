import Foundation

/// Schedule construction shared by the k-diffusion second-order σ schedulers (KDPM2, KDPM2 a, DPM++ SDE,
/// and the σ/timestep doubling of Heun): each solver step is two model calls, so the σ and timestep
/// lists repeat entries (`repeat_interleave(2)`) and put an interpolated σ / timestep between them.
enum InterpolatedSigmaSchedule {
    /// The resolved settings, noise schedule and step count of KDPM2, KDPM2 a and DPM++ SDE: no
    /// `rescale_betas_zero_snr`, three beta schedules, one σ respacing at most, ε / v prediction only,
    /// a plain step count, no terminal ᾱ floor.
    struct Setup {
        var settings: SchedulerSettings
        let noise: NoiseSchedule
        let steps: Int

        init(config: SchedulerConfig, request: ScheduleRequest, defaults: SchedulerSettings, scheduler name: String) throws(SchedulerError) {
            var s = SchedulerSettings(config, defaults: defaults)
            s.rescaleBetasZeroSNR = false
            try s.validateCommon(scheduler: name, allowedBetaSchedules: [.linear, .scaledLinear, .squaredcosCapV2])
            try s.validateSigmaRespacing(scheduler: name)
            if s.predictionType == .sample || s.predictionType == .originalSample {
                throw .unsupportedOption(scheduler: name, key: "prediction_type", value: s.predictionType.rawValue)
            }
            let n = try request.stepCount(scheduler: name, allowTimesteps: false, allowSigmas: false)
            try TimestepGrid.validate(steps: n, trainSteps: s.numTrainTimesteps, scheduler: name)
            settings = s
            noise = NoiseSchedule(settings: s, terminalAlphaCumprodFloor: false)
            steps = n
        }
    }

    /// The KDPM2 / KDPM2 a base grid: the Euler-family σ schedule with the configured respacing, Karras
    /// timesteps rounded (`np.round`), and the final σ = 0 appended (N+1 float32 σ values).
    static func kdpm2Grid(settings s: SchedulerSettings, noise: NoiseSchedule, steps n: Int) -> (timesteps: [Double], sigmas: [Float]) {
        let grid = DiscreteSigmaSchedule.make(settings: s, noise: noise, steps: n, respacing: s.sigmaRespacing, configRange: false)
        var tg = grid.timesteps
        if s.useKarrasSigmas { tg = tg.map { TimestepGrid.round($0) } }
        return (tg, (grid.sigmas + [0]).map { Float($0) })
    }

    /// `σ.log().lerp(other.log(), 0.5).exp()` in float32 (torch's lerp for weight ≥ 0.5: end − (end − start)·0.5).
    @inline(__always)
    static func logMidpoint(_ sigma: Float, _ other: Float) -> Float {
        let a = Foundation.log(sigma), b = Foundation.log(other)
        return Foundation.exp(b - (b - a) * 0.5)
    }

    /// `torch.cat([v[:1], v[1:].repeat_interleave(2), v[-1:]])` (KDPM2, KDPM2 a: 2N+2 entries for N+1).
    static func repeatingTail(_ v: [Float]) -> [Float] {
        var r = [v[0]]
        for j in 1..<v.count { r += [v[j], v[j]] }
        r.append(v[v.count - 1])
        return r
    }

    /// `torch.cat([v[:1], v[1:-1].repeat_interleave(2), v[-1:]])` (Heun, DPM++ SDE: 2N entries for N+1).
    static func repeatingInterior(_ v: [Float]) -> [Float] {
        var r = [v[0]]
        for x in v.dropFirst().dropLast() { r.append(x); r.append(x) }
        r.append(v[v.count - 1])
        return r
    }

    /// `[t_0, m_0, t_1, m_1, …, t_{n−1}]`: the solver-step timesteps with the interpolated (midpoint) timestep
    /// of each second model call before the next step's timestep (`midpoints.count ≥ t.count − 1`).
    static func interleaved(_ t: [Float], midpoints: [Float]) -> [Float] {
        var ts = [t[0]]
        for j in 1..<t.count { ts += [midpoints[j - 1], t[j]] }
        return ts
    }
}
