/// A1111's "Original" emphasis on one chunk's hidden states: every position's vector is multiplied by its
/// weight, then the whole chunk is rescaled so its mean equals the mean before weighting
/// (`modules/sd_emphasis.py`, `EmphasisOriginal`).
enum PromptEmphasis {
    /// Applies the weights (`[tokens]`) to `z` (`[tokens, width]`, row-major) in place.
    static func apply(weights: [Float], to z: inout [Float], width: Int) {
        guard weights.contains(where: { $0 != 1 }) else { return }
        var before = 0.0
        for v in z { before += Double(v) }
        var after = 0.0
        for (t, w) in weights.enumerated() {
            for c in 0..<width {
                let scaled = z[t * width + c] * w
                z[t * width + c] = scaled
                after += Double(scaled)
            }
        }
        let n = Double(z.count)
        let ratio = Float(before / n) / Float(after / n)
        for i in z.indices { z[i] *= ratio }
    }
}
