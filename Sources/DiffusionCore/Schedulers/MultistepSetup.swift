import Foundation

/// Configuration checks, grid construction and updates shared by the VP multistep solvers
/// (DPM-Solver multistep/singlestep, UniPC, DEIS).
extension SchedulerSettings {
    /// The checks every VP multistep solver starts with: the common fields with the linear, scaled-linear and
    /// squaredcos beta schedules, and at most one σ respacing option.
    func validateMultistepBase(scheduler name: String) throws(SchedulerError) {
        try validateCommon(scheduler: name, allowedBetaSchedules: [.linear, .scaledLinear, .squaredcosCapV2])
        try validateSigmaRespacing(scheduler: name)
    }

    /// `solver_order` must be 1, 2 or 3.
    func validateSolverOrder(scheduler name: String) throws(SchedulerError) {
        guard (1...3).contains(solverOrder) else {
            throw .unsupportedOption(scheduler: name, key: "solver_order", value: String(solverOrder))
        }
    }

    /// DPM-Solver (multistep and singlestep): diffusers maps foreign `algorithm_type` / `solver_type` values
    /// onto its own defaults; of the rest only the data-prediction algorithms are supported. Then checks the order.
    mutating func normalizeDPMSolverPlusPlus(scheduler name: String) throws(SchedulerError) {
        if algorithmType == .deis { algorithmType = .dpmsolverPlusPlus }
        if [.logrho, .bh1, .bh2].contains(solverType) { solverType = .midpoint }
        guard algorithmType == .dpmsolverPlusPlus || algorithmType == .sdeDpmsolverPlusPlus else {
            throw .unsupportedOption(scheduler: name, key: "algorithm_type", value: algorithmType.rawValue)
        }
        try validateSolverOrder(scheduler: name)
    }
}

extension MultistepGrid {
    /// The "N+1 style" integer grid ending below `lastTimestep`, then ``make(settings:noise:steps:baseGrid:roundKarras:configRange:allowLu:)``.
    /// - Parameter linspaceOnly: ignore `timestep_spacing` and `steps_offset` (DPM-Solver singlestep).
    static func make(settings s: SchedulerSettings, noise: NoiseSchedule, steps n: Int, lastTimestep: Int,
                     roundKarras: Bool, configRange: Bool, allowLu: Bool, linspaceOnly: Bool = false) -> MultistepGrid {
        let base = TimestepGrid.multistepGrid(spacing: linspaceOnly ? .linspace : s.timestepSpacing, trainSteps: s.numTrainTimesteps,
                                              lastTimestep: lastTimestep, steps: n, offset: linspaceOnly ? 0 : s.stepsOffset)
        return make(settings: s, noise: noise, steps: n, baseGrid: base, roundKarras: roundKarras, configRange: configRange, allowLu: allowLu)
    }

    /// The `sigma_min` final σ of DEIS and UniPC: the last respaced σ repeated, else the table's σ_min.
    func sigmaMinFinal(noise: NoiseSchedule) -> Double {
        respaced ? (sigmas.last ?? 0) : Double(noise.sigmaTable[0])
    }

    /// float32 timesteps, and σ with `finalSigma` appended (cast after appending, as diffusers).
    func float32(finalSigma: Double) -> (timesteps: [Float], sigmas: [Float]) {
        (timesteps.map { Float($0) }, (sigmas + [finalSigma]).map { Float($0) })
    }
}

extension VPPrediction {
    /// `convert_model_output` of the data-prediction solvers: x0̂ at σ, dynamically thresholded when configured.
    static func convertModelOutput(_ m: Tensor, sample x: Tensor, sigma: Float, settings s: SchedulerSettings) -> Tensor {
        let x0 = dataPrediction(m, sample: x, sigma: sigma, type: s.predictionType)
        guard s.thresholding else { return x0 }
        return Prediction.threshold(x0, ratio: s.dynamicThresholdingRatio, maxValue: Float(s.sampleMaxValue))
    }

    /// `add_noise` at model call `index` (clamped to the σ list).
    static func addNoise(original: Tensor, noise z: Tensor, sigmas: [Float], atIndex index: Int) -> Tensor {
        addNoise(original: original, noise: z, sigma: sigmas[min(max(index, 0), sigmas.count - 1)])
    }

    /// `dpm_solver_first_order_update` (DPM-Solver++ and its SDE variant when `z` is given) from σ_s to σ_t,
    /// float32: h = λ_t − λ_s with λ = log α − log s.
    static func dpmSolverFirstOrder(_ m: Tensor, sample x: Tensor, noise z: Tensor?, sigmaFrom: Float, sigmaTo: Float) -> Tensor {
        let (aT, sT) = SigmaGrid.alphaSigma(sigmaTo)
        let (aS, sS) = SigmaGrid.alphaSigma(sigmaFrom)
        let h = (Foundation.log(aT) - Foundation.log(sT)) - (Foundation.log(aS) - Foundation.log(sS))
        if let z {
            let e2 = Foundation.exp(-2 * h)
            return Tensor.combine(sT / sS * Foundation.exp(-h), x, aT * (1 - e2), m, sT * (1 - e2).squareRoot(), z)
        }
        return Tensor.combine(sT / sS, x, -(aT * (Foundation.exp(-h) - 1)), m)
    }
}
