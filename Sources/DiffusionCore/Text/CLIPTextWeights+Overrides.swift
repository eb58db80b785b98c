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
        var out = self
        let d = config.hiddenSize
        for (name, values) in overrides.sorted(by: { $0.key < $1.key }) {
            func tensor(_ shape: [Int]) throws(TextError) -> Tensor { try Self.tensor(values, shape, name) }
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

    private static func set(_ slot: LayerSlot, in layer: inout Layer, values: [Float], name: String, width d: Int,
                            inner: Int) throws(TextError) {
        func tensor(_ shape: [Int]) throws(TextError) -> Tensor { try Self.tensor(values, shape, name) }
        func matrix(_ shape: [Int]) throws(TextError) -> WeightMatrix { try Self.matrix(values, shape, name) }
        switch slot {
        case .layerNorm1Weight: layer.layerNorm1Weight = try tensor([d])
        case .layerNorm1Bias: layer.layerNorm1Bias = try tensor([d])
        case .layerNorm2Weight: layer.layerNorm2Weight = try tensor([d])
        case .layerNorm2Bias: layer.layerNorm2Bias = try tensor([d])
        case let .qkvWeight(part):
            guard values.count == d * d else { throw .weightShapeMismatch(name: name, expected: [d, d], actual: [values.count]) }
            var stacked = layer.qkvProj.withFloat32(workspace: nil) { Array(UnsafeBufferPointer(start: $0, count: 3 * d * d)) }
            stacked.replaceSubrange((part * d * d)..<((part + 1) * d * d), with: values)
            layer.qkvProj = try Self.matrix(stacked, [3 * d, d], name)
        case let .qkvBias(part):
            guard values.count == d else { throw .weightShapeMismatch(name: name, expected: [d], actual: [values.count]) }
            var stacked = layer.qkvBias.scalars
            stacked.replaceSubrange((part * d)..<((part + 1) * d), with: values)
            layer.qkvBias = try Self.tensor(stacked, [3 * d], name)
        case .outProj: layer.outProj = try matrix([d, d])
        case .outBias: layer.outBias = try tensor([d])
        case .fc1: layer.fc1 = try matrix([inner, d])
        case .fc1Bias: layer.fc1Bias = try tensor([inner])
        case .fc2: layer.fc2 = try matrix([d, inner])
        case .fc2Bias: layer.fc2Bias = try tensor([d])
        }
    }

    private static func tensor(_ values: [Float], _ shape: [Int], _ name: String) throws(TextError) -> Tensor {
        guard values.count == shape.reduce(1, *), let t = try? Tensor(shape: shape, scalars: values) else {
            throw .weightShapeMismatch(name: name, expected: shape, actual: [values.count])
        }
        return t
    }

    private static func matrix(_ values: [Float], _ shape: [Int], _ name: String) throws(TextError) -> WeightMatrix {
        guard let m = try? WeightMatrix(try tensor(values, shape, name)) else {
            throw .weightShapeMismatch(name: name, expected: shape, actual: [values.count])
        }
        return m
    }
}
