/// Fusing into loaded weights: a runtime holds parameters by canonical name and shape, so it patches the
/// canonical parameter a ``PatchPlacement`` points at, not the stored tensor around it.
extension PatchPlacement {
    /// Applies `patch` at `strength` to the canonical values of one parameter (`shape` is the canonical shape:
    /// one third of a fused q/k/v tensor, a transposed matrix turned back, a squeezed weight with its short shape).
    /// - Throws: the patch's error; `values` is unchanged when it throws.
    package static func applyCanonical(_ patch: any WeightPatch, isBias: Bool, strength: Float, to values: inout [Float],
                                       shape: [Int]) throws(LoRAError) {
        if isBias {
            try patch.apply(toBias: &values, shape: shape, strength: strength)
        } else {
            try patch.apply(toWeight: &values, shape: shape, strength: strength)
        }
    }
}
