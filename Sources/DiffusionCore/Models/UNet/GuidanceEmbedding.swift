import Foundation

/// The guidance-scale embedding of LCM-distilled UNets (`time_cond_proj_dim`), as diffusers'
/// `LatentConsistencyModelPipeline.get_guidance_scale_embedding` computes it: `w · 1000` through sinusoidal
/// features `[sin, cos]` (no flip), zero-padded to an odd width.
public enum GuidanceEmbedding {
    /// - Parameters:
    ///   - guidanceScaleMinusOne: one `w = guidance_scale − 1` per batch element (the pipeline's convention).
    ///   - dimension: the UNet's `time_cond_proj_dim`.
    /// - Returns: `[B, dimension]`.
    public static func embed(guidanceScaleMinusOne w: [Float], dimension: Int) throws(ModelError) -> Tensor {
        guard dimension >= 4 else { throw .invalidInput("guidance embedding width \(dimension) is too small") }
        let half = dimension / 2
        let step = Float(Foundation.log(10_000.0)) / Float(half - 1)
        let frequencies = (0..<half).map { Foundation.exp(Float($0) * -step) }
        var values = [Float](repeating: 0, count: w.count * dimension)
        for (row, scale) in w.enumerated() {
            let scaled = scale * 1000
            for i in 0..<half {
                let angle = scaled * frequencies[i]
                values[row * dimension + i] = Foundation.sin(angle)
                values[row * dimension + half + i] = Foundation.cos(angle)
            }
        }
        do { return try Tensor(shape: [w.count, dimension], scalars: values) } catch {
            throw .computation(error)
        }
    }
}
