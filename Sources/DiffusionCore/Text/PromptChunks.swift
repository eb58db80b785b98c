/// One window the text encoder reads: `<|startoftext|>`, up to 75 prompt tokens, `<|endoftext|>`,
/// padding; with the emphasis weight of every position and the embeddings placed in it.
public struct PromptChunk: Sendable, Equatable {
    /// Token ids, ``CLIPTokenizer/modelMaxLength`` of them. Positions an embedding fills hold 0.
    public var ids: [Int]
    /// The emphasis weight of each position (1 for BOS, EOS and padding).
    public var weights: [Float]
    /// Embeddings placed in the chunk: their vectors replace the token embeddings from `offset` on.
    public var embeddings: [PlacedEmbedding]

    /// Whether every weight is 1 (the hidden states are then used as the encoder gives them).
    public var isUnweighted: Bool { weights.allSatisfy { $0 == 1 } }
}

/// An embedding's vectors at a place in a chunk.
public struct PlacedEmbedding: Sendable, Equatable {
    /// The first position (BOS is position 0).
    public var offset: Int
    /// The index of the embedding in ``PromptTokenizer/embeddings``.
    public var embedding: Int
}

/// A prompt as chunks for one text encoder.
public struct TokenizedPrompt: Sendable, Equatable {
    /// The chunks, at least one.
    public var chunks: [PromptChunk]
    /// A1111's token count: 75 per full chunk plus what the last one holds.
    public var tokenCount: Int
    /// The names of the embeddings the prompt used, in order of first use.
    public var embeddingsUsed: [String]
}

/// Turns parsed prompts into chunks, as A1111's `FrozenCLIPEmbedderWithCustomWordsBase.tokenize_line` does:
///
/// - each fragment is tokenized on its own and its tokens carry its weight;
/// - a chunk holds 75 tokens; when it is full and the token that follows is not a comma, and a comma
///   (`,</w>`) lies within the last ``commaPaddingBacktrack`` (20) tokens, the tokens after that comma move
///   to the next chunk (A1111's "last comma" rule);
/// - `BREAK` ends the chunk where it stands; an embedding never straddles two chunks;
/// - a chunk is `<|startoftext|>` + tokens + `<|endoftext|>` + the tokenizer's pad token, which for a
///   prompt of up to 75 tokens gives exactly the ids diffusers' pipelines use.
///
/// Embeddings are found as A1111 finds them (the bare name's tokens, longest name first) and as InvokeAI
/// writes them (`<name>`, cut out of the text before tokenizing, like diffusers' added tokens).
public struct PromptTokenizer: Sendable {
    /// The tokenizer of the text encoder the chunks are for.
    public let tokenizer: CLIPTokenizer
    /// The embeddings the prompt may call up.
    public let embeddings: [TextualInversionEmbedding]
    /// How far back (in tokens) a comma may be to move the end of a full chunk to the next one; 0 turns the rule off.
    public var commaPaddingBacktrack: Int = 20

    /// Token ids of each bare name, longest first, with the embedding's index.
    private let bareNames: [(ids: [Int], embedding: Int)]
    /// The text spellings (`<name>`, lower-cased), longest first, with the embedding's index.
    private let bracketNames: [(chars: [Character], embedding: Int)]

    /// - Throws: ``TextError/duplicateEmbedding(_:)`` when two embeddings share a name.
    public init(tokenizer: CLIPTokenizer, embeddings: [TextualInversionEmbedding] = []) throws(TextError) {
        self.tokenizer = tokenizer
        self.embeddings = embeddings
        var seen: Set<String> = []
        var bare: [(ids: [Int], embedding: Int)] = []
        var bracket: [(chars: [Character], embedding: Int)] = []
        for (i, e) in embeddings.enumerated() {
            let key = e.name.lowercased()
            guard seen.insert(key).inserted else { throw .duplicateEmbedding(e.name) }
            if e.matchesBareName {
                let ids = tokenizer.tokenize(e.name)
                if !ids.isEmpty { bare.append((ids, i)) }
                bracket.append((Array("<\(key)>"), i))
            } else {
                bracket.append((Array(key), i))
            }
        }
        bareNames = bare.sorted { $0.ids.count > $1.ids.count }
        bracketNames = bracket.sorted { $0.chars.count > $1.chars.count }
    }

    /// The number of prompt tokens a chunk holds (75).
    public var chunkLength: Int { tokenizer.modelMaxLength - 2 }

    /// Parses a prompt's emphasis syntax and chunks it.
    public func tokenize(_ prompt: String) throws(TextError) -> TokenizedPrompt {
        tokenize(try PromptAttention.parse(prompt))
    }

    /// Chunks parsed fragments.
    public func tokenize(_ fragments: [PromptFragment]) -> TokenizedPrompt {
        var builder = ChunkBuilder(tokenizer: tokenizer, chunkLength: chunkLength, backtrack: commaPaddingBacktrack)
        var used: [String] = []
        for fragment in fragments {
            switch fragment {
            case .chunkBreak:
                builder.finishChunk(isLast: false)
            case let .text(text, weight):
                for item in items(text) {
                    builder.add(item, weight: Float(weight))
                    if case let .embedding(i, _) = item, !used.contains(embeddings[i].name) { used.append(embeddings[i].name) }
                }
            }
        }
        if !builder.current.isEmpty || builder.chunks.isEmpty { builder.finishChunk(isLast: true) }
        return TokenizedPrompt(chunks: builder.chunks, tokenCount: builder.tokenCount, embeddingsUsed: used)
    }

    /// A chunk with no prompt tokens (what an empty prompt gives; used to pad the shorter of two prompts).
    public func emptyChunk() -> PromptChunk {
        var builder = ChunkBuilder(tokenizer: tokenizer, chunkLength: chunkLength, backtrack: 0)
        builder.finishChunk(isLast: true)
        return builder.chunks[0]
    }

    /// The text's tokens and embeddings, in order.
    func items(_ text: String) -> [ChunkItem] {
        var out: [ChunkItem] = []
        for piece in splitOnBracketNames(text) {
            switch piece {
            case let .embedding(i): out.append(.embedding(i, vectors: embeddings[i].vectorCount))
            case let .text(t): out.append(contentsOf: bareNameItems(tokenizer.tokenize(t)))
            }
        }
        return out
    }

    private enum TextPiece { case text(String), embedding(Int) }

    private func splitOnBracketNames(_ text: String) -> [TextPiece] {
        guard !bracketNames.isEmpty, text.contains("<") || bracketNames.contains(where: { $0.chars.first != "<" }) else {
            return [.text(text)]
        }
        let chars = Array(text)
        let lower = chars.map { Character($0.lowercased()) }
        var pieces: [TextPiece] = []
        var start = 0
        var i = 0
        outer: while i < chars.count {
            for name in bracketNames where i + name.chars.count <= chars.count && lower[i..<(i + name.chars.count)].elementsEqual(name.chars) {
                if start < i { pieces.append(.text(String(chars[start..<i]))) }
                pieces.append(.embedding(name.embedding))
                i += name.chars.count
                start = i
                continue outer
            }
            i += 1
        }
        if start < chars.count { pieces.append(.text(String(chars[start...]))) }
        return pieces
    }

    private func bareNameItems(_ ids: [Int]) -> [ChunkItem] {
        guard !bareNames.isEmpty else { return ids.map { .token($0) } }
        var out: [ChunkItem] = []
        var p = 0
        outer: while p < ids.count {
            for name in bareNames where p + name.ids.count <= ids.count && ids[p..<(p + name.ids.count)].elementsEqual(name.ids) {
                out.append(.embedding(name.embedding, vectors: embeddings[name.embedding].vectorCount))
                p += name.ids.count
                continue outer
            }
            out.append(.token(ids[p]))
            p += 1
        }
        return out
    }
}

/// A token or an embedding in a fragment.
enum ChunkItem: Equatable {
    case token(Int)
    case embedding(Int, vectors: Int)
}

/// A1111's chunk filling (`tokenize_line`'s `next_chunk` and loop body).
struct ChunkBuilder {
    let tokenizer: CLIPTokenizer
    let chunkLength: Int
    let backtrack: Int
    var chunks: [PromptChunk] = []
    var current: [Int] = []
    var weights: [Float] = []
    var fixes: [PlacedEmbedding] = []
    var lastComma = -1
    var tokenCount = 0

    init(tokenizer: CLIPTokenizer, chunkLength: Int, backtrack: Int) {
        self.tokenizer = tokenizer
        self.chunkLength = chunkLength
        self.backtrack = backtrack
    }

    mutating func add(_ item: ChunkItem, weight: Float) {
        if case let .token(id) = item, id == tokenizer.commaTokenID {
            lastComma = current.count
        } else if backtrack != 0, current.count == chunkLength, lastComma != -1, current.count - lastComma <= backtrack {
            let cut = lastComma + 1
            let movedIDs = Array(current[cut...]), movedWeights = Array(weights[cut...])
            let movedFixes = fixes.filter { $0.offset - 1 >= cut }.map { PlacedEmbedding(offset: $0.offset - cut, embedding: $0.embedding) }
            fixes.removeAll { $0.offset - 1 >= cut }
            current.removeSubrange(cut...)
            weights.removeSubrange(cut...)
            finishChunk(isLast: false)
            current = movedIDs
            weights = movedWeights
            fixes = movedFixes
        }
        if current.count == chunkLength { finishChunk(isLast: false) }
        switch item {
        case let .token(id):
            current.append(id)
            weights.append(weight)
        case let .embedding(index, count):
            if current.count + count > chunkLength { finishChunk(isLast: false) }
            fixes.append(PlacedEmbedding(offset: current.count + 1, embedding: index))
            current.append(contentsOf: repeatElement(0, count: count))
            weights.append(contentsOf: repeatElement(weight, count: count))
        }
    }

    mutating func finishChunk(isLast: Bool) {
        tokenCount += isLast ? current.count : chunkLength
        let fill = max(0, chunkLength - current.count)
        var ids = [tokenizer.bosTokenID] + current + repeatElement(tokenizer.eosTokenID, count: fill) + [tokenizer.eosTokenID]
        // SD2-style tokenizers pad with another token: everything after the first EOS becomes padding.
        if tokenizer.padTokenID != tokenizer.eosTokenID, let end = ids.firstIndex(of: tokenizer.eosTokenID) {
            for i in (end + 1)..<ids.count { ids[i] = tokenizer.padTokenID }
        }
        let w = [1] + weights + repeatElement(Float(1), count: fill) + [1]
        chunks.append(PromptChunk(ids: ids, weights: w, embeddings: fixes))
        current = []
        weights = []
        fixes = []
        lastComma = -1
    }
}
