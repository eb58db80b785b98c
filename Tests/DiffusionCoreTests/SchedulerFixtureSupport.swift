import Foundation
@testable import DiffusionCore

/// One diffusers reference run, as written by `Scripts/fixtures/schedulers.py`.
struct SchedulerFixtureCase: Decodable {
    struct Call: Decodable {
        let t: Float
        let sample: [Float]
        let noise: [[Float]]?
        let denoised: [Float]?
    }

    let name: String
    let schedulerClass: String
    let config: SchedulerConfig
    let steps: Int?
    let shape: [Int]
    let requestTimesteps: [Double]?
    let requestSigmas: [Double]?
    let requestStrength: Double?
    let requestOriginalInferenceSteps: Int?
    let stepKwargs: [String: Double]?
    let timesteps: [Float]
    let sigmas: [Float]?
    let initNoiseSigma: Float
    let img2imgStrength: Double?
    let beginIndex: Int?
    let clean: [Float]?
    let noise: [Float]?
    let initial: [Float]
    let calls: [Call]

    enum CodingKeys: String, CodingKey {
        case name, config, steps, shape, timesteps, sigmas, clean, noise, initial, calls
        case schedulerClass = "class"
        case requestTimesteps = "request_timesteps"
        case requestSigmas = "request_sigmas"
        case requestStrength = "request_strength"
        case requestOriginalInferenceSteps = "request_original_inference_steps"
        case stepKwargs = "step_kwargs"
        case initNoiseSigma = "init_noise_sigma"
        case img2imgStrength = "img2img_strength"
        case beginIndex = "begin_index"
    }

    var id: String { "\(schedulerClass)/\(name)" }
}

struct SchedulerFixtureFile: Decodable {
    let diffusers: String
    let torch: String
    let cases: [SchedulerFixtureCase]

    static func load(_ kind: SchedulerKind) throws -> SchedulerFixtureFile {
        guard let url = Bundle.module.url(forResource: kind.rawValue, withExtension: "json", subdirectory: "Fixtures/schedulers") else {
            throw FixtureError.missing(kind.rawValue)
        }
        let decoder = JSONDecoder()
        decoder.allowsJSON5 = true   // NaN literals (UniPC bh1 quirk)
        return try decoder.decode(SchedulerFixtureFile.self, from: Data(contentsOf: url))
    }
}

enum FixtureError: Error { case missing(String) }

/// The fake "UNet" of the fixture script: m = 0.5 · x_in · cos(t/1000) + 0.05 (float32).
func fakeModel(_ xIn: Tensor, timestep t: Float) -> Tensor {
    let c = cos(t / 1000)
    return xIn.map { 0.5 * $0 * c + 0.05 }
}

/// The result of replaying one fixture case.
struct ReplayReport {
    var timestepError: Float = 0
    var sigmaError: Float = 0
    var initNoiseSigmaError: Float = 0
    var initialError: Float = 0
    /// Largest |Swift − diffusers| over all samples, each step fed with the diffusers sample.
    var forcedError: Float = 0
    /// Largest |Swift − diffusers| over all samples, Swift running on its own output.
    var freeError: Float = 0
    var denoisedError: Float = 0
    /// First failures: (call index, element, expected, actual).
    var failures: [String] = []
    var noiseMismatch: [String] = []
}

func maxAbs(_ a: [Float], _ b: [Float]) -> (Float, Int) {
    var m: Float = 0, idx = -1
    for i in 0..<min(a.count, b.count) {
        let d = abs(a[i] - b[i])
        if d > m || (d.isNaN && !m.isNaN) { m = d; idx = i }
    }
    if a.count != b.count { return (.infinity, -1) }
    return (m, idx)
}

/// Builds the scheduler described by a case and applies its runtime options.
func makeScheduler(for c: SchedulerFixtureCase) throws -> any Scheduler {
    guard let kind = SchedulerKind(rawValue: c.schedulerClass) else { throw SchedulerError.unknownScheduler(c.schedulerClass) }
    let request = ScheduleRequest(steps: c.steps, timesteps: c.requestTimesteps, sigmas: c.requestSigmas,
                                  strength: c.requestStrength ?? 1, originalInferenceSteps: c.requestOriginalInferenceSteps)
    var s = try kind.make(config: c.config, request: request)
    if let kw = c.stepKwargs {
        if var d = s as? DDIMScheduler, let eta = kw["eta"] { d.eta = Float(eta); s = d }
        if var d = s as? TCDScheduler, let eta = kw["eta"] { d.gamma = eta; s = d }
        if var d = s as? EulerDiscreteScheduler, let churn = kw["s_churn"] { d.sChurn = Float(churn); s = d }
    }
    return s
}

/// Replays a case: compares the grid, then runs the loop twice (teacher-forced and free-running).
func replay(_ c: SchedulerFixtureCase, tolerance: Float = 1e-5) throws -> ReplayReport {
    var r = ReplayReport()
    let base = try makeScheduler(for: c)
    r.timestepError = base.timesteps.count == c.timesteps.count ? maxAbs(base.timesteps, c.timesteps).0 : .infinity
    if let sig = c.sigmas {
        // Relative error: σ spans 0.03 … 15.
        var m: Float = 0
        if base.sigmas.count != sig.count { m = .infinity } else {
            for (a, b) in zip(base.sigmas, sig) where !(a.isNaN && b.isNaN) { m = max(m, abs(a - b) / max(abs(b), 1)) }
        }
        r.sigmaError = m
    }
    r.initNoiseSigmaError = abs(base.initNoiseSigma - c.initNoiseSigma) / max(c.initNoiseSigma, 1)
    let begin = c.beginIndex ?? 0
    var start = try Tensor(shape: c.shape, scalars: c.initial)
    if let clean = c.clean, let z = c.noise {
        let noisy = base.addNoise(original: try Tensor(shape: c.shape, scalars: clean), noise: try Tensor(shape: c.shape, scalars: z), atIndex: begin)
        r.initialError = maxAbs(noisy.scalars, c.initial).0
        start = try Tensor(shape: c.shape, scalars: c.initial)
    }
    let finalNaNQuirk = c.calls.last?.sample.contains(where: { $0.isNaN }) ?? false
    for forced in [true, false] {
        var s = base
        s.setBeginIndex(begin)
        var x = start
        for (k, call) in c.calls.enumerated() {
            let input = forced && k > 0 ? try Tensor(shape: c.shape, scalars: c.calls[k - 1].sample) : x
            guard let t = s.currentTimestep else { r.failures.append("call \(k): schedule exhausted"); break }
            let m = fakeModel(s.scaleModelInput(input), timestep: t)
            var rng = ReplayRandomSource(try (call.noise ?? []).map { try Tensor(shape: c.shape, scalars: $0) })
            x = try s.step(modelOutput: m, sample: input, random: &rng)
            if forced && !rng.remaining.isEmpty { r.noiseMismatch.append("call \(k): \(rng.remaining.count) recorded draws unused") }
            if finalNaNQuirk && k == c.calls.count - 1 {
                // diffusers returns NaN here (UniPC bh1, −∞·0); we require a finite result instead.
                if x.scalars.contains(where: { !$0.isFinite }) { r.failures.append("call \(k): non-finite final sample") }
                continue
            }
            let (e, idx) = maxAbs(x.scalars, call.sample)
            if forced { r.forcedError = max(r.forcedError, e) } else { r.freeError = max(r.freeError, e) }
            if !(e <= tolerance) && r.failures.count < 3 {
                let exp = idx >= 0 ? call.sample[idx] : .nan, act = idx >= 0 ? x.scalars[idx] : .nan
                r.failures.append("\(forced ? "forced" : "free") call \(k) (t=\(call.t)) element \(idx): expected \(exp), got \(act), |Δ| = \(e)")
            }
            if forced, let den = call.denoised, let lcm = s as? LCMScheduler, let d = lcm.denoised {
                r.denoisedError = max(r.denoisedError, maxAbs(d.scalars, den).0)
            }
        }
    }
    return r
}
