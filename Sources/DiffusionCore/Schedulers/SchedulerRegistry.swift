/// Every scheduler class of the zoo, named by its diffusers class.
public enum SchedulerKind: String, CaseIterable, Sendable, Codable {
    case ddim = "DDIMScheduler"
    case ddpm = "DDPMScheduler"
    case pndm = "PNDMScheduler"
    case lms = "LMSDiscreteScheduler"
    case euler = "EulerDiscreteScheduler"
    case eulerAncestral = "EulerAncestralDiscreteScheduler"
    case heun = "HeunDiscreteScheduler"
    case kdpm2 = "KDPM2DiscreteScheduler"
    case kdpm2Ancestral = "KDPM2AncestralDiscreteScheduler"
    case dpmSolverMultistep = "DPMSolverMultistepScheduler"
    case dpmSolverSinglestep = "DPMSolverSinglestepScheduler"
    case dpmSolverSDE = "DPMSolverSDEScheduler"
    case uniPC = "UniPCMultistepScheduler"
    case deis = "DEISMultistepScheduler"
    case lcm = "LCMScheduler"
    case tcd = "TCDScheduler"

    /// The diffusers class name.
    public var diffusersClassName: String { rawValue }

    /// Builds the scheduler from a configuration and a schedule request.
    public func make(config: SchedulerConfig, request: ScheduleRequest) throws(SchedulerError) -> any Scheduler {
        switch self {
        case .ddim: return try DDIMScheduler(config: config, request: request)
        case .ddpm: return try DDPMScheduler(config: config, request: request)
        case .pndm: return try PNDMScheduler(config: config, request: request)
        case .lms: return try LMSDiscreteScheduler(config: config, request: request)
        case .euler: return try EulerDiscreteScheduler(config: config, request: request)
        case .eulerAncestral: return try EulerAncestralDiscreteScheduler(config: config, request: request)
        case .heun: return try HeunDiscreteScheduler(config: config, request: request)
        case .kdpm2: return try KDPM2DiscreteScheduler(config: config, request: request)
        case .kdpm2Ancestral: return try KDPM2AncestralDiscreteScheduler(config: config, request: request)
        case .dpmSolverMultistep: return try DPMSolverMultistepScheduler(config: config, request: request)
        case .dpmSolverSinglestep: return try DPMSolverSinglestepScheduler(config: config, request: request)
        case .dpmSolverSDE: return try DPMSolverSDEScheduler(config: config, request: request)
        case .uniPC: return try UniPCMultistepScheduler(config: config, request: request)
        case .deis: return try DEISMultistepScheduler(config: config, request: request)
        case .lcm: return try LCMScheduler(config: config, request: request)
        case .tcd: return try TCDScheduler(config: config, request: request)
        }
    }

    /// Model calls per solver step (`order` in diffusers; used for img2img slicing).
    public var order: Int {
        switch self {
        case .heun, .kdpm2, .kdpm2Ancestral, .dpmSolverSDE: return 2
        default: return 1
        }
    }
}

/// A named way to run a scheduler: a class plus configuration overrides, under its InvokeAI id and
/// A1111 label(s).
public struct SchedulerPreset: Sendable, Equatable {
    /// The InvokeAI scheduler name (`euler_a`, `dpmpp_2m_k`, …), used as the primary id.
    public let id: String
    /// The A1111 sampler labels ("Euler a", "DPM++ 2M Karras", …); empty when A1111 has none.
    public let a1111: [String]
    /// The scheduler class.
    public let kind: SchedulerKind
    /// Values that override the model's `scheduler_config.json`.
    public let overrides: SchedulerConfig
    /// Whether the A1111 label is only an approximation (different noise process or grid).
    public let approximate: Bool

    /// All names this preset answers to.
    public var names: [String] {
        var n = [id] + a1111
        if overrides == SchedulerConfig() { n.append(kind.rawValue) }
        return n
    }

    /// Applies the overrides to a model configuration.
    public func configuration(from base: SchedulerConfig) -> SchedulerConfig {
        base.merging(overrides)
    }

    /// Builds the scheduler for a model configuration.
    public func make(config base: SchedulerConfig, request: ScheduleRequest) throws(SchedulerError) -> any Scheduler {
        try kind.make(config: configuration(from: base), request: request)
    }
}

/// The name lookup table: diffusers class names, InvokeAI names and A1111 labels.
public enum SchedulerRegistry {
    private static func p(_ id: String, _ a1111: [String], _ kind: SchedulerKind, approximate: Bool = false,
                          _ edit: (inout SchedulerConfig) -> Void = { _ in }) -> SchedulerPreset {
        var c = SchedulerConfig()
        edit(&c)
        return SchedulerPreset(id: id, a1111: a1111, kind: kind, overrides: c, approximate: approximate)
    }

    /// Every preset, in display order.
    public static let presets: [SchedulerPreset] = [
        p("euler", ["Euler"], .euler),
        p("euler_k", ["Euler Karras"], .euler) { $0.useKarrasSigmas = true },
        p("euler_a", ["Euler a"], .eulerAncestral),
        p("heun", ["Heun"], .heun),
        p("heun_k", ["Heun Karras"], .heun) { $0.useKarrasSigmas = true },
        p("lms", ["LMS"], .lms),
        p("lms_k", ["LMS Karras"], .lms) { $0.useKarrasSigmas = true },
        p("kdpm_2", ["DPM2"], .kdpm2),
        p("kdpm_2_k", ["DPM2 Karras"], .kdpm2) { $0.useKarrasSigmas = true },
        p("kdpm_2_a", ["DPM2 a"], .kdpm2Ancestral),
        p("kdpm_2_a_k", ["DPM2 a Karras"], .kdpm2Ancestral) { $0.useKarrasSigmas = true },
        p("dpmpp_2m", ["DPM++ 2M"], .dpmSolverMultistep),
        p("dpmpp_2m_k", ["DPM++ 2M Karras"], .dpmSolverMultistep) { $0.useKarrasSigmas = true },
        p("dpmpp_2m_sde", ["DPM++ 2M SDE"], .dpmSolverMultistep, approximate: true) { $0.algorithmType = .sdeDpmsolverPlusPlus },
        p("dpmpp_2m_sde_k", ["DPM++ 2M SDE Karras"], .dpmSolverMultistep, approximate: true) {
            $0.algorithmType = .sdeDpmsolverPlusPlus; $0.useKarrasSigmas = true
        },
        p("dpmpp_3m", [], .dpmSolverMultistep) { $0.solverOrder = 3 },
        p("dpmpp_3m_k", [], .dpmSolverMultistep) { $0.solverOrder = 3; $0.useKarrasSigmas = true },
        p("dpmpp_3m_sde", ["DPM++ 3M SDE"], .dpmSolverMultistep, approximate: true) {
            $0.solverOrder = 3; $0.algorithmType = .sdeDpmsolverPlusPlus
        },
        p("dpmpp_3m_sde_k", ["DPM++ 3M SDE Karras"], .dpmSolverMultistep, approximate: true) {
            $0.solverOrder = 3; $0.algorithmType = .sdeDpmsolverPlusPlus; $0.useKarrasSigmas = true
        },
        p("dpmpp_2s", ["DPM++ 2S a"], .dpmSolverSinglestep, approximate: true) { $0.solverOrder = 2 },
        p("dpmpp_2s_k", ["DPM++ 2S a Karras"], .dpmSolverSinglestep, approximate: true) { $0.solverOrder = 2; $0.useKarrasSigmas = true },
        p("dpmpp_sde", ["DPM++ SDE"], .dpmSolverSDE, approximate: true),
        p("dpmpp_sde_k", ["DPM++ SDE Karras"], .dpmSolverSDE, approximate: true) { $0.useKarrasSigmas = true },
        p("unipc", ["UniPC"], .uniPC),
        p("unipc_k", ["UniPC Karras"], .uniPC) { $0.useKarrasSigmas = true },
        p("deis", [], .deis),
        p("deis_k", [], .deis) { $0.useKarrasSigmas = true },
        p("ddim", ["DDIM"], .ddim),
        p("ddpm", [], .ddpm),
        p("pndm", ["PLMS"], .pndm) { $0.skipPRKSteps = true },
        p("lcm", ["LCM"], .lcm),
        p("tcd", ["TCD"], .tcd),
    ]

    /// Normalises a name for lookup: case-insensitive, spaces/underscores/hyphens ignored.
    static func key(_ name: String) -> String {
        String(name.lowercased().filter { !" _-".contains($0) })
    }

    static let table: [String: SchedulerPreset] = {
        var t = [String: SchedulerPreset]()
        for preset in presets {
            for name in preset.names where t[key(name)] == nil { t[key(name)] = preset }
        }
        // Class names always resolve, to the class's plain preset (or its first one).
        for kind in SchedulerKind.allCases where t[key(kind.rawValue)] == nil {
            if let first = presets.first(where: { $0.kind == kind }) {
                t[key(kind.rawValue)] = SchedulerPreset(id: first.id, a1111: [], kind: kind, overrides: SchedulerConfig(), approximate: false)
            }
        }
        addComfyUINames(to: &t)
        return t
    }()

    /// Finds a preset by diffusers class name, InvokeAI name, A1111 label or ComfyUI sampler (+ scheduler) name.
    /// - Throws: ``SchedulerError/unknownScheduler(_:)``; ``SchedulerError/unavailableScheduler(name:reason:)``
    ///   for a ComfyUI name whose sampler or σ schedule no scheduler of the zoo reproduces.
    public static func preset(named name: String) throws(SchedulerError) -> SchedulerPreset {
        if let reason = comfyUIRefusal(for: name) { throw .unavailableScheduler(name: name, reason: reason) }
        if let p = table[key(name)] { return p }
        throw .unknownScheduler(name)
    }

    /// Builds a scheduler by name for a model configuration.
    public static func makeScheduler(named name: String, config: SchedulerConfig, request: ScheduleRequest) throws(SchedulerError) -> any Scheduler {
        try preset(named: name).make(config: config, request: request)
    }
}

extension SchedulerConfig {
    /// This configuration with every non-nil field of `overrides` replacing the corresponding field.
    public func merging(_ o: SchedulerConfig) -> SchedulerConfig {
        var c = self
        if let v = o.className { c.className = v }
        if let v = o.diffusersVersion { c.diffusersVersion = v }
        if let v = o.numTrainTimesteps { c.numTrainTimesteps = v }
        if let v = o.betaStart { c.betaStart = v }
        if let v = o.betaEnd { c.betaEnd = v }
        if let v = o.betaSchedule { c.betaSchedule = v }
        if let v = o.trainedBetas { c.trainedBetas = v }
        if let v = o.predictionType { c.predictionType = v }
        if let v = o.clipSample { c.clipSample = v }
        if let v = o.clipSampleRange { c.clipSampleRange = v }
        if let v = o.setAlphaToOne { c.setAlphaToOne = v }
        if let v = o.stepsOffset { c.stepsOffset = v }
        if let v = o.thresholding { c.thresholding = v }
        if let v = o.dynamicThresholdingRatio { c.dynamicThresholdingRatio = v }
        if let v = o.sampleMaxValue { c.sampleMaxValue = v }
        if let v = o.timestepSpacing { c.timestepSpacing = v }
        if let v = o.rescaleBetasZeroSNR { c.rescaleBetasZeroSNR = v }
        if let v = o.skipPRKSteps { c.skipPRKSteps = v }
        if let v = o.varianceType { c.varianceType = v }
        if let v = o.interpolationType { c.interpolationType = v }
        if let v = o.useKarrasSigmas { c.useKarrasSigmas = v }
        if let v = o.useExponentialSigmas { c.useExponentialSigmas = v }
        if let v = o.useBetaSigmas { c.useBetaSigmas = v }
        if let v = o.useLuLambdas { c.useLuLambdas = v }
        if let v = o.sigmaMin { c.sigmaMin = v }
        if let v = o.sigmaMax { c.sigmaMax = v }
        if let v = o.timestepType { c.timestepType = v }
        if let v = o.finalSigmasType { c.finalSigmasType = v }
        if let v = o.solverOrder { c.solverOrder = v }
        if let v = o.algorithmType { c.algorithmType = v }
        if let v = o.solverType { c.solverType = v }
        if let v = o.lowerOrderFinal { c.lowerOrderFinal = v }
        if let v = o.eulerAtFinal { c.eulerAtFinal = v }
        if let v = o.lambdaMinClipped { c.lambdaMinClipped = v }
        if let v = o.predictX0 { c.predictX0 = v }
        if let v = o.disableCorrector { c.disableCorrector = v }
        if let v = o.originalInferenceSteps { c.originalInferenceSteps = v }
        if let v = o.timestepScaling { c.timestepScaling = v }
        if let v = o.noiseSamplerSeed { c.noiseSamplerSeed = v }
        return c
    }
}
