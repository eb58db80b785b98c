/// Which tensor of a model a LoRA patch lands on, by the rules `lora-tool merge` bakes with; the
/// runtime fuses LoRAs into loaded weights with the same rules.
///
/// A patch of module `path` changes the parameter `path.weight` of its component and, when it has a
/// bias delta, `path.bias`. In a concrete file that parameter may be a whole tensor, one third of the
/// rows of OpenCLIP's fused `attn.in_proj_weight` / `in_proj_bias` (q, k, v), or a transposed matrix
/// (OpenCLIP's `text_projection`).
package struct PatchPlacement: Sendable, Hashable {
    /// Where the weight lands.
    package var weight: ParameterLocation
    /// Where the bias lands, when the patch changes the bias and the layer has one.
    package var bias: ParameterLocation?
    /// The patch changes the bias but the model layer has none (reported as an unused key).
    package var biasMissing: Bool

    /// The canonical weight parameter of a patch target.
    package static func weightKey(_ target: ModuleTarget) -> ParameterKey {
        ParameterKey(component: target.component, name: target.path + ".weight")
    }

    /// The canonical bias parameter of a patch target.
    package static func biasKey(_ target: ModuleTarget) -> ParameterKey {
        ParameterKey(component: target.component, name: target.path + ".bias")
    }

    /// Where `patch` lands in a file with this index, or nil when the file has no such layer.
    package static func resolve(_ patch: any WeightPatch, in index: ParameterIndex) -> PatchPlacement? {
        guard let weight = index.location(of: weightKey(patch.target)) else { return nil }
        guard patch.patchesBias else { return PatchPlacement(weight: weight, bias: nil, biasMissing: false) }
        let bias = index.location(of: biasKey(patch.target))
        return PatchPlacement(weight: weight, bias: bias, biasMissing: bias == nil)
    }

    /// Applies `patch` at `strength` to the values of the stored tensor at `location` (`values` holds the
    /// whole stored tensor of shape `storedShape`): the right third of a fused tensor, a transposed
    /// matrix in its canonical orientation, a squeezed weight under its canonical shape.
    /// - Throws: the patch's error, or ``LoRAError/shapeMismatch(target:expected:actual:)`` when a fused
    ///   tensor does not split in three. `values` is unchanged when it throws.
    package static func apply(_ patch: any WeightPatch, isBias: Bool, strength: Float, at location: ParameterLocation,
                              to values: inout [Float], storedShape: [Int]) throws(LoRAError) {
        if let third = location.fusedThird {
            guard let rows = storedShape.first, rows % 3 == 0, values.count % 3 == 0 else {
                throw .shapeMismatch(target: patch.target.description, expected: storedShape, actual: [values.count])
            }
            let subShape = [rows / 3] + storedShape.dropFirst()
            let n = values.count / 3
            var slice = Array(values[(third * n)..<((third + 1) * n)])
            try applyCanonical(patch, isBias: isBias, strength: strength, storage: location.storage, to: &slice, storedShape: subShape)
            values.replaceSubrange((third * n)..<((third + 1) * n), with: slice)
        } else {
            try applyCanonical(patch, isBias: isBias, strength: strength, storage: location.storage, to: &values, storedShape: storedShape)
        }
    }

    private static func applyCanonical(_ patch: any WeightPatch, isBias: Bool, strength: Float, storage: ParameterLocation.Storage,
                                       to values: inout [Float], storedShape: [Int]) throws(LoRAError) {
        let shape = ParameterLocation(tensorName: "", storage: storage).canonicalShape(stored: storedShape)
        if storage == .transposed, storedShape.count == 2 {
            var canonical = transpose(values, rows: storedShape[0], columns: storedShape[1])
            try applyWhole(patch, isBias: isBias, strength: strength, to: &canonical, shape: shape)
            values = transpose(canonical, rows: storedShape[1], columns: storedShape[0])
        } else {
            try applyWhole(patch, isBias: isBias, strength: strength, to: &values, shape: shape)
        }
    }

    private static func applyWhole(_ patch: any WeightPatch, isBias: Bool, strength: Float, to values: inout [Float], shape: [Int]) throws(LoRAError) {
        if isBias {
            try patch.apply(toBias: &values, shape: shape, strength: strength)
        } else {
            try patch.apply(toWeight: &values, shape: shape, strength: strength)
        }
    }

    static func transpose(_ a: [Float], rows: Int, columns: Int) -> [Float] {
        var t = [Float](repeating: 0, count: a.count)
        for r in 0..<rows { for c in 0..<columns { t[c * rows + r] = a[r * columns + c] } }
        return t
    }
}
