import Foundation

/// What a run asks of a scheduler's `set_timesteps`: a step count, or a custom timestep / σ list.
public struct ScheduleRequest: Sendable, Equatable {
    /// The number of denoising steps (ignored when `timesteps` or `sigmas` is given).
    public var steps: Int?
    /// Custom descending training timesteps (schedulers that accept them in diffusers).
    public var timesteps: [Double]?
    /// Custom descending σ values, final σ included (Euler-style schedulers).
    public var sigmas: [Double]?
    /// LCM/TCD only: img2img strength applied inside `set_timesteps` (default 1).
    public var strength: Double
    /// LCM/TCD only: overrides `original_inference_steps`.
    public var originalInferenceSteps: Int?

    public init(steps: Int? = nil, timesteps: [Double]? = nil, sigmas: [Double]? = nil,
                strength: Double = 1, originalInferenceSteps: Int? = nil) {
        self.steps = steps
        self.timesteps = timesteps
        self.sigmas = sigmas
        self.strength = strength
        self.originalInferenceSteps = originalInferenceSteps
    }

    /// Resolves the step count, rejecting ambiguous requests.
    func stepCount(scheduler: String, allowTimesteps: Bool, allowSigmas: Bool) throws(SchedulerError) -> Int {
        if timesteps != nil && sigmas != nil {
            throw .invalidCustomSchedule(scheduler: scheduler, reason: "pass either timesteps or sigmas, not both")
        }
        if let t = timesteps {
            guard allowTimesteps else { throw .invalidCustomSchedule(scheduler: scheduler, reason: "custom timesteps are not supported") }
            guard !t.isEmpty else { throw .invalidCustomSchedule(scheduler: scheduler, reason: "empty timestep list") }
            return t.count
        }
        if let s = sigmas {
            guard allowSigmas else { throw .invalidCustomSchedule(scheduler: scheduler, reason: "custom sigmas are not supported") }
            guard s.count >= 2 else { throw .invalidCustomSchedule(scheduler: scheduler, reason: "need at least two sigmas (the last is the final σ)") }
            return s.count - 1
        }
        guard let n = steps else { throw .invalidStepCount(scheduler: scheduler, steps: 0, reason: "no step count given") }
        return n
    }
}

/// A diffusion sampler: a schedule (timesteps, σ) computed once, and a `step` that advances a sample.
///
/// Schedulers are value types; history (multistep outputs, Heun's first stage …) lives in the struct, so
/// copying a scheduler forks a run. Each conforming type matches one diffusers class.
///
/// The loop is:
/// ```swift
/// var x = noise * scheduler.initNoiseSigma
/// for t in scheduler.timesteps[scheduler.stepIndex...] {
///     let eps = unet(scheduler.scaleModelInput(x), t)
///     x = try scheduler.step(modelOutput: eps, sample: x, random: &rng)
/// }
/// ```
public protocol Scheduler: Sendable {
    /// The diffusers class this type reproduces.
    static var diffusersClassName: String { get }
    /// The resolved configuration.
    var settings: SchedulerSettings { get }
    /// The timesteps passed to the model, one per model call (float; integral except for Euler-family fractional grids).
    var timesteps: [Float] { get }
    /// The σ grid including the final σ (empty for schedulers without one: DDIM, DDPM, PNDM, LCM, TCD).
    var sigmas: [Float] { get }
    /// Standard deviation of the initial noise (`init_noise_sigma`).
    var initNoiseSigma: Float { get }
    /// Model calls per solver step (2 for Heun and KDPM2, 1 otherwise).
    var order: Int { get }
    /// The number of inference steps requested.
    var numInferenceSteps: Int { get }
    /// Index of the next model call in ``timesteps``.
    var stepIndex: Int { get }
    /// Starts the run at a later index (img2img); call before the first step.
    mutating func setBeginIndex(_ index: Int)
    /// `scale_model_input` for the current step.
    func scaleModelInput(_ sample: Tensor) -> Tensor
    /// `add_noise`: noises a clean sample to the level of model call `index` (the img2img start).
    func addNoise(original: Tensor, noise: Tensor, atIndex index: Int) -> Tensor
    /// Advances `sample` by one model call.
    /// - Parameters:
    ///   - modelOutput: the model's prediction at `timesteps[stepIndex]` for `scaleModelInput(sample)`.
    ///   - sample: the current sample.
    ///   - random: the noise source used by stochastic schedulers.
    /// - Returns: the sample for the next model call.
    /// - Postcondition: `stepIndex` has increased by one.
    mutating func step<R: RandomSource>(modelOutput: Tensor, sample: Tensor, random: inout R) throws(SchedulerError) -> Tensor
}

extension Scheduler {
    public var order: Int { 1 }
    public var initNoiseSigma: Float { 1 }
    public func scaleModelInput(_ sample: Tensor) -> Tensor { sample }

    /// The timestep of the next model call, if any.
    public var currentTimestep: Float? { stepIndex < timesteps.count ? timesteps[stepIndex] : nil }

    /// The first model call of an img2img run with this strength (diffusers `get_timesteps`: `t_start · order`).
    /// Pass it to ``setBeginIndex(_:)`` and noise the image with ``addNoise(original:noise:atIndex:)`` at that index.
    /// - Throws: ``SchedulerError/invalidStrength(_:)`` outside `(0, 1]`.
    public func img2imgBeginIndex(strength: Double) throws(SchedulerError) -> Int {
        try TimestepGrid.img2imgBeginIndex(steps: numInferenceSteps, strength: strength, order: order)
    }

    /// Throws if the schedule is finished.
    func checkNotExhausted() throws(SchedulerError) {
        if stepIndex >= timesteps.count {
            throw .scheduleExhausted(scheduler: Self.diffusersClassName, stepIndex: stepIndex, count: timesteps.count)
        }
    }
}

/// Prediction-type conversions and x0̂ post-processing shared by the DDPM-family schedulers (NUMERICS.md §4.0.6).
enum Prediction {
    /// x0̂ and ε̂ from a model output at ᾱ = `a` (float32 like diffusers).
    static func originalAndEpsilon(_ m: Tensor, sample x: Tensor, alphaCumprod a: Float, type: PredictionType) -> (x0: Tensor, eps: Tensor) {
        let beta = 1 - a
        let sa = a.squareRoot(), sb = beta.squareRoot()
        switch type {
        case .epsilon:
            let x0 = Tensor.zipWith(x, m) { xv, mv in (xv - sb * mv) / sa }
            return (x0, m)
        case .sample, .originalSample:
            let eps = Tensor.zipWith(x, m) { xv, mv in (xv - sa * mv) / sb }
            return (m, eps)
        case .vPrediction:
            return (Tensor.combine(sa, x, -sb, m), Tensor.combine(sa, m, sb, x))
        }
    }

    /// Dynamic thresholding (`_threshold_sample`) per batch element, or clipping, as configured.
    static func postprocess(_ x0: Tensor, settings s: SchedulerSettings) -> Tensor {
        if s.thresholding { return threshold(x0, ratio: s.dynamicThresholdingRatio, maxValue: Float(s.sampleMaxValue)) }
        if s.clipSample { return x0.clamped(-Float(s.clipSampleRange), Float(s.clipSampleRange)) }
        return x0
    }

    /// `_threshold_sample`: per batch element, q = quantile(|x|, ratio) clamped to [1, maxValue]; x = clamp(x, −q, q)/q.
    static func threshold(_ x: Tensor, ratio: Double, maxValue: Float) -> Tensor {
        let batch = max(x.shape.first ?? 1, 1)
        let per = x.count / batch
        guard per > 0 else { return x }
        let xs = x.scalars
        var outScalars = xs
        for b in 0..<batch {
            let range = (b * per)..<((b + 1) * per)
            let sorted = xs[range].map { abs($0) }.sorted()
            // torch.quantile, linear interpolation (computed in float32 by torch)
            let pos = ratio * Double(per - 1)
            let lo = Int(pos.rounded(.down)), hi = min(lo + 1, per - 1)
            let frac = Float(pos - Double(lo))
            var q = sorted[lo] + (sorted[hi] - sorted[lo]) * frac
            q = min(max(q, 1), maxValue)
            for i in range { outScalars[i] = min(max(xs[i], -q), q) / q }
        }
        return Tensor(validShape: x.shape, scalars: outScalars)
    }
}

extension Scheduler {
    /// The check every `step` makes first: the model output has the sample's shape, and both have the shape
    /// of the history a multistep scheduler keeps (so the element-wise updates never see mismatched tensors).
    func requireMatchingShapes(_ modelOutput: Tensor, _ sample: Tensor, history: [Tensor?] = []) throws(SchedulerError) {
        guard modelOutput.shape == sample.shape else { throw .shapeMismatch(expected: sample.shape, actual: modelOutput.shape) }
        for case let kept? in history where kept.shape != sample.shape {
            throw .shapeMismatch(expected: kept.shape, actual: sample.shape)
        }
    }
}

