/// How a σ-based scheduler relates its samples to the clean image.
public enum SigmaParameterization: Sendable {
    /// x = x0 + σ·ε (k-diffusion's Euler family): the model input is scaled by 1/sqrt(σ² + 1) and the
    /// starting noise has standard deviation ``Scheduler/initNoiseSigma``.
    case varianceExploding
    /// x = α·x0 + σ·α·ε with α = 1/sqrt(σ² + 1) (DPM-Solver, UniPC, DEIS): the model input is not scaled
    /// and the starting noise is unit.
    case variancePreserving
}

/// What every σ-based scheduler keeps: its configuration, the run's grid and the position in it.
///
/// Built once by the scheduler's initializer; only ``stepIndex`` changes during a run.
public struct SigmaScheduleState: Sendable {
    /// The resolved configuration.
    public let settings: SchedulerSettings
    /// The training noise schedule (ᾱ and σ tables).
    public let noise: NoiseSchedule
    /// The timesteps passed to the model, one per model call.
    public let timesteps: [Float]
    /// σ per model call, final σ included.
    public let sigmas: [Float]
    /// Standard deviation of the initial noise.
    public let initNoiseSigma: Float
    /// The number of inference steps requested.
    public let numInferenceSteps: Int
    /// Index of the next model call in ``timesteps``.
    public internal(set) var stepIndex = 0

    init(settings: SchedulerSettings, noise: NoiseSchedule, timesteps: [Float], sigmas: [Float],
         initNoiseSigma: Float = 1, numInferenceSteps: Int) {
        self.settings = settings
        self.noise = noise
        self.timesteps = timesteps
        self.sigmas = sigmas
        self.initNoiseSigma = initNoiseSigma
        self.numInferenceSteps = numInferenceSteps
    }
}

/// A scheduler that walks a σ grid (Euler, Heun, LMS, KDPM2, DPM-Solver, UniPC, DEIS …).
///
/// Conforming types store a ``SigmaScheduleState`` and name their parameterization; the schedule
/// properties, ``Scheduler/setBeginIndex(_:)``, ``Scheduler/scaleModelInput(_:)`` and
/// ``Scheduler/addNoise(original:noise:atIndex:)`` come from this protocol.
public protocol SigmaScheduler: Scheduler {
    /// Variance exploding (k-diffusion) or variance preserving (DPM-Solver family).
    static var parameterization: SigmaParameterization { get }
    /// The shared schedule state. Replace it only with the state of a scheduler built from the same request.
    var state: SigmaScheduleState { get set }
}

extension SigmaScheduler {
    public var settings: SchedulerSettings { state.settings }
    /// The training noise schedule (ᾱ and σ tables).
    public var noise: NoiseSchedule { state.noise }
    public var timesteps: [Float] { state.timesteps }
    public var sigmas: [Float] { state.sigmas }
    public var initNoiseSigma: Float { state.initNoiseSigma }
    public var numInferenceSteps: Int { state.numInferenceSteps }
    public internal(set) var stepIndex: Int {
        get { state.stepIndex }
        set { state.stepIndex = newValue }
    }

    public mutating func setBeginIndex(_ index: Int) { state.stepIndex = index }

    /// `sample / sqrt(σ² + 1)` at the current σ (variance exploding), else the sample unchanged.
    public func scaleModelInput(_ sample: Tensor) -> Tensor {
        switch Self.parameterization {
        case .varianceExploding: return DiscreteSigmaSchedule.scale(sample, sigmas: sigmas, atIndex: stepIndex)
        case .variancePreserving: return sample
        }
    }

    /// x0 + σ·ε (variance exploding) or α·x0 + σ·α·ε (variance preserving) at the σ of model call `index`.
    public func addNoise(original: Tensor, noise z: Tensor, atIndex index: Int) -> Tensor {
        switch Self.parameterization {
        case .varianceExploding: return DiscreteSigmaSchedule.addNoise(original: original, noise: z, sigmas: sigmas, atIndex: index)
        case .variancePreserving: return VPPrediction.addNoise(original: original, noise: z, sigmas: sigmas, atIndex: index)
        }
    }
}
