import LoRAKit

/// The errors raised by the text side: tokenizer files, prompt syntax, textual-inversion embeddings
/// and text-encoder weights. Every case names what it is about, so a message can be shown as is.
public enum TextError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A tokenizer folder has neither `vocab.json` + `merges.txt` nor `tokenizer.json`.
    case tokenizerFilesMissing(folder: String)
    /// A tokenizer file could not be read or parsed.
    case invalidTokenizerFile(file: String, reason: String)
    /// A merge names a token the vocabulary does not have (the line is 1-based, as in the file).
    case invalidMerge(line: Int, merge: String)
    /// A special token (`<|startoftext|>`, `<|endoftext|>`, the pad token…) is not in the vocabulary.
    case specialTokenMissing(String)
    /// A `<lora:…>` (or `<lyco:…>`) tag that cannot be read.
    case malformedLoRATag(tag: String, reason: String)
    /// An emphasis weight such as `(word:1.2.3)` that is not a number.
    case invalidEmphasisWeight(String)
    /// A pickled embedding (`.pt`, `.bin`, `.ckpt`); it would have to be unpickled, which can run code.
    case pickledEmbedding(file: String)
    /// The file is not a textual-inversion embedding this library understands.
    case invalidEmbedding(file: String, reason: String)
    /// An embedding file that is not a readable safetensors file.
    case unreadableEmbedding(file: String, underlying: SafetensorsError)
    /// An embedding made for a text encoder of another width.
    case embeddingWidthMismatch(name: String, embeddingWidth: Int, encoderWidth: Int)
    /// An SDXL embedding lacks the vectors for one of the two encoders, or an SD1/SD2 embedding was given to SDXL.
    case embeddingEncoderMismatch(name: String, reason: String)
    /// Two embeddings registered under the same name.
    case duplicateEmbedding(String)
    /// A text-encoder `config.json` that cannot be used.
    case invalidEncoderConfig(file: String, reason: String)
    /// A weight the text encoder needs is absent from its files.
    case missingWeight(String)
    /// A weight has another shape than the configuration implies.
    case weightShapeMismatch(name: String, expected: [Int], actual: [Int])
    /// A weight file is missing, or holds a weight of an element type the encoder does not compute with.
    case weightFile(file: String, reason: String)
    /// A weight file could not be opened as safetensors.
    case unreadableWeights(file: String, underlying: SafetensorsError)
    /// The encoder's weights could not be gathered by LoRAKit's model layer (a bad shard index, a parameter stored twice…).
    case modelFile(ModelFileError)
    /// A weight has the right shape but cannot be used (the compute layer refused it).
    case invalidWeight(name: String, underlying: TensorError)
    /// `clip_skip` asks for a layer the encoder does not have.
    case invalidClipSkip(clipSkip: Int, layers: Int)
    /// Token ids that do not fit the encoder (an id past the vocabulary, more positions than it has).
    case invalidTokens(reason: String)
    /// A compute-layer operation of the encoder failed.
    case computation(TensorError)

    public var description: String {
        switch self {
        case let .tokenizerFilesMissing(folder):
            return "no tokenizer in \(folder): expected vocab.json + merges.txt, or tokenizer.json"
        case let .invalidTokenizerFile(file, reason):
            return "cannot read tokenizer file \(file): \(reason)"
        case let .invalidMerge(line, merge):
            return "merges.txt line \(line): \"\(merge)\" names a token that is not in the vocabulary"
        case let .specialTokenMissing(token):
            return "special token \(token) is not in the vocabulary"
        case let .malformedLoRATag(tag, reason):
            return "malformed LoRA tag \(tag): \(reason)"
        case let .invalidEmphasisWeight(text):
            return "emphasis weight \"\(text)\" is not a number"
        case let .pickledEmbedding(file):
            return "\(file) is a pickled embedding; pickles can run code when loaded and are never unpickled here. Convert it to .safetensors with a trusted tool first"
        case let .invalidEmbedding(file, reason):
            return "\(file) is not a usable textual-inversion embedding: \(reason)"
        case let .unreadableEmbedding(file, underlying):
            return "\(file) is not a usable textual-inversion embedding: \(underlying)"
        case let .embeddingWidthMismatch(name, embeddingWidth, encoderWidth):
            return "embedding \(name) has \(embeddingWidth)-wide vectors but the text encoder is \(encoderWidth) wide (made for another model family)"
        case let .embeddingEncoderMismatch(name, reason):
            return "embedding \(name): \(reason)"
        case let .duplicateEmbedding(name):
            return "two embeddings are named \(name)"
        case let .invalidEncoderConfig(file, reason):
            return "text encoder config \(file): \(reason)"
        case let .missingWeight(name):
            return "text encoder weight \(name) is missing"
        case let .weightShapeMismatch(name, expected, actual):
            return "text encoder weight \(name) has shape \(actual), expected \(expected)"
        case let .weightFile(file, reason):
            return "cannot read text encoder weights \(file): \(reason)"
        case let .unreadableWeights(file, underlying):
            return "cannot read text encoder weights \(file): \(underlying)"
        case let .modelFile(underlying):
            return "cannot read text encoder weights: \(underlying)"
        case let .invalidWeight(name, underlying):
            return "text encoder weight \(name) cannot be used: \(underlying)"
        case let .invalidClipSkip(clipSkip, layers):
            return "clip_skip \(clipSkip) (A1111 clip skip \(clipSkip + 1)) needs more than the encoder's \(layers) layers"
        case let .invalidTokens(reason):
            return "invalid token ids: \(reason)"
        case let .computation(underlying):
            return "text encoding failed: \(underlying)"
        }
    }
}
