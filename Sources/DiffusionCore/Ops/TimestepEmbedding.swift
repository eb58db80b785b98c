import Foundation

extension Ops {
    /// The sinusoidal timestep embedding of diffusers' `get_timestep_embedding`.
    ///
    /// For `half = dim / 2`: `freq[i] = exp(−ln(maxPeriod) · i / (half − downscaleFreqShift))`,
    /// `arg = scale · t · freq`, the embedding is `[sin(arg), cos(arg)]` (`[cos, sin]` with `flipSinToCos`),
    /// zero-padded by one column when `dim` is odd. Each step is float32 as in torch.
    /// SD-family UNets use `flipSinToCos: true, downscaleFreqShift: 0`.
    ///
    /// - Parameter timesteps: one value per batch element (fractional timesteps allowed).
    /// - Returns: `[timesteps.count, dim]`.
    /// - Throws: ``TensorError/invalidArgument(operation:reason:)`` for `dim < 2`, no timesteps, or a shift that
    ///   leaves no positive denominator.
    public static func timestepEmbedding(
        _ timesteps: [Float], dim: Int, flipSinToCos: Bool = true, downscaleFreqShift: Float = 0,
        scale: Float = 1, maxPeriod: Float = 10000, workspace: Workspace? = nil
    ) throws(TensorError) -> Tensor {
        let op = "timestepEmbedding"
        guard dim >= 2 else { throw .invalidArgument(operation: op, reason: "dimension \(dim) is below 2") }
        guard !timesteps.isEmpty else { throw .invalidArgument(operation: op, reason: "no timesteps") }
        let half = dim / 2
        let denominator = Float(half) - downscaleFreqShift
        guard denominator > 0, maxPeriod > 0 else {
            throw .invalidArgument(operation: op, reason: "half dimension \(half) minus shift \(downscaleFreqShift) is not positive")
        }
        _ = try Tensor.elementCount(of: [timesteps.count, dim])
        // torch: exponent = -math.log(max_period) * arange(half, float32); exponent / (half - shift); exp.
        let logPeriod = Float(-Foundation.log(Double(maxPeriod)))
        var freqs = [Float](repeating: 0, count: half)
        for i in 0..<half { freqs[i] = Foundation.exp((logPeriod * Float(i)) / denominator) }
        let out = makeOutput([timesteps.count, dim], workspace)
        let o = out.elementPointer
        for (row, t) in timesteps.enumerated() {
            let base = o + row * dim
            for i in 0..<half {
                let arg = scale * (t * freqs[i])
                let (s, c) = (Foundation.sin(arg), Foundation.cos(arg))
                base[flipSinToCos ? half + i : i] = s
                base[flipSinToCos ? i : half + i] = c
            }
            if dim % 2 == 1 { base[dim - 1] = 0 }
        }
        return out
    }
}
