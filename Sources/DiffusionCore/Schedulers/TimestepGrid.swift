import Foundation

/// NumPy-exact building blocks for timestep grids (NUMERICS.md §4.0.4). Everything is float64, and
/// rounding is half-to-even like `np.round`.
enum TimestepGrid {
    /// `np.linspace(a, b, n)` (endpoint included): `a + i·step`, last element exactly `b`.
    static func linspace(_ a: Double, _ b: Double, _ n: Int) -> [Double] {
        guard n > 0 else { return [] }
        if n == 1 { return [a] }
        let step = (b - a) / Double(n - 1)
        var y = (0..<n).map { Double($0) * step + a }
        y[n - 1] = b
        return y
    }

    /// `np.arange(start, stop, step)` for float arguments: `ceil((stop − start)/step)` elements,
    /// the second one `start + step`, later ones `start + i·((start + step) − start)`.
    static func arange(_ start: Double, _ stop: Double, _ step: Double) -> [Double] {
        let lengthD = ((stop - start) / step).rounded(.up)
        guard lengthD.isFinite, lengthD > 0 else { return [] }
        let n = Int(lengthD)
        var out = [start]
        if n > 1 { out.append(start + step) }
        let delta = (start + step) - start
        if n > 2 { for i in 2..<n { out.append(start + Double(i) * delta) } }
        return out
    }

    /// Converts a computed timestep to an integer without trapping (NaN → 0, clamped to ±2³¹).
    static func integer(_ x: Double) -> Int {
        guard x.isFinite else { return x.isNaN ? 0 : (x > 0 ? Int(Int32.max) : Int(Int32.min)) }
        return Int(min(max(x, Double(Int32.min)), Double(Int32.max)))
    }

    /// Converts caller-supplied timesteps, rejecting non-finite values.
    static func customIntegers(_ values: [Double], scheduler: String) throws(SchedulerError) -> [Int] {
        guard values.allSatisfy({ $0.isFinite }) else {
            throw .invalidCustomSchedule(scheduler: scheduler, reason: "timesteps must be finite numbers")
        }
        return values.map { integer($0) }
    }

    /// `np.round` (half to even).
    static func round(_ x: Double) -> Double { x.rounded(.toNearestOrEven) }

    /// The descending integer grid of DDIM / DDPM / PNDM-style schedulers for `N` steps.
    static func integerGrid(spacing: TimestepSpacing, trainSteps T: Int, steps N: Int, offset: Int) -> [Int] {
        switch spacing {
        case .linspace:
            return linspace(0, Double(T - 1), N).map { integer(round($0)) }.reversed()
        case .leading:
            let ratio = T / N
            return (0..<N).map { $0 * ratio + offset }.reversed()
        case .trailing:
            return trailing(trainSteps: T, steps: N).map { integer($0) }
        }
    }

    /// `round(np.arange(T, 0, −T/N)) − 1` (descending, may have N+1 entries; see NUMERICS.md §4.0.4).
    static func trailing(trainSteps T: Int, steps N: Int, last: Int? = nil) -> [Double] {
        let ratio = Double(T) / Double(N)
        return arange(Double(last ?? T), 0, -ratio).map { round($0) - 1 }
    }

    /// The "N+1 style" grid of DPM-Solver multistep, UniPC and DEIS (descending integers).
    static func multistepGrid(spacing: TimestepSpacing, trainSteps T: Int, lastTimestep: Int, steps N: Int, offset: Int) -> [Int] {
        switch spacing {
        case .linspace:
            let g = linspace(0, Double(lastTimestep - 1), N + 1).map { integer(round($0)) }
            return Array(g.reversed().dropLast())
        case .leading:
            let ratio = lastTimestep / (N + 1)
            return Array((0...N).map { $0 * ratio }.reversed().dropLast()).map { $0 + offset }
        case .trailing:
            return trailing(trainSteps: T, steps: N, last: lastTimestep).map { integer($0) }
        }
    }

    /// The grid used by the Euler-family schedulers (float32 timesteps, possibly fractional).
    static func floatGrid(spacing: TimestepSpacing, trainSteps T: Int, steps N: Int, offset: Int) -> [Float] {
        switch spacing {
        case .linspace:
            return linspace(0, Double(T - 1), N).reversed().map { Float($0) }
        case .leading:
            let ratio = T / N
            return (0..<N).reversed().map { Float($0 * ratio) + Float(offset) }
        case .trailing:
            return trailing(trainSteps: T, steps: N).map { Float($0) }
        }
    }

    /// Checks a step count against the training range.
    static func validate(steps N: Int, trainSteps T: Int, scheduler: String) throws(SchedulerError) {
        if N < 1 { throw .invalidStepCount(scheduler: scheduler, steps: N, reason: "needs at least 1 step") }
        if N > T {
            throw .invalidStepCount(scheduler: scheduler, steps: N, reason: "more steps than num_train_timesteps (\(T))")
        }
    }

    /// img2img (`StableDiffusionImg2ImgPipeline.get_timesteps`): the index of the first step to run for a strength.
    /// - Returns: `t_start · order`, to be passed to ``Scheduler/setBeginIndex(_:)``.
    public static func img2imgBeginIndex(steps N: Int, strength: Double, order: Int) throws(SchedulerError) -> Int {
        guard strength > 0, strength <= 1 else { throw .invalidStrength(strength) }
        let initSteps = min(Int(Double(N) * strength), N)
        let tStart = max(N - initSteps, 0)
        return tStart * order
    }
}
