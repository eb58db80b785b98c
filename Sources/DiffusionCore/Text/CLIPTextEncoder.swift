import Foundation
import LoRAKit

/// A CLIP text encoder (transformers' `CLIPTextModel` / `CLIPTextModelWithProjection`): token and position
/// embeddings, pre-norm transformer layers with causal self-attention, the final layer norm, and the pooled
/// output at the end-of-text position (projected by `text_projection` when the model has one).
///
/// SD1.x uses CLIP ViT-L (768 wide, `quick_gelu`), SD2.x OpenCLIP ViT-H (1024, `gelu`); SDXL uses CLIP ViT-L
/// and OpenCLIP bigG with projection (1280 → 1280).
public struct CLIPTextEncoder: Sendable {
    /// Which hidden state a chunk's conditioning is read from.
    public enum LayerSelection: Sendable, Equatable {
        /// `final_layer_norm(hidden_states[-(skipping + 1)])`: SD1.x / SD2.x pipelines with diffusers'
        /// `clip_skip = skipping` (0 is `last_hidden_state`).
        case normalized(skipping: Int)
        /// `hidden_states[-(skipping + 1)]` without the final norm: SDXL's penultimate layer is `skipping: 1`
        /// (diffusers' SDXL `clip_skip = k` is `skipping: k + 1`).
        case raw(skipping: Int)
    }

    /// What one chunk gives.
    public struct Output: Sendable {
        /// `[tokens, hiddenSize]`.
        public var hiddenStates: Tensor
        /// `[hiddenSize]`, or `[projectionDim]` for a model with `text_projection`; nil when not asked for.
        public var pooled: Tensor?
    }

    /// The configuration the encoder was built from.
    public let config: CLIPTextConfig
    private(set) var weights: CLIPTextWeights
    let activation: Activation
    /// The canonical names of the parameters replaced by ``replacingParameters(_:)`` (empty: the file's weights).
    public private(set) var replacedParameters: Set<String> = []

    /// Builds the encoder from a configuration and its weight files (one or more shards).
    /// - Throws: ``TextError/invalidEncoderConfig(file:reason:)``, ``TextError/missingWeight(_:)``,
    ///   ``TextError/weightShapeMismatch(name:expected:actual:)``, ``TextError/weightFile(file:reason:)``.
    public init(config: CLIPTextConfig, files: [SafetensorsFile]) throws(TextError) {
        try config.validate(file: "config.json")
        self.config = config
        activation = try config.activation()
        weights = try CLIPTextWeights(config: config, files: files)
    }

    /// This encoder with some parameters replaced (LoRA-fused weights): `overrides` maps canonical transformers
    /// names with the `text_model.` level (`text_model.encoder.layers.0.self_attn.q_proj.weight`,
    /// `text_projection.weight`) to float32 values in canonical shape. Only the layers named are rebuilt; every
    /// other weight is shared with this encoder. Call it on the encoder as loaded, so that replacing nothing
    /// gives back exactly the file's weights.
    /// - Throws: ``TextError/missingWeight(_:)`` for a name the encoder has no parameter for,
    ///   ``TextError/weightShapeMismatch(name:expected:actual:)`` for values of the wrong size.
    public func replacingParameters(_ overrides: [String: [Float]]) throws(TextError) -> CLIPTextEncoder {
        var copy = self
        copy.weights = try weights.replacing(overrides, config: config)
        copy.replacedParameters = replacedParameters.union(overrides.keys)
        return copy
    }

    /// ``replacingParameters(_:)`` with LoRA-fused values at the precision they were fused in: half-precision
    /// matrices are held as they are (no float32 copy).
    func replacingParameters(fused overrides: [String: FusedValues]) throws(TextError) -> CLIPTextEncoder {
        var copy = self
        copy.weights = try weights.replacing(overrides, config: config)
        copy.replacedParameters = replacedParameters.union(overrides.keys)
        return copy
    }

    /// Builds the encoder from a configuration and a text encoder's tensors in LoRAKit's model layer (a diffusers
    /// folder, shards, or a section of a single-file checkpoint), with the parameters named in `overrides`
    /// (canonical names and shapes) replaced — LoRA-fused weights.
    package init(config: CLIPTextConfig, tensors: ComponentTensors, overrides: [String: [Float]] = [:]) throws(TextError) {
        try config.validate(file: "config.json")
        self.config = config
        activation = try config.activation()
        weights = try CLIPTextWeights(config: config, tensors: tensors, overrides: overrides)
    }

    /// Loads a diffusers `text_encoder/` (or `text_encoder_2/`) folder: `config.json` and `model.safetensors`
    /// (else its fp16 variant, or the shards a `model.safetensors.index.json` lists — LoRAKit's variant rule).
    /// - Throws: the errors of ``init(config:files:)``; ``TextError/weightFile(file:reason:)`` when the folder has
    ///   no safetensors weights (pickled `pytorch_model.bin` is never loaded).
    public init(folder: URL) throws(TextError) {
        let config = try CLIPTextConfig(contentsOf: folder.appendingPathComponent("config.json"))
        let tensors: ComponentTensors
        do { tensors = try ModelBundle.openComponent(folder: folder, part: .textEncoder).tensors } catch {
            switch error {
            case .pickleWeights:
                throw .weightFile(file: folder.path, reason: "only pytorch_model.bin (a pickle, never loaded); convert it to model.safetensors")
            case .notAModel:
                throw .weightFile(file: folder.path, reason: "no model.safetensors")
            case let .unreadable(path, underlying):
                throw .unreadableWeights(file: path, underlying: underlying)
            default:
                throw .modelFile(error)
            }
        }
        try self.init(config: config, tensors: tensors)
    }

    /// Width of the hidden states.
    public var hiddenSize: Int { config.hiddenSize }
    /// Width of the pooled output (the projection's when there is one).
    public var pooledSize: Int { weights.textProjection?.rows ?? config.hiddenSize }

    /// Encodes one chunk of token ids.
    ///
    /// - Parameters:
    ///   - ids: at most `max_position_embeddings` ids (77), each below `vocab_size`.
    ///   - embeddings: vectors that replace the token embeddings from an offset on (textual inversion).
    ///   - layer: the hidden state to return.
    ///   - pooled: also compute the pooled output (runs every layer).
    /// - Throws: ``TextError/invalidTokens(reason:)``, ``TextError/invalidClipSkip(clipSkip:layers:)``,
    ///   ``TextError/computation(_:)`` when a compute-layer operation fails.
    public func encode(
        ids: [Int], embeddings: [(offset: Int, vectors: EmbeddingVectors)] = [], layer: LayerSelection, pooled: Bool = false
    ) throws(TextError) -> Output {
        let d = config.hiddenSize, t = ids.count, layers = config.numHiddenLayers
        guard t > 0, t <= config.maxPositionEmbeddings else {
            throw .invalidTokens(reason: "\(t) ids; the encoder takes 1…\(config.maxPositionEmbeddings)")
        }
        if let bad = ids.first(where: { $0 < 0 || $0 >= config.vocabSize }) {
            throw .invalidTokens(reason: "id \(bad) is outside the vocabulary of \(config.vocabSize)")
        }
        let skipping: Int, normalize: Bool
        switch layer {
        case let .normalized(s): (skipping, normalize) = (s, true)
        case let .raw(s): (skipping, normalize) = (s, false)
        }
        guard skipping >= 0, skipping <= layers else { throw .invalidClipSkip(clipSkip: skipping, layers: layers) }
        for e in embeddings {
            guard e.vectors.width == d else {
                throw .embeddingWidthMismatch(name: "at position \(e.offset)", embeddingWidth: e.vectors.width, encoderWidth: d)
            }
            guard e.offset >= 0, e.offset + e.vectors.count <= t else {
                throw .invalidTokens(reason: "embedding at \(e.offset) with \(e.vectors.count) vectors does not fit \(t) positions")
            }
        }

        do {
            let workspace = Workspace()
            var x = try embed(ids: ids, embeddings: embeddings)
            let target = layers - skipping
            var captured: Tensor? = target == 0 ? x : nil
            let run = pooled ? layers : target
            for l in 0..<run {
                try transformerLayer(weights.layers[l], &x, workspace: workspace)
                if l + 1 == target { captured = x }
            }
            var hidden = captured ?? x
            if normalize {
                hidden = try Ops.layerNorm(hidden, weight: weights.finalLayerNormWeight, bias: weights.finalLayerNormBias,
                                           eps: config.layerNormEps)
            }
            var pooledOutput: Tensor?
            if pooled {
                let final = try Ops.layerNorm(x, weight: weights.finalLayerNormWeight, bias: weights.finalLayerNormBias,
                                              eps: config.layerNormEps)
                let row = try final.slice(axis: 0, eosPosition(ids)..<(eosPosition(ids) + 1))
                var p = row
                if let projection = weights.textProjection { p = try Ops.linear(row, weight: projection) }
                pooledOutput = try p.reshaped([p.count])
            }
            return Output(hiddenStates: hidden, pooled: pooledOutput)
        } catch {
            throw .computation(error)
        }
    }

    /// Where the pooled output is read: the first `eos_token_id`, or for the legacy setting 2 that real SD
    /// folders carry, the position of the largest id (transformers' rule).
    func eosPosition(_ ids: [Int]) -> Int {
        if config.eosTokenID == 2 {
            var best = 0
            for (i, id) in ids.enumerated() where id > ids[best] { best = i }
            return best
        }
        return ids.firstIndex(of: config.eosTokenID) ?? (ids.count - 1)
    }

    /// Token embeddings (with placed vectors) plus position embeddings, `[tokens, D]`.
    private func embed(ids: [Int], embeddings: [(offset: Int, vectors: EmbeddingVectors)]) throws(TensorError) -> Tensor {
        let d = config.hiddenSize
        let tokenTable = weights.tokenEmbedding, positions = weights.positionEmbedding
        return try Tensor(shape: [ids.count, d]) { out in
            tokenTable.withUnsafeBufferPointer { table in
                positions.withUnsafeBufferPointer { pos in
                    for (i, id) in ids.enumerated() {
                        for c in 0..<d { out[i * d + c] = table[id * d + c] + pos[i * d + c] }
                    }
                    for e in embeddings {
                        for r in 0..<e.vectors.count {
                            let row = e.vectors.row(r)
                            let p = e.offset + r
                            for (c, v) in row.enumerated() { out[p * d + c] = v + pos[p * d + c] }
                        }
                    }
                }
            }
        }
    }

    /// One pre-norm layer in place: `x += attn(LN1(x))`, `x += MLP(LN2(x))`.
    private func transformerLayer(_ w: CLIPTextWeights.Layer, _ x: inout Tensor, workspace: Workspace) throws(TensorError) {
        let d = config.hiddenSize
        var h = try Ops.layerNorm(x, weight: w.layerNorm1Weight, bias: w.layerNorm1Bias, eps: config.layerNormEps, workspace: workspace)
        var qkv = try Ops.linear(h, weight: w.qkvProj, bias: w.qkvBias, workspace: workspace)
        workspace.recycle(&h)
        var attended = try attention(qkv, width: d, workspace: workspace)
        workspace.recycle(&qkv)
        try Ops.linear(attended, weight: w.outProj, bias: w.outBias, accumulate: true, into: &x, workspace: workspace)
        workspace.recycle(&attended)
        var h2 = try Ops.layerNorm(x, weight: w.layerNorm2Weight, bias: w.layerNorm2Bias, eps: config.layerNormEps, workspace: workspace)
        var inner = try Ops.linear(h2, weight: w.fc1, bias: w.fc1Bias, activation: activation, workspace: workspace)
        workspace.recycle(&h2)
        try Ops.linear(inner, weight: w.fc2, bias: w.fc2Bias, accumulate: true, into: &x, workspace: workspace)
        workspace.recycle(&inner)
    }

    /// Causal self-attention over the stacked `[tokens, 3D]` projections.
    private func attention(_ qkv: Tensor, width d: Int, workspace: Workspace) throws(TensorError) -> Tensor {
        let q = try qkv.slice(axis: 1, 0..<d), k = try qkv.slice(axis: 1, d..<(2 * d)), v = try qkv.slice(axis: 1, (2 * d)..<(3 * d))
        return try Ops.attention(query: q, key: k, value: v,
                                 options: AttentionOptions(heads: config.numAttentionHeads, causal: true), workspace: workspace)
    }
}
