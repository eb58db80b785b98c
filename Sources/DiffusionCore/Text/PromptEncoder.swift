/// The conditioning a prompt gives a UNet.
public struct TextConditioning: Sendable {
    /// `[chunks · 77, width]`: the chunks' hidden states one after another (SDXL: both encoders' side by side,
    /// 768 + 1280 = 2048 wide).
    public var hiddenStates: Tensor
    /// SDXL's pooled, projected output of the second encoder for the first chunk (`[1280]`); nil for SD1.x/SD2.x.
    public var pooled: Tensor?
    /// The number of 77-token chunks.
    public var chunkCount: Int
    /// The embeddings the prompt used.
    public var embeddingsUsed: [String]
}

/// A prompt and its negative, encoded to the same number of chunks, with the LoRAs the prompts' tags ask for.
public struct PromptPairConditioning: Sendable {
    /// The prompt's conditioning.
    public var positive: TextConditioning
    /// The negative prompt's, padded (or the prompt's) with empty chunks so both have the same length.
    public var negative: TextConditioning
    /// The `<lora:…>` requests of both prompts, in order (the prompt's first).
    public var loras: [PromptLoRARequest]
}

/// Turns prompts written for A1111 / InvokeAI / Civitai into UNet conditioning, with the model's tokenizer(s)
/// and text encoder(s): `<lora:…>` tags taken out, emphasis read, 75-token chunks encoded one by one and
/// concatenated, emphasis applied per chunk, textual-inversion vectors placed.
///
/// One encoder is SD1.x / SD2.x: the chunk's hidden state is diffusers' (`clip_skip` → final layer norm of
/// `hidden_states[-(clip_skip + 1)]`). Two encoders are SDXL: each reads `hidden_states[-(clip_skip + 2)]`
/// without the final norm, the two are concatenated along the width, and the second's pooled, projected
/// output of the first chunk goes with them. A prompt of up to 75 tokens without emphasis gives exactly the
/// tensors diffusers' pipelines give.
///
/// ```swift
/// let encoder = try PromptEncoder(tokenizers: [tokenizer], encoders: [textEncoder])
/// let pair = try encoder.encode(prompt: "a (red:1.2) fox <lora:fox:0.8>", negativePrompt: "blurry", clipSkip: nil)
/// // pair.positive.hiddenStates: [77, 768]; pair.loras: [fox @ 0.8]
/// ```
public struct PromptEncoder: Sendable {
    /// One tokenizer and the encoder it feeds.
    public struct Stage: Sendable {
        public var tokenizer: PromptTokenizer
        public var encoder: CLIPTextEncoder
    }

    /// The stages: one for SD1.x / SD2.x, two for SDXL.
    public let stages: [Stage]

    /// - Parameters:
    ///   - tokenizers: one per encoder, in the model's order (`tokenizer`, `tokenizer_2`).
    ///   - encoders: `text_encoder` (and `text_encoder_2`).
    ///   - embeddings: textual-inversion embeddings the prompts may call up; each is checked against every
    ///     encoder's width now, so a wrong one fails before any prompt is encoded.
    /// - Throws: ``TextError/embeddingWidthMismatch(name:embeddingWidth:encoderWidth:)``,
    ///   ``TextError/embeddingEncoderMismatch(name:reason:)``, ``TextError/duplicateEmbedding(_:)``,
    ///   ``TextError/invalidEncoderConfig(file:reason:)`` for a count other than one or two of each.
    public init(tokenizers: [CLIPTokenizer], encoders: [CLIPTextEncoder], embeddings: [TextualInversionEmbedding] = []) throws(TextError) {
        guard tokenizers.count == encoders.count, (1...2).contains(encoders.count) else {
            throw .invalidEncoderConfig(file: "model", reason: "\(tokenizers.count) tokenizers for \(encoders.count) text encoders; expected one or two of each")
        }
        for e in embeddings {
            for (i, encoder) in encoders.enumerated() {
                _ = try e.vectors(encoder: i, of: encoders.count, width: encoder.hiddenSize)
            }
        }
        var stages: [Stage] = []
        for (tokenizer, encoder) in zip(tokenizers, encoders) {
            stages.append(Stage(tokenizer: try PromptTokenizer(tokenizer: tokenizer, embeddings: embeddings), encoder: encoder))
        }
        self.stages = stages
    }

    /// Whether this is SDXL's pair of encoders.
    public var isSDXL: Bool { stages.count == 2 }

    /// Encodes one prompt.
    /// - Parameters:
    ///   - clipSkip: diffusers' `clip_skip` (nil or 0: the family's default layer; 1: one layer earlier…).
    ///     A1111's "Clip skip" setting is this plus one.
    /// - Returns: the conditioning and the prompt's LoRA requests.
    /// - Throws: ``TextError`` for malformed tags or weights and for a `clipSkip` deeper than the encoder.
    public func encode(_ prompt: String, clipSkip: Int? = nil) throws(TextError) -> (conditioning: TextConditioning, loras: [PromptLoRARequest]) {
        let (text, loras) = try PromptLoRATags.extract(from: prompt)
        let tokenized = try tokenize(text)
        return (try encode(tokenized, chunkCount: chunkCount(tokenized), clipSkip: clipSkip), loras)
    }

    /// Encodes a prompt and its negative to the same number of chunks: the shorter is padded with the
    /// encoding of an empty chunk (A1111's "pad prompt/negative prompt to be same length", what lets both go
    /// through the UNet in one batch).
    public func encode(prompt: String, negativePrompt: String, clipSkip: Int? = nil) throws(TextError) -> PromptPairConditioning {
        let (text, loras) = try PromptLoRATags.extract(from: prompt)
        let (negativeText, negativeLoras) = try PromptLoRATags.extract(from: negativePrompt)
        let positive = try tokenize(text), negative = try tokenize(negativeText)
        let count = max(chunkCount(positive), chunkCount(negative))
        return PromptPairConditioning(
            positive: try encode(positive, chunkCount: count, clipSkip: clipSkip),
            negative: try encode(negative, chunkCount: count, clipSkip: clipSkip),
            loras: loras + negativeLoras)
    }

    private func tokenize(_ text: String) throws(TextError) -> [TokenizedPrompt] {
        let fragments = try PromptAttention.parse(text)
        return stages.map { $0.tokenizer.tokenize(fragments) }
    }

    private func chunkCount(_ tokenized: [TokenizedPrompt]) -> Int {
        tokenized.map(\.chunks.count).max() ?? 1
    }

    private func encode(_ tokenized: [TokenizedPrompt], chunkCount: Int, clipSkip: Int?) throws(TextError) -> TextConditioning {
        let skip = clipSkip ?? 0
        guard skip >= 0 else { throw .invalidClipSkip(clipSkip: skip, layers: stages[0].encoder.config.numHiddenLayers) }
        var perStage: [(values: [Float], width: Int)] = []
        var pooled: Tensor?
        var used: [String] = []
        for (s, stage) in stages.enumerated() {
            let encoder = stage.encoder
            let width = encoder.hiddenSize
            let layer: CLIPTextEncoder.LayerSelection = isSDXL ? .raw(skipping: skip + 1) : .normalized(skipping: skip)
            var chunks = tokenized[s].chunks
            while chunks.count < chunkCount { chunks.append(stage.tokenizer.emptyChunk()) }
            var values: [Float] = []
            values.reserveCapacity(chunkCount * chunks[0].ids.count * width)
            for (c, chunk) in chunks.enumerated() {
                var placed: [(offset: Int, vectors: EmbeddingVectors)] = []
                for p in chunk.embeddings {
                    let embedding = stage.tokenizer.embeddings[p.embedding]
                    placed.append((p.offset, try embedding.vectors(encoder: s, of: stages.count, width: width)))
                }
                let wantPooled = isSDXL && s == stages.count - 1 && c == 0
                let output = try encoder.encode(ids: chunk.ids, embeddings: placed, layer: layer, pooled: wantPooled)
                var z = output.hiddenStates.scalars
                PromptEmphasis.apply(weights: chunk.weights, to: &z, width: width)
                values += z
                if wantPooled { pooled = output.pooled }
            }
            for name in tokenized[s].embeddingsUsed where !used.contains(name) { used.append(name) }
            perStage.append((values, width))
        }
        let tokens = perStage[0].values.count / perStage[0].width
        let width = perStage.reduce(0) { $0 + $1.width }
        let hidden: Tensor
        do {
            hidden = try Tensor(shape: [tokens, width]) { out in
                var offset = 0
                for stage in perStage {
                    for t in 0..<tokens {
                        for c in 0..<stage.width { out[t * width + offset + c] = stage.values[t * stage.width + c] }
                    }
                    offset += stage.width
                }
            }
        } catch {
            throw .computation(error)
        }
        return TextConditioning(hiddenStates: hidden, pooled: pooled, chunkCount: chunkCount, embeddingsUsed: used)
    }
}
