import Foundation
import LoRAKit

/// The weights of one CLIP text encoder, found under transformers' names with or without the `text_model.`
/// level (transformers 4 wrote it, and real SD folders have it; transformers 5 does not).
struct CLIPTextWeights: Sendable {
    struct Layer: Sendable {
        var layerNorm1Weight: Tensor, layerNorm1Bias: Tensor   // [D]
        var qkvProj: WeightMatrix, qkvBias: Tensor              // q, k, v stacked: [3D, D], [3D] (one product)
        var outProj: WeightMatrix, outBias: Tensor              // [D, D], [D]
        var layerNorm2Weight: Tensor, layerNorm2Bias: Tensor   // [D]
        var fc1: WeightMatrix, fc1Bias: Tensor                  // [I, D], [I]
        var fc2: WeightMatrix, fc2Bias: Tensor                  // [D, I], [D]
    }

    var tokenEmbedding: Tensor       // [vocab, D]
    var positionEmbedding: Tensor    // [positions, D]
    var layers: [Layer]
    var finalLayerNormWeight: Tensor, finalLayerNormBias: Tensor   // [D]
    var textProjection: WeightMatrix?                              // [P, D]

    /// Reads every weight `config` implies from `files` (shards of one model), checking each shape.
    /// - Throws: ``TextError/missingWeight(_:)``, ``TextError/weightShapeMismatch(name:expected:actual:)``,
    ///   ``TextError/weightFile(file:reason:)``, ``TextError/invalidWeight(name:underlying:)``.
    init(config: CLIPTextConfig, files: [SafetensorsFile]) throws(TextError) {
        var index: [String: (SafetensorsFile, TensorInfo)] = [:]
        for file in files { for info in file.tensors { index[info.name] = (file, info) } }
        let prefix = index.keys.contains { $0.hasPrefix("text_model.") } ? "text_model." : ""
        let d = config.hiddenSize, inner = config.intermediateSize

        func view(_ name: String, _ shape: [Int], prefixed: Bool = true) throws(TextError) -> TensorView {
            let key = (prefixed ? prefix : "") + name
            guard let (file, info) = index[key] else { throw .missingWeight(key) }
            guard info.shape == shape else { throw .weightShapeMismatch(name: key, expected: shape, actual: info.shape) }
            guard info.dtype.isFloatingPoint else {
                throw .weightFile(file: file.path ?? "weights", reason: "\(key) holds \(info.dtype.rawValue) values")
            }
            return file.tensor(info)
        }
        func vector(_ name: String, _ count: Int) throws(TextError) -> Tensor {
            WeightMatrix.decode(try view(name, [count]))
        }
        func matrix(_ name: String, _ shape: [Int], prefixed: Bool = true) throws(TextError) -> WeightMatrix {
            let v = try view(name, shape, prefixed: prefixed)
            do { return try WeightMatrix(v, loading: .widenAtLoad) } catch {
                throw .invalidWeight(name: v.name, underlying: error)
            }
        }

        tokenEmbedding = WeightMatrix.decode(try view("embeddings.token_embedding.weight", [config.vocabSize, d]))
        positionEmbedding = WeightMatrix.decode(try view("embeddings.position_embedding.weight", [config.maxPositionEmbeddings, d]))
        var layers: [Layer] = []
        for l in 0..<config.numHiddenLayers {
            let p = "encoder.layers.\(l)."
            var qkv = [Float](), qkvBias = [Float]()
            qkv.reserveCapacity(3 * d * d)
            for part in ["q", "k", "v"] {
                qkv += try view(p + "self_attn.\(part)_proj.weight", [d, d]).floats()
                qkvBias += try view(p + "self_attn.\(part)_proj.bias", [d]).floats()
            }
            let stacked: WeightMatrix, stackedBias: Tensor
            do {
                stacked = try WeightMatrix(Tensor(shape: [3 * d, d], scalars: qkv))
                stackedBias = try Tensor(shape: [3 * d], scalars: qkvBias)
            } catch {
                throw .invalidWeight(name: p + "self_attn.{q,k,v}_proj", underlying: error)
            }
            layers.append(Layer(
                layerNorm1Weight: try vector(p + "layer_norm1.weight", d), layerNorm1Bias: try vector(p + "layer_norm1.bias", d),
                qkvProj: stacked, qkvBias: stackedBias,
                outProj: try matrix(p + "self_attn.out_proj.weight", [d, d]), outBias: try vector(p + "self_attn.out_proj.bias", d),
                layerNorm2Weight: try vector(p + "layer_norm2.weight", d), layerNorm2Bias: try vector(p + "layer_norm2.bias", d),
                fc1: try matrix(p + "mlp.fc1.weight", [inner, d]), fc1Bias: try vector(p + "mlp.fc1.bias", inner),
                fc2: try matrix(p + "mlp.fc2.weight", [d, inner]), fc2Bias: try vector(p + "mlp.fc2.bias", d)))
        }
        self.layers = layers
        finalLayerNormWeight = try vector("final_layer_norm.weight", d)
        finalLayerNormBias = try vector("final_layer_norm.bias", d)
        if let projection = config.projectionDim, config.architecture == "CLIPTextModelWithProjection" || index["text_projection.weight"] != nil {
            textProjection = try matrix("text_projection.weight", [projection, d], prefixed: false)
        } else {
            textProjection = nil
        }
    }
}
