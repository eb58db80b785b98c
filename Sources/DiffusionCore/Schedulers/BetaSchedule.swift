import Foundation

/// The training noise schedule: β, α = 1 − β and ᾱ (`alphas_cumprod`), built the way diffusers builds
/// them in float32 (NUMERICS.md §0.3, §4.0.2, §4.0.3).
public struct NoiseSchedule: Sendable, Equatable {
    /// β_t, t = 0..<T (float32).
    public let betas: [Float]
    /// ᾱ_t = Π_{i≤t} (1 − β_i) (float32; accumulated in double like torch's CPU `cumprod`).
    public let alphasCumprod: [Float]

    /// Builds the schedule from resolved settings.
    /// - Parameter terminalAlphaCumprodFloor: when zero-SNR rescaling is on, Euler-family and multistep
    ///   schedulers replace ᾱ[T−1] = 0 by 2⁻²⁴; pass `true` for those.
    init(settings s: SchedulerSettings, terminalAlphaCumprodFloor: Bool) {
        let T = s.numTrainTimesteps
        var betas: [Float]
        if let tb = s.trainedBetas {
            betas = tb.map { Float($0) }
        } else {
            switch s.betaSchedule {
            case .linear:
                betas = NoiseSchedule.torchLinspace(Float(s.betaStart), Float(s.betaEnd), T)
            case .scaledLinear:
                betas = NoiseSchedule.torchLinspace(Float(s.betaStart.squareRoot()), Float(s.betaEnd.squareRoot()), T)
                    .map { $0 * $0 }
            case .squaredcosCapV2:
                betas = NoiseSchedule.betasForAlphaBar(T) { t in
                    let c = cos((t + 0.008) / 1.008 * Double.pi / 2)
                    return c * c
                }
            case .exp:
                betas = NoiseSchedule.betasForAlphaBar(T) { t in exp(t * -12.0) }
            case .sigmoid:
                let x = NoiseSchedule.torchLinspace(-6, 6, T)
                let scale = Float(s.betaEnd - s.betaStart)
                betas = x.map { v in (1 / (1 + Float(exp(Double(-v))))) * scale + Float(s.betaStart) }
            }
        }
        if s.rescaleBetasZeroSNR {
            betas = NoiseSchedule.rescaleZeroTerminalSNR(betas)
        }
        var ac = NoiseSchedule.cumprod(betas.map { 1 - $0 })
        if s.rescaleBetasZeroSNR && terminalAlphaCumprodFloor, !ac.isEmpty {
            ac[ac.count - 1] = NoiseSchedule.zeroSNRFloor
        }
        self.betas = betas
        self.alphasCumprod = ac
    }

    /// `torch.linspace(a, b, n, dtype=float32)`, bit for bit (NUMERICS.md §4.0.2).
    static func torchLinspace(_ a: Float, _ b: Float, _ n: Int) -> [Float] {
        if n == 1 { return [a] }
        let step = (b - a) / Float(n - 1)
        let half = n / 2
        return (0..<n).map { i in
            i < half ? a.addingProduct(step, Float(i)) : b.addingProduct(-step, Float(n - 1 - i))
        }
    }

    /// torch's CPU float32 cumprod: accumulate in double, round each prefix product to float.
    static func cumprod(_ x: [Float]) -> [Float] {
        var acc = 1.0
        return x.map { v in acc *= Double(v); return Float(acc) }
    }

    /// `betas_for_alpha_bar`: β_i = min(1 − ᾱ((i+1)/T)/ᾱ(i/T), 0.999) in double, then float32.
    static func betasForAlphaBar(_ T: Int, _ f: (Double) -> Double) -> [Float] {
        (0..<T).map { i in
            let t1 = Double(i) / Double(T), t2 = Double(i + 1) / Double(T)
            return Float(min(1 - f(t2) / f(t1), 0.999))
        }
    }

    /// `rescale_zero_terminal_snr` (float32 like torch).
    static func rescaleZeroTerminalSNR(_ betas: [Float]) -> [Float] {
        let ac = cumprod(betas.map { 1 - $0 })
        var a = ac.map { $0.squareRoot() }
        guard let a0 = a.first, let aT = a.last else { return betas }
        let scale = a0 / (a0 - aT)
        for i in a.indices { a[i] = (a[i] - aT) * scale }
        let bar = a.map { $0 * $0 }
        var alphas = [bar[0]]
        for i in 1..<bar.count { alphas.append(bar[i] / bar[i - 1]) }
        return alphas.map { 1 - $0 }
    }

    /// The number of training timesteps T.
    public var count: Int { alphasCumprod.count }

    /// ᾱ at an integer timestep, clamped into the table.
    func alphaCumprod(at t: Int) -> Float {
        alphasCumprod[min(max(t, 0), alphasCumprod.count - 1)]
    }

    /// σ_t = sqrt((1 − ᾱ_t)/ᾱ_t) for every training timestep (float32, ascending in t).
    public var sigmaTable: [Float] {
        alphasCumprod.map { a in
            // The zero-SNR floor ᾱ = 2⁻²⁴ gives (1−ᾱ)/ᾱ = 2²⁴−1, whose square root lies within 1e−11 ulp of the
            // midpoint between two floats; torch's float32 `** 0.5` rounds it up to 4096 (IEEE sqrt rounds down).
            if a == NoiseSchedule.zeroSNRFloor { return 4096 }
            return ((1 - a) / a).squareRoot()
        }
    }

    /// ᾱ[T−1] after zero-SNR rescaling in the σ-based schedulers.
    static let zeroSNRFloor = Float(pow(2.0, -24.0))

    /// `add_noise` for the DDPM family: sqrt(ᾱ_t)·x0 + sqrt(1 − ᾱ_t)·ε.
    func addNoise(original: Tensor, noise: Tensor, timestep t: Int) -> Tensor {
        let a = alphaCumprod(at: t)
        return Tensor.combine(a.squareRoot(), original, (1 - a).squareRoot(), noise)
    }

    /// `add_noise` at model call `index` of a run over `timesteps` (the index clamped to the run).
    func addNoise(original: Tensor, noise: Tensor, timesteps: [Int], atIndex index: Int) -> Tensor {
        addNoise(original: original, noise: noise, timestep: timesteps[min(max(index, 0), timesteps.count - 1)])
    }
}
