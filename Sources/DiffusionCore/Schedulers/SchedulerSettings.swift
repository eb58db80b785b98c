/// A scheduler configuration with every value filled in: the file's value where present, otherwise the
/// diffusers class default of the scheduler that uses it.
public struct SchedulerSettings: Sendable, Equatable {
    public var numTrainTimesteps = 1000
    public var betaStart = 0.0001
    public var betaEnd = 0.02
    public var betaSchedule = BetaScheduleKind.linear
    public var trainedBetas: [Double]? = nil
    public var predictionType = PredictionType.epsilon
    public var clipSample = false
    public var clipSampleRange = 1.0
    public var setAlphaToOne = true
    public var stepsOffset = 0
    public var thresholding = false
    public var dynamicThresholdingRatio = 0.995
    public var sampleMaxValue = 1.0
    public var timestepSpacing = TimestepSpacing.linspace
    public var rescaleBetasZeroSNR = false
    public var skipPRKSteps = false
    public var varianceType: VarianceType? = nil
    public var interpolationType = InterpolationType.linear
    public var useKarrasSigmas = false
    public var useExponentialSigmas = false
    public var useBetaSigmas = false
    public var useLuLambdas = false
    public var sigmaMin: Double? = nil
    public var sigmaMax: Double? = nil
    public var timestepType = TimestepType.discrete
    public var finalSigmasType = FinalSigmasType.zero
    public var solverOrder = 2
    public var algorithmType = AlgorithmType.dpmsolverPlusPlus
    public var solverType = SolverType.midpoint
    public var lowerOrderFinal = true
    public var eulerAtFinal = false
    public var lambdaMinClipped = -Double.infinity
    public var predictX0 = true
    public var disableCorrector: [Int] = []
    public var originalInferenceSteps = 50
    public var timestepScaling = 10.0

    public init() {}

    /// Fills `defaults` with the values present in `config`.
    public init(_ config: SchedulerConfig, defaults: SchedulerSettings) {
        self = defaults
        if let v = config.numTrainTimesteps { numTrainTimesteps = v }
        if let v = config.betaStart { betaStart = v }
        if let v = config.betaEnd { betaEnd = v }
        if let v = config.betaSchedule { betaSchedule = v }
        if let v = config.trainedBetas { trainedBetas = v }
        if let v = config.predictionType { predictionType = v }
        if let v = config.clipSample { clipSample = v }
        if let v = config.clipSampleRange { clipSampleRange = v }
        if let v = config.setAlphaToOne { setAlphaToOne = v }
        if let v = config.stepsOffset { stepsOffset = v }
        if let v = config.thresholding { thresholding = v }
        if let v = config.dynamicThresholdingRatio { dynamicThresholdingRatio = v }
        if let v = config.sampleMaxValue { sampleMaxValue = v }
        if let v = config.timestepSpacing { timestepSpacing = v }
        if let v = config.rescaleBetasZeroSNR { rescaleBetasZeroSNR = v }
        if let v = config.skipPRKSteps { skipPRKSteps = v }
        if let v = config.varianceType { varianceType = v }
        if let v = config.interpolationType { interpolationType = v }
        if let v = config.useKarrasSigmas { useKarrasSigmas = v }
        if let v = config.useExponentialSigmas { useExponentialSigmas = v }
        if let v = config.useBetaSigmas { useBetaSigmas = v }
        if let v = config.useLuLambdas { useLuLambdas = v }
        if let v = config.sigmaMin { sigmaMin = v }
        if let v = config.sigmaMax { sigmaMax = v }
        if let v = config.timestepType { timestepType = v }
        if let v = config.finalSigmasType { finalSigmasType = v }
        if let v = config.solverOrder { solverOrder = v }
        if let v = config.algorithmType { algorithmType = v }
        if let v = config.solverType { solverType = v }
        if let v = config.lowerOrderFinal { lowerOrderFinal = v }
        if let v = config.eulerAtFinal { eulerAtFinal = v }
        if let v = config.lambdaMinClipped { lambdaMinClipped = v }
        if let v = config.predictX0 { predictX0 = v }
        if let v = config.disableCorrector { disableCorrector = v }
        if let v = config.originalInferenceSteps { originalInferenceSteps = v }
        if let v = config.timestepScaling { timestepScaling = v }
    }

    /// Validates the fields shared by every scheduler.
    func validateCommon(scheduler: String, allowedBetaSchedules: Set<BetaScheduleKind>) throws(SchedulerError) {
        if numTrainTimesteps < 2 || numTrainTimesteps > 1_000_000 {
            throw .invalidConfig(key: "num_train_timesteps", reason: "must be in 2...1000000, got \(numTrainTimesteps)")
        }
        if let tb = trainedBetas {
            if tb.count != numTrainTimesteps {
                throw .invalidConfig(key: "trained_betas", reason: "has \(tb.count) values, num_train_timesteps is \(numTrainTimesteps)")
            }
            if tb.contains(where: { !($0 >= 0 && $0 < 1) }) {
                throw .invalidConfig(key: "trained_betas", reason: "values must lie in [0, 1)")
            }
        } else {
            if !allowedBetaSchedules.contains(betaSchedule) {
                throw .unsupportedOption(scheduler: scheduler, key: "beta_schedule", value: betaSchedule.rawValue)
            }
            if !(betaStart >= 0 && betaStart < 1 && betaEnd >= 0 && betaEnd < 1) {
                throw .invalidConfig(key: "beta_start/beta_end", reason: "must lie in [0, 1), got \(betaStart), \(betaEnd)")
            }
        }
        if stepsOffset < 0 || stepsOffset >= numTrainTimesteps {
            throw .invalidConfig(key: "steps_offset", reason: "must be in 0..<num_train_timesteps, got \(stepsOffset)")
        }
        for (key, value) in [("sigma_min", sigmaMin), ("sigma_max", sigmaMax)] {
            if let v = value, !(v.isFinite && v > 0) {
                throw .invalidConfig(key: key, reason: "must be a positive finite number, got \(v)")
            }
        }
        if let lo = sigmaMin, let hi = sigmaMax, lo >= hi {
            throw .invalidConfig(key: "sigma_min", reason: "must be smaller than sigma_max")
        }
        for (key, value) in [("timestep_scaling", timestepScaling), ("sample_max_value", sampleMaxValue), ("clip_sample_range", clipSampleRange)] {
            if !value.isFinite { throw .invalidConfig(key: key, reason: "must be finite, got \(value)") }
        }
        if lambdaMinClipped.isNaN { throw .invalidConfig(key: "lambda_min_clipped", reason: "must not be NaN") }
        if thresholding && !(dynamicThresholdingRatio > 0 && dynamicThresholdingRatio <= 1) {
            throw .invalidConfig(key: "dynamic_thresholding_ratio", reason: "must be in (0, 1]")
        }
    }

    /// Rejects more than one σ respacing option.
    func validateSigmaRespacing(scheduler: String) throws(SchedulerError) {
        if [useKarrasSigmas, useExponentialSigmas, useBetaSigmas].filter({ $0 }).count > 1 {
            throw .conflictingOptions(scheduler: scheduler, reason: "only one of use_karras_sigmas, use_exponential_sigmas, use_beta_sigmas can be set")
        }
    }

    /// The σ respacing selected by the configuration.
    var sigmaRespacing: SigmaRespacing {
        if useKarrasSigmas { return .karras }
        if useExponentialSigmas { return .exponential }
        if useBetaSigmas { return .beta }
        return .none
    }
}
