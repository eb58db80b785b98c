import LoRAKit

/// Replacing some parameters of a loaded text encoder (LoRA-fused weights), everything else shared with the
/// encoder it was made from.
extension CLIPTextWeights {
    /// Where a canonical per-layer parameter (`text_model.encoder.layers.N.` + key) lives in ``Layer``.
    enum LayerSlot: Sendable {
        case layerNorm1Weight, layerNorm1Bias, layerNorm2Weight, layerNorm2Bias
        /// Rows `part·D ..< (part+1)·D` of the stacked q/k/v weight or bias.
        case qkvWeight(part: Int), qkvBias(part: Int)
        case outProj, outBias, fc1, fc1Bias, fc2, fc2Bias
    }

    /// Canonical (transformers) names inside a layer → slot.
    static let layerSlots: [String: LayerSlot] = [
        "layer_norm1.weight": .layerNorm1Weight, "layer_norm1.bias": .layerNorm1Bias,
        "layer_norm2.weight": .layerNorm2Weight, "layer_norm2.bias": .layerNorm2Bias,
        "self_attn.q_proj.weight": .qkvWeight(part: 0), "self_attn.k_proj.weight": .qkvWeight(part: 1),
        "self_attn.v_proj.weight": .qkvWeight(part: 2),
        "self_attn.q_proj.bias": .qkvBias(part: 0), "self_attn.k_proj.bias": .qkvBias(part: 1),
        "self_attn.v_proj.bias": .qkvBias(part: 2),
        "self_attn.out_proj.weight": .outProj, "self_attn.out_proj.bias": .outBias,
        "mlp.fc1.weight": .fc1, "mlp.fc1.bias": .fc1Bias, "mlp.fc2.weight": .fc2, "mlp.fc2.bias": .fc2Bias,
    ]

    static let layerPrefix = "text_model.encoder.layers."

    /// These weights with the parameters of `overrides` (canonical name with the `text_model.` level →
    /// float32 values in canonical shape) replaced. Only the layers named are rebuilt; the rest are shared.
    /// - Throws: ``TextError/missingWeight(_:)`` for a name the encoder has no parameter for,
    ///   ``TextError/weightShapeMismatch(name:expected:actual:)`` for values of the wrong size.
    func replacing(_ overrides: [String: [Float]], config: CLIPTextConfig) throws(TextError) -> CLIPTextWeights {
        var fused: [String: FusedValues] = [:]
        for (name, values) in overrides {
            fused[name] = .float32(try Self.tensor(values, [values.count], name))
        }
        return try replacing(fused, config: config)
    }

    /// These weights with the parameters of `overrides` (canonical name → LoRA-fused values) replaced. Matrices
    /// fused in half precision stay half precision (the stacked q/k/v too, when it is held in the same type);
    /// vectors and embeddings are held in float32 (exact widening).
    func replacing(_ overrides: [String: FusedValues], config: CLIPTextConfig) throws(TextError) -> CLIPTextWeights {
        var out = self
        let d = config.hiddenSize
        for (name, values) in overrides.sorted(by: { $0.key < $1.key }) {
            func tensor(_ shape: [Int]) throws(TextError) -> Tensor { try Self.tensor(values.floats(), shape, name) }
            switch name {
            case "text_model.embeddings.token_embedding.weight": out.tokenEmbedding = try tensor(tokenEmbedding.shape)
            case "text_model.embeddings.position_embedding.weight": out.positionEmbedding = try tensor(positionEmbedding.shape)
            case "text_model.final_layer_norm.weight": out.finalLayerNormWeight = try tensor([d])
            case "text_model.final_layer_norm.bias": out.finalLayerNormBias = try tensor([d])
            case "text_projection.weight":
                guard let projection = textProjection else { throw .missingWeight(name) }
                out.textProjection = try Self.matrix(values, projection.shape, name)
            default:
                guard name.hasPrefix(Self.layerPrefix) else { throw .missingWeight(name) }
                let rest = name.dropFirst(Self.layerPrefix.count)
                guard let dot = rest.firstIndex(of: "."), let l = Int(rest[..<dot]), out.layers.indices.contains(l),
                      let slot = Self.layerSlots[String(rest[rest.index(after: dot)...])] else { throw .missingWeight(name) }
                try Self.set(slot, in: &out.layers[l], values: values, name: name, width: d, inner: config.intermediateSize)
            }
        }
        return out
    }

    private static func set(_ slot: LayerSlot, in layer: inout Layer, values: FusedValues, name: String, width d: Int,
                            inner: Int) throws(TextError) {
        func tensor(_ shape: [Int]) throws(TextError) -> Tensor { try Self.tensor(values.floats(), shape, name) }
        func matrix(_ shape: [Int]) throws(TextError) -> WeightMatrix { try Self.matrix(values, shape, name) }
        switch slot {
        case .layerNorm1Weight: layer.layerNorm1Weight = try tensor([d])
        case .layerNorm1Bias: layer.layerNorm1Bias = try tensor([d])
        case .layerNorm2Weight: layer.layerNorm2Weight = try tensor([d])
        case .layerNorm2Bias: layer.layerNorm2Bias = try tensor([d])
        case let .qkvWeight(part):
            guard values.shape.reduce(1, *) == d * d else {
                throw .weightShapeMismatch(name: name, expected: [d, d], actual: values.shape)
            }
            if let half = replacingHalf(part, of: layer.qkvProj, with: values, width: d) {
                layer.qkvProj = half
                return
            }
            var stacked = layer.qkvProj.withFloat32(workspace: nil) { Array(UnsafeBufferPointer(start: $0, count: 3 * d * d)) }
            stacked.replaceSubrange((part * d * d)..<((part + 1) * d * d), with: values.floats())
            let tensor = try Self.tensor(stacked, [3 * d, d], name)
            guard let m = try? WeightMatrix(tensor) else {
                throw .weightShapeMismatch(name: name, expected: [3 * d, d], actual: tensor.shape)
            }
            layer.qkvProj = m
        case let .qkvBias(part):
            let floats = values.floats()
            guard floats.count == d else { throw .weightShapeMismatch(name: name, expected: [d], actual: [floats.count]) }
            var stacked = layer.qkvBias.scalars
            stacked.replaceSubrange((part * d)..<((part + 1) * d), with: floats)
            layer.qkvBias = try Self.tensor(stacked, [3 * d], name)
        case .outProj: layer.outProj = try matrix([d, d])
        case .outBias: layer.outBias = try tensor([d])
        case .fc1: layer.fc1 = try matrix([inner, d])
        case .fc1Bias: layer.fc1Bias = try tensor([inner])
        case .fc2: layer.fc2 = try matrix([d, inner])
        case .fc2Bias: layer.fc2Bias = try tensor([d])
        }
    }

    /// The stacked q/k/v `stacked` with rows `part·D ..< (part+1)·D` replaced by half-precision `values`, kept in
    /// half precision, when both are of the same half-precision type; nil otherwise.
    private static func replacingHalf(_ part: Int, of stacked: WeightMatrix, with values: FusedValues, width d: Int) -> WeightMatrix? {
        guard case let .half(fused, _) = values, fused.element == stacked.element, fused.count == d * d,
              stacked.rows == 3 * d, stacked.columns == d else { return nil }
        let buffer = HalfBuffer(count: 3 * d * d, element: fused.element)
        let copied: Bool? = stacked.withHalfBytes { from in
            UnsafeMutableRawPointer(buffer.base).copyMemory(from: from, byteCount: 2 * 3 * d * d)
            return true
        }
        guard copied == true else { return nil }
        (buffer.base + part * d * d).update(from: fused.base, count: d * d)
        return withExtendedLifetime(fused) { try? WeightMatrix(half: buffer, shape: [3 * d, d]) }
    }

    private static func tensor(_ values: [Float], _ shape: [Int], _ name: String) throws(TextError) -> Tensor {
        guard values.count == shape.reduce(1, *), let t = try? Tensor(shape: shape, scalars: values) else {
            throw .weightShapeMismatch(name: name, expected: shape, actual: [values.count])
        }
        return t
    }

    /// `values` as a weight of `shape`: half-precision values stay half precision (no copy).
    private static func matrix(_ values: FusedValues, _ shape: [Int], _ name: String) throws(TextError) -> WeightMatrix {
        if case let .half(buffer, _) = values {
            guard buffer.count == shape.reduce(1, *), let m = try? WeightMatrix(half: buffer, shape: shape) else {
                throw .weightShapeMismatch(name: name, expected: shape, actual: values.shape)
            }
            return m
        }
        let floats = values.floats()
        guard let m = try? WeightMatrix(try tensor(floats, shape, name)) else {
            throw .weightShapeMismatch(name: name, expected: shape, actual: [floats.count])
        }
        return m
    }
}
