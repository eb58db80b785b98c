import Foundation

/// The β schedule named by `beta_schedule`.
public enum BetaScheduleKind: String, Codable, Sendable, CaseIterable {
    case linear
    case scaledLinear = "scaled_linear"
    case squaredcosCapV2 = "squaredcos_cap_v2"
    /// DDPM only.
    case sigmoid
    /// Heun only (`alpha_transform_type = "exp"`).
    case exp
}

/// What the model predicts (`prediction_type`).
public enum PredictionType: String, Codable, Sendable, CaseIterable {
    case epsilon
    case vPrediction = "v_prediction"
    case sample
    /// diffusers accepts `original_sample` as a synonym of `sample` in some schedulers.
    case originalSample = "original_sample"
}

/// How inference timesteps are spread over the training range (`timestep_spacing`).
public enum TimestepSpacing: String, Codable, Sendable, CaseIterable {
    case linspace, leading, trailing
}

/// The σ appended after the last inference σ (`final_sigmas_type`).
public enum FinalSigmasType: String, Codable, Sendable, CaseIterable {
    case zero
    case sigmaMin = "sigma_min"
}

/// DPM-Solver family variant (`algorithm_type`).
public enum AlgorithmType: String, Codable, Sendable, CaseIterable {
    case dpmsolverPlusPlus = "dpmsolver++"
    case sdeDpmsolverPlusPlus = "sde-dpmsolver++"
    case dpmsolver
    case sdeDpmsolver = "sde-dpmsolver"
    case deis
}

/// Solver flavour (`solver_type`): DPM-Solver `midpoint`/`heun`, UniPC `bh1`/`bh2`, DEIS `logrho`.
public enum SolverType: String, Codable, Sendable, CaseIterable {
    case midpoint, heun, bh1, bh2, logrho
}

/// DDPM / DPM-Solver `variance_type`.
public enum VarianceType: String, Codable, Sendable, CaseIterable {
    case fixedSmall = "fixed_small"
    case fixedSmallLog = "fixed_small_log"
    case fixedLarge = "fixed_large"
    case fixedLargeLog = "fixed_large_log"
    case learned
    case learnedRange = "learned_range"
}

/// Euler `interpolation_type`.
public enum InterpolationType: String, Codable, Sendable, CaseIterable {
    case linear
    case logLinear = "log_linear"
}

/// Euler `timestep_type`.
public enum TimestepType: String, Codable, Sendable, CaseIterable {
    case discrete, continuous
}

/// A diffusers `scheduler_config.json`, field for field.
///
/// Every field is optional: `nil` means "absent from the file", and each scheduler then uses its own
/// diffusers class default (the defaults differ between classes, e.g. `clip_sample` is `true` for DDIM
/// and DDPM). Keys this struct does not know are ignored, as `from_config` does. Keys a scheduler does
/// not use are ignored by that scheduler.
public struct SchedulerConfig: Codable, Sendable, Equatable {
    /// `_class_name`: the diffusers class that wrote the file.
    public var className: String?
    /// `_diffusers_version`.
    public var diffusersVersion: String?
    /// `num_train_timesteps` (default 1000).
    public var numTrainTimesteps: Int?
    /// `beta_start` (default 0.0001; Heun, KDPM2, LCM, TCD: 0.00085).
    public var betaStart: Double?
    /// `beta_end` (default 0.02; Heun, KDPM2, LCM, TCD: 0.012).
    public var betaEnd: Double?
    /// `beta_schedule` (default `linear`; LCM/TCD: `scaled_linear`).
    public var betaSchedule: BetaScheduleKind?
    /// `trained_betas`: explicit β values; overrides `beta_schedule`.
    public var trainedBetas: [Double]?
    /// `prediction_type` (default `epsilon`).
    public var predictionType: PredictionType?
    /// `clip_sample` (DDIM/DDPM default `true`, LCM/TCD/Heun `false`).
    public var clipSample: Bool?
    /// `clip_sample_range` (default 1).
    public var clipSampleRange: Double?
    /// `set_alpha_to_one` (DDIM/LCM/TCD default `true`, PNDM `false`).
    public var setAlphaToOne: Bool?
    /// `steps_offset` (default 0).
    public var stepsOffset: Int?
    /// `thresholding` (default `false`).
    public var thresholding: Bool?
    /// `dynamic_thresholding_ratio` (default 0.995).
    public var dynamicThresholdingRatio: Double?
    /// `sample_max_value` (default 1).
    public var sampleMaxValue: Double?
    /// `timestep_spacing` (class dependent: `leading` for DDIM/DDPM/PNDM/LCM/TCD, `linspace` otherwise).
    public var timestepSpacing: TimestepSpacing?
    /// `rescale_betas_zero_snr` (default `false`).
    public var rescaleBetasZeroSNR: Bool?
    /// `skip_prk_steps` (PNDM, default `false`).
    public var skipPRKSteps: Bool?
    /// `variance_type` (DDPM default `fixed_small`; DPM-Solver default none).
    public var varianceType: VarianceType?
    /// `interpolation_type` (Euler, default `linear`).
    public var interpolationType: InterpolationType?
    /// `use_karras_sigmas`.
    public var useKarrasSigmas: Bool?
    /// `use_exponential_sigmas`.
    public var useExponentialSigmas: Bool?
    /// `use_beta_sigmas`.
    public var useBetaSigmas: Bool?
    /// `use_lu_lambdas` (DPM multistep).
    public var useLuLambdas: Bool?
    /// `sigma_min` (Euler, UniPC; other classes ignore it).
    public var sigmaMin: Double?
    /// `sigma_max` (Euler, UniPC; other classes ignore it).
    public var sigmaMax: Double?
    /// `timestep_type` (Euler, default `discrete`).
    public var timestepType: TimestepType?
    /// `final_sigmas_type` (default `zero`).
    public var finalSigmasType: FinalSigmasType?
    /// `solver_order` (DPM/UniPC/DEIS default 2).
    public var solverOrder: Int?
    /// `algorithm_type` (DPM default `dpmsolver++`, DEIS `deis`).
    public var algorithmType: AlgorithmType?
    /// `solver_type` (DPM default `midpoint`, UniPC `bh2`, DEIS `logrho`).
    public var solverType: SolverType?
    /// `lower_order_final` (default `true`; DPM singlestep `false`).
    public var lowerOrderFinal: Bool?
    /// `euler_at_final` (DPM multistep, default `false`).
    public var eulerAtFinal: Bool?
    /// `lambda_min_clipped` (DPM, default −∞).
    public var lambdaMinClipped: Double?
    /// `predict_x0` (UniPC, default `true`).
    public var predictX0: Bool?
    /// `disable_corrector` (UniPC, default `[]`).
    public var disableCorrector: [Int]?
    /// `original_inference_steps` (LCM/TCD, default 50).
    public var originalInferenceSteps: Int?
    /// `timestep_scaling` (LCM/TCD, default 10).
    public var timestepScaling: Double?
    /// `noise_sampler_seed` (DPMSolverSDE; stored only, noise comes from the caller's random source).
    public var noiseSamplerSeed: Int?

    public init() {}

    enum CodingKeys: String, CodingKey {
        case className = "_class_name"
        case diffusersVersion = "_diffusers_version"
        case numTrainTimesteps = "num_train_timesteps"
        case betaStart = "beta_start"
        case betaEnd = "beta_end"
        case betaSchedule = "beta_schedule"
        case trainedBetas = "trained_betas"
        case predictionType = "prediction_type"
        case clipSample = "clip_sample"
        case clipSampleRange = "clip_sample_range"
        case setAlphaToOne = "set_alpha_to_one"
        case stepsOffset = "steps_offset"
        case thresholding
        case dynamicThresholdingRatio = "dynamic_thresholding_ratio"
        case sampleMaxValue = "sample_max_value"
        case timestepSpacing = "timestep_spacing"
        case rescaleBetasZeroSNR = "rescale_betas_zero_snr"
        case skipPRKSteps = "skip_prk_steps"
        case varianceType = "variance_type"
        case interpolationType = "interpolation_type"
        case useKarrasSigmas = "use_karras_sigmas"
        case useExponentialSigmas = "use_exponential_sigmas"
        case useBetaSigmas = "use_beta_sigmas"
        case useLuLambdas = "use_lu_lambdas"
        case sigmaMin = "sigma_min"
        case sigmaMax = "sigma_max"
        case timestepType = "timestep_type"
        case finalSigmasType = "final_sigmas_type"
        case solverOrder = "solver_order"
        case algorithmType = "algorithm_type"
        case solverType = "solver_type"
        case lowerOrderFinal = "lower_order_final"
        case eulerAtFinal = "euler_at_final"
        case lambdaMinClipped = "lambda_min_clipped"
        case predictX0 = "predict_x0"
        case disableCorrector = "disable_corrector"
        case originalInferenceSteps = "original_inference_steps"
        case timestepScaling = "timestep_scaling"
        case noiseSamplerSeed = "noise_sampler_seed"
    }

    /// Parses a `scheduler_config.json`. Accepts the `Infinity`/`-Infinity`/`NaN` literals that Python's
    /// `json` module writes (e.g. `"lambda_min_clipped": -Infinity`).
    /// - Throws: ``SchedulerError/invalidConfig(key:reason:)`` naming the offending key.
    public static func decode(from data: Data) throws(SchedulerError) -> SchedulerConfig {
        let decoder = JSONDecoder()
        decoder.allowsJSON5 = true
        do {
            return try decoder.decode(SchedulerConfig.self, from: data)
        } catch let error as DecodingError {
            throw SchedulerError(decoding: error)
        } catch {
            throw .invalidConfig(key: "(file)", reason: "\(error)")
        }
    }

    /// Reads and parses a `scheduler_config.json` file.
    public static func load(contentsOf url: URL) throws(SchedulerError) -> SchedulerConfig {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw .invalidConfig(key: "(file)", reason: "cannot read \(url.path): \(error.localizedDescription)")
        }
        return try decode(from: data)
    }

    /// The SD 1.5 `scheduler/scheduler_config.json` (a `PNDMScheduler` config).
    public static var stableDiffusion15: SchedulerConfig {
        var c = SchedulerConfig()
        c.className = "PNDMScheduler"
        c.betaStart = 0.00085; c.betaEnd = 0.012; c.betaSchedule = .scaledLinear
        c.numTrainTimesteps = 1000; c.setAlphaToOne = false; c.skipPRKSteps = true
        c.stepsOffset = 1; c.clipSample = false
        return c
    }

    /// The SDXL base `scheduler/scheduler_config.json` (an `EulerDiscreteScheduler` config).
    public static var stableDiffusionXL: SchedulerConfig {
        var c = stableDiffusion15
        c.className = "EulerDiscreteScheduler"
        c.interpolationType = .linear; c.predictionType = .epsilon; c.sampleMaxValue = 1.0
        c.timestepSpacing = .leading; c.useKarrasSigmas = false
        return c
    }
}

extension SchedulerError {
    init(decoding error: DecodingError) {
        func path(_ ctx: DecodingError.Context) -> String {
            let p = ctx.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
            return p.isEmpty ? "(file)" : p
        }
        switch error {
        case let .dataCorrupted(ctx):
            self = .invalidConfig(key: path(ctx), reason: ctx.debugDescription)
        case let .typeMismatch(type, ctx):
            self = .invalidConfig(key: path(ctx), reason: "expected \(type): \(ctx.debugDescription)")
        case let .valueNotFound(type, ctx):
            self = .invalidConfig(key: path(ctx), reason: "missing \(type) value")
        case let .keyNotFound(key, ctx):
            self = .invalidConfig(key: path(ctx) + "." + key.stringValue, reason: "missing key")
        @unknown default:
            self = .invalidConfig(key: "(file)", reason: "\(error)")
        }
    }
}
