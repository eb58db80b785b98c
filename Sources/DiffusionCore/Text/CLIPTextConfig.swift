import Foundation

/// A text encoder's `config.json` (transformers' `CLIPTextConfig`), the fields the forward pass uses.
public struct CLIPTextConfig: Sendable, Equatable, Decodable {
    /// Width of the hidden states (768 CLIP ViT-L, 1024 OpenCLIP ViT-H, 1280 OpenCLIP bigG).
    public var hiddenSize: Int
    /// Width of the MLP's inner layer.
    public var intermediateSize: Int
    /// Number of transformer layers.
    public var numHiddenLayers: Int
    /// Number of attention heads.
    public var numAttentionHeads: Int
    /// Length of the position table (77).
    public var maxPositionEmbeddings: Int
    /// Number of token embeddings.
    public var vocabSize: Int
    /// The MLP's activation: `quick_gelu` (CLIP ViT-L) or `gelu` (OpenCLIP).
    public var hiddenAct: String
    /// LayerNorm ε.
    public var layerNormEps: Float
    /// Width of `text_projection`'s output (`CLIPTextModelWithProjection`), if the model has one.
    public var projectionDim: Int?
    /// The EOS id the pooled output is taken at; 2 (what the original SD folders carry) means the legacy rule,
    /// the position of the largest id.
    public var eosTokenID: Int
    /// `architectures[0]`, e.g. `CLIPTextModelWithProjection`.
    public var architecture: String?

    enum CodingKeys: String, CodingKey {
        case hiddenSize = "hidden_size"
        case intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads"
        case maxPositionEmbeddings = "max_position_embeddings"
        case vocabSize = "vocab_size"
        case hiddenAct = "hidden_act"
        case layerNormEps = "layer_norm_eps"
        case projectionDim = "projection_dim"
        case eosTokenID = "eos_token_id"
        case architectures
    }

    public init(
        hiddenSize: Int, intermediateSize: Int, numHiddenLayers: Int, numAttentionHeads: Int,
        maxPositionEmbeddings: Int = 77, vocabSize: Int = 49408, hiddenAct: String = "quick_gelu",
        layerNormEps: Float = 1e-5, projectionDim: Int? = nil, eosTokenID: Int = 2, architecture: String? = nil
    ) {
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.vocabSize = vocabSize
        self.hiddenAct = hiddenAct
        self.layerNormEps = layerNormEps
        self.projectionDim = projectionDim
        self.eosTokenID = eosTokenID
        self.architecture = architecture
    }

    public init(from decoder: any Decoder) throws {
        // transformers' CLIPTextConfig defaults for anything a file leaves out.
        let c = try decoder.container(keyedBy: CodingKeys.self)
        hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? 512
        intermediateSize = try c.decodeIfPresent(Int.self, forKey: .intermediateSize) ?? 2048
        numHiddenLayers = try c.decodeIfPresent(Int.self, forKey: .numHiddenLayers) ?? 12
        numAttentionHeads = try c.decodeIfPresent(Int.self, forKey: .numAttentionHeads) ?? 8
        maxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? 77
        vocabSize = try c.decodeIfPresent(Int.self, forKey: .vocabSize) ?? 49408
        hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? "quick_gelu"
        layerNormEps = try c.decodeIfPresent(Float.self, forKey: .layerNormEps) ?? 1e-5
        projectionDim = try c.decodeIfPresent(Int.self, forKey: .projectionDim)
        eosTokenID = try c.decodeIfPresent(Int.self, forKey: .eosTokenID) ?? 2
        architecture = try c.decodeIfPresent([String].self, forKey: .architectures)?.first
    }

    /// Reads and checks a `config.json`.
    /// - Throws: ``TextError/invalidEncoderConfig(file:reason:)``.
    public init(contentsOf url: URL) throws(TextError) {
        let file = url.path
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw .invalidEncoderConfig(file: file, reason: "not readable") }
        do { self = try JSONDecoder().decode(CLIPTextConfig.self, from: data) } catch {
            throw .invalidEncoderConfig(file: file, reason: "not a CLIP text config (\(error))")
        }
        try validate(file: file)
    }

    /// The activation the MLP applies.
    /// - Throws: ``TextError/invalidEncoderConfig(file:reason:)`` for an activation CLIP text encoders do not use.
    func activation(file: String = "config.json") throws(TextError) -> Activation {
        switch hiddenAct {
        case "quick_gelu": return .quickGELU
        case "gelu": return .geluErf
        case "gelu_new", "gelu_pytorch_tanh": return .geluTanh
        default: throw .invalidEncoderConfig(file: file, reason: "hidden_act \(hiddenAct) is not supported")
        }
    }

    /// Checks the sizes are positive and consistent.
    func validate(file: String) throws(TextError) {
        let sizes = [hiddenSize, intermediateSize, numHiddenLayers, numAttentionHeads, maxPositionEmbeddings, vocabSize]
        guard sizes.allSatisfy({ $0 > 0 && $0 < 1 << 20 }) else {
            throw .invalidEncoderConfig(file: file, reason: "sizes must be positive: \(sizes)")
        }
        guard hiddenSize % numAttentionHeads == 0 else {
            throw .invalidEncoderConfig(file: file, reason: "hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(numAttentionHeads)")
        }
        guard layerNormEps.isFinite, layerNormEps >= 0 else {
            throw .invalidEncoderConfig(file: file, reason: "layer_norm_eps \(layerNormEps)")
        }
        if let p = projectionDim, p <= 0 || p >= 1 << 20 {
            throw .invalidEncoderConfig(file: file, reason: "projection_dim \(p)")
        }
        _ = try activation(file: file)
    }
}
