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
    ///   ``TextError/weightFile(file:reason:)``, ``TextError/invalidWeight(name:underlying:)``, ``TextError/modelFile(_:)``.
    init(config: CLIPTextConfig, files: [SafetensorsFile]) throws(TextError) {
        let tensors: ComponentTensors
        do { tensors = try ComponentTensors(part: .textEncoder, safetensors: files) } catch {
            throw .modelFile(error)
        }
        try self.init(config: config, tensors: tensors)
    }

    /// Reads every weight `config` implies from a text encoder's tensors in LoRAKit's model layer (transformers
    /// names with the `text_model.` level, whatever the file's naming: OpenCLIP's fused q/k/v thirds and its
    /// transposed `text_projection` come through the name table). `overrides` replaces parameters by canonical
    /// name, in canonical shape (LoRA-fused weights).
    init(config: CLIPTextConfig, tensors: ComponentTensors, overrides: [String: [Float]] = [:]) throws(TextError) {
        let prefix = "text_model."
        let d = config.hiddenSize, inner = config.intermediateSize

        func values(_ name: String, _ shape: [Int], prefixed: Bool = true) throws(TextError) -> [Float] {
            let key = (prefixed ? prefix : "") + name
            guard let t = try? tensors.tensor(key) else { throw .missingWeight(key) }
            guard t.shape == shape else { throw .weightShapeMismatch(name: key, expected: shape, actual: t.shape) }
            guard t.dtype.isFloatingPoint else {
                throw .weightFile(file: tensors.path(of: key), reason: "\(key) holds \(t.dtype.rawValue) values")
            }
            return overrides[key] ?? t.floats()
        }
        func tensor(_ name: String, _ shape: [Int], prefixed: Bool = true) throws(TextError) -> Tensor {
            let v = try values(name, shape, prefixed: prefixed)
            do { return try Tensor(shape: shape, scalars: v) } catch {
                throw .invalidWeight(name: (prefixed ? prefix : "") + name, underlying: error)
            }
        }
        func vector(_ name: String, _ count: Int) throws(TextError) -> Tensor { try tensor(name, [count]) }
        func matrix(_ name: String, _ shape: [Int], prefixed: Bool = true) throws(TextError) -> WeightMatrix {
            // A stored matrix stays mapped (half precision kept half-size, widened per product, as the UNet's
            // weights are); only LoRA-fused replacements and copied layouts live in memory as float32.
            let key = (prefixed ? prefix : "") + name
            if overrides[key] == nil, let stored = try? tensors.tensor(key), stored.shape == shape,
               stored.dtype.isFloatingPoint, let view = stored.mappedView {
                do { return try WeightMatrix(view, loading: .keepHalfPrecision) } catch {
                    throw .invalidWeight(name: key, underlying: error)
                }
            }
            let t = try tensor(name, shape, prefixed: prefixed)
            do { return try WeightMatrix(t) } catch {
                throw .invalidWeight(name: (prefixed ? prefix : "") + name, underlying: error)
            }
        }
        tokenEmbedding = try tensor("embeddings.token_embedding.weight", [config.vocabSize, d])
        positionEmbedding = try tensor("embeddings.position_embedding.weight", [config.maxPositionEmbeddings, d])
        var layers: [Layer] = []
        for l in 0..<config.numHiddenLayers {
            let p = "encoder.layers.\(l)."
            // q, k and v are stacked into one product: in the file's half precision when all three are stored so
            // (half the bytes of float32, widened per product as the other matrices are), else in float32.
            let qkvNames = ["q", "k", "v"].map { prefix + p + "self_attn.\($0)_proj.weight" }
            var qkv = [Float](), qkvBias = [Float]()
            let halfStack = qkvNames.contains { overrides[$0] != nil } ? nil : Self.halfStack(qkvNames, tensors: tensors, width: d)
            if halfStack == nil { qkv.reserveCapacity(3 * d * d) }
            for part in ["q", "k", "v"] {
                if halfStack == nil { qkv += try values(p + "self_attn.\(part)_proj.weight", [d, d]) }
                qkvBias += try values(p + "self_attn.\(part)_proj.bias", [d])
            }
            let stacked: WeightMatrix, stackedBias: Tensor
            do throws(TensorError) {
                if let halfStack { stacked = halfStack } else { stacked = try WeightMatrix(Tensor(shape: [3 * d, d], scalars: qkv)) }
                stackedBias = try Tensor(shape: [3 * d], scalars: qkvBias)
            } catch {
                throw .invalidWeight(name: prefix + p + "self_attn.{q,k,v}_proj", underlying: error)
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
        if let projection = config.projectionDim, config.architecture == "CLIPTextModelWithProjection" || tensors.contains("text_projection.weight") {
            textProjection = try matrix("text_projection.weight", [projection, d], prefixed: false)
        } else {
            textProjection = nil
        }
    }

    /// The `[D, D]` weights `names` stacked into one `[3D, D]` half-precision matrix (a copy of their elements)
    /// when all are stored as the same half-precision type; nil otherwise (float32 stacking then reads and checks
    /// them). The originals' mapped pages are released once copied.
    static func halfStack(_ names: [String], tensors: ComponentTensors, width d: Int) -> WeightMatrix? {
        let stored = names.compactMap { try? tensors.tensor($0) }
        guard stored.count == names.count, let dtype = stored.first?.dtype, dtype == .f16 || dtype == .bf16,
              stored.allSatisfy({ $0.dtype == dtype && $0.shape == [d, d] }) else { return nil }
        let buffer = HalfBuffer(count: names.count * d * d, element: dtype == .f16 ? .float16 : .bfloat16)
        for (i, tensor) in stored.enumerated() {
            let copied: Bool = tensor.withUnsafeBytes { raw in
                guard raw.count == 2 * d * d, let from = raw.baseAddress else { return false }
                UnsafeMutableRawPointer(buffer.base + i * d * d).copyMemory(from: from, byteCount: raw.count)
                return true
            }
            guard copied else { return nil }
            tensor.releasePages()
        }
        return try? WeightMatrix(half: buffer, shape: [names.count * d, d])
    }
}
