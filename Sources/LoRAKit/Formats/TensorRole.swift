/// What one tensor of a module is for, whatever the file's spelling.
enum TensorRole: String, Sendable, Hashable, CaseIterable {
    case up, down, mid, alpha, scale
    case doraScale = "dora_scale"
    case hadaW1A = "hada_w1_a", hadaW1B = "hada_w1_b", hadaW2A = "hada_w2_a", hadaW2B = "hada_w2_b"
    case hadaT1 = "hada_t1", hadaT2 = "hada_t2"
    case lokrW1 = "lokr_w1", lokrW1A = "lokr_w1_a", lokrW1B = "lokr_w1_b"
    case lokrW2 = "lokr_w2", lokrW2A = "lokr_w2_a", lokrW2B = "lokr_w2_b", lokrT2 = "lokr_t2"
    case diff
    case diffB = "diff_b"
    case wNorm = "w_norm", bNorm = "b_norm"
    case ia3Weight = "weight"
    case onInput = "on_input"
    case biasIndices = "bias_indices", biasValues = "bias_values", biasSize = "bias_size"
}

/// A key split into the module it belongs to and the tensor's role.
struct ParsedKey: Sendable {
    var key: String
    /// The key's module part, as spelled in the file.
    var stem: String
    var role: TensorRole
    /// The spelling family of the suffix (kohya/LyCORIS, PEFT, diffusers, legacy processor).
    var suffixStyle: SuffixStyle
}

enum SuffixStyle: Sendable {
    case kohya, peft, loraCompatible, legacyProcessor
}
