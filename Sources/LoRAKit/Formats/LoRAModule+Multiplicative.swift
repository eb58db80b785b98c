/// The two non-additive rules: DoRA (NUMERICS §1.8) and IA³ (§1.5).
extension LoRAModule {
    /// The DoRA axis for a weight of `shape`, inferred from the magnitude's shape:
    /// output axis when it has `out` elements, input axis when it has `in`; for square
    /// weights the position of the non-singleton dimension decides (`(1, in)` → input).
    /// - Throws: ``LoRAError/shapeMismatch(target:expected:actual:)`` when it fits neither.
    public func doraAxis(forWeightShape shape: [Int]) throws(LoRAError) -> DoRAAxis {
        let m = try view(.doraScale)
        let out = shape.first ?? 1
        let inWidth = shape.count >= 2 ? shape[1] : 1
        let n = m.elementCount
        if n == out && n != inWidth { return .output }
        if n == inWidth && n != out { return .input }
        if n == out && n == inWidth {
            let dims = m.shape
            if dims.count >= 2 && dims[0] == 1 && dims[1] == n { return .input }
            return .output
        }
        throw .shapeMismatch(target: target.description + " (dora_scale)", expected: shape, actual: m.shape)
    }

    /// `W + λ·(m ⊙ V/‖V‖ − W)` with `V = W + s·ΔW`, the norm taken per output row or per
    /// input column (plus `Float.ulpOfOne`, as LyCORIS and ComfyUI do).
    func applyDoRA(_ weight: inout [Float], shape: [Int], strength: Float) throws(LoRAError) {
        let axis = try doraAxis(forWeightShape: shape)
        let magnitude = try view(.doraScale).floats()
        var v = weight
        let delta = try deltaWeight(shape: shape)
        try DeltaMath.la { () throws(LinearAlgebraError) in try BLAS.axpy(1, delta, &v) }
        let out = shape.first ?? 1
        let inWidth = shape.count >= 2 ? shape[1] : 1
        let tail = weight.count / max(out * inWidth, 1)
        var norms = [Float](repeating: 0, count: axis == .output ? out : inWidth)
        for o in 0..<out {
            for i in 0..<inWidth {
                let base = (o * inWidth + i) * tail
                var sum: Float = 0
                for t in 0..<tail { sum += v[base + t] * v[base + t] }
                norms[axis == .output ? o : i] += sum
            }
        }
        for k in norms.indices { norms[k] = norms[k].squareRoot() + Float.ulpOfOne }
        for o in 0..<out {
            for i in 0..<inWidth {
                let k = axis == .output ? o : i
                let factor = magnitude[k] / norms[k]
                let base = (o * inWidth + i) * tail
                for t in 0..<tail {
                    let w = weight[base + t]
                    weight[base + t] = w + strength * (factor * v[base + t] - w)
                }
            }
        }
    }

    /// `W ⊙ (1 + λ·w)` along output rows (`on_input = 0`) or input columns (`on_input = 1`).
    func applyIA3(_ weight: inout [Float], shape: [Int], strength: Float) throws(LoRAError) {
        let w = try view(.ia3Weight)
        let out = shape.first ?? 1
        let inWidth = shape.count >= 2 ? shape[1] : 1
        let expected = ia3OnInput ? inWidth : out
        guard w.elementCount == expected else {
            throw .shapeMismatch(target: target.description, expected: shape, actual: w.shape)
        }
        let vector = w.floats()
        let tail = weight.count / max(out * inWidth, 1)
        for o in 0..<out {
            for i in 0..<inWidth {
                let factor = 1 + strength * vector[ia3OnInput ? i : o]
                let base = (o * inWidth + i) * tail
                for t in 0..<tail { weight[base + t] *= factor }
            }
        }
    }
}

extension LoRAModule {
    /// `s · ΔW` in the shape the module's own factors give (`(out, in)`, `(out, in, kh, kw)`,
    /// or `(out, in·kh·kw)` for flattened LoHa conv factors), for statistics when no base
    /// weight is at hand.
    /// - Throws: ``LoRAError/unsupported(target:reason:)`` for IA³ or a module with no weight delta;
    ///   ``LoRAError/invalidTensor(key:reason:)`` for malformed factors.
    public func scaledDelta() throws(LoRAError) -> (values: [Float], shape: [Int]) {
        guard family.isAdditive else {
            throw .unsupported(target: target.description, reason: "IA3 scales the weight; it has no additive ΔW")
        }
        guard patchesWeight else { throw .unsupported(target: target.description, reason: "the module has no weight delta") }
        try checkDeltaSize(fitting: nil)
        var natural = try naturalDelta()
        let s = scale
        try DeltaMath.la { () throws(LinearAlgebraError) in try BLAS.scale(&natural.values, by: s) }
        return natural
    }
}
