/// What every ᾱ-based scheduler keeps: its configuration, the run's integer timesteps and the position in them.
///
/// Built once by the scheduler's initializer; only ``stepIndex`` changes during a run.
public struct AlphaScheduleState: Sendable {
    /// The resolved configuration.
    public let settings: SchedulerSettings
    /// The training noise schedule (ᾱ table).
    public let noise: NoiseSchedule
    /// The integer training timesteps of the run, one per model call.
    public let trainTimesteps: [Int]
    /// ``trainTimesteps`` as passed to the model.
    public let timesteps: [Float]
    /// The number of inference steps requested.
    public let numInferenceSteps: Int
    /// Index of the next model call in ``timesteps``.
    public internal(set) var stepIndex = 0
    /// ᾱ after the last step (`final_alpha_cumprod`): 1 with `set_alpha_to_one`, else ᾱ₀.
    let finalAlphaCumprod: Float

    /// Builds the training noise schedule from `settings` (no zero-SNR floor, as the DDPM family does).
    init(settings: SchedulerSettings, trainTimesteps: [Int], numInferenceSteps: Int) {
        let noise = NoiseSchedule(settings: settings, terminalAlphaCumprodFloor: false)
        self.settings = settings
        self.noise = noise
        self.trainTimesteps = trainTimesteps
        self.timesteps = trainTimesteps.map { Float($0) }
        self.numInferenceSteps = numInferenceSteps
        self.finalAlphaCumprod = settings.setAlphaToOne ? 1 : noise.alphasCumprod[0]
    }
}

/// A scheduler that walks integer training timesteps on the ᾱ table (DDIM, DDPM, PNDM, LCM, TCD).
///
/// Conforming types store an ``AlphaScheduleState``; the schedule properties, ``Scheduler/setBeginIndex(_:)``
/// and ``Scheduler/addNoise(original:noise:atIndex:)`` come from this protocol. These schedulers have no σ grid
/// and do not scale the model input.
public protocol AlphaScheduler: Scheduler {
    /// The shared schedule state. Replace it only with the state of a scheduler built from the same request.
    var state: AlphaScheduleState { get set }
}

extension AlphaScheduler {
    public var settings: SchedulerSettings { state.settings }
    /// The training noise schedule (ᾱ table).
    public var noise: NoiseSchedule { state.noise }
    public var timesteps: [Float] { state.timesteps }
    /// The integer training timesteps of the run.
    public var trainTimesteps: [Int] { state.trainTimesteps }
    public var sigmas: [Float] { [] }
    public var numInferenceSteps: Int { state.numInferenceSteps }
    public internal(set) var stepIndex: Int {
        get { state.stepIndex }
        set { state.stepIndex = newValue }
    }
    var finalAlphaCumprod: Float { state.finalAlphaCumprod }

    public mutating func setBeginIndex(_ index: Int) { state.stepIndex = index }

    /// sqrt(ᾱ_t)·x0 + sqrt(1 − ᾱ_t)·ε at the timestep of model call `index`.
    public func addNoise(original: Tensor, noise z: Tensor, atIndex index: Int) -> Tensor {
        noise.addNoise(original: original, noise: z, timesteps: trainTimesteps, atIndex: index)
    }
}
