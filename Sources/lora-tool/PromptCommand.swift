import ArgumentParser
import DiffusionCore
import Foundation

/// `lora-tool prompt`: how a prompt is read — LoRA tags, chunks of 75 tokens, weights, embeddings — the way the
/// text encoder will see it (A1111's token counter, with the weights shown).
struct PromptCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prompt",
        abstract: "Show how a prompt is tokenized: <lora:…> tags, 75-token chunks, emphasis weights, embeddings.")

    @Argument(help: "The prompt (A1111 syntax).")
    var prompt: String

    @Option(help: "A tokenizer folder (vocab.json + merges.txt, or tokenizer.json), e.g. MODEL/tokenizer.")
    var tokenizer: String

    @Option(help: "A negative prompt, padded to the prompt's chunk count.")
    var negative: String?

    @Option(help: "A textual-inversion embedding (.safetensors); repeat for more.")
    var embedding: [String] = []

    @Flag(help: "Print JSON on stdout.")
    var json = false

    struct Token: Encodable { let position: Int; let token: String; let weight: Float }
    struct Chunk: Encodable { let tokens: Int; let items: [Token]; let embeddings: [String] }
    struct Side: Encodable { let text: String; let chunks: [Chunk] }
    struct LoRA: Encodable {
        let name: String, tag: String, te: Double, unet: Double
    }
    struct Report: Encodable { let loras: [LoRA]; let prompt: Side; let negative: Side? }

    func run() throws {
        do {
            let report = try makeReport()
            if json { try printJSON(encoding: report) } else { try emit(text(report)) }
        } catch let error as TextError {
            printError("\(error)", error)
            throw badInputExitCode
        }
    }

    private func makeReport() throws(TextError) -> Report {
        let tok = try CLIPTokenizer(folder: URL(fileURLWithPath: tokenizer))
        var embeddings: [TextualInversionEmbedding] = []
        for path in embedding { embeddings.append(try TextualInversionEmbedding(contentsOf: URL(fileURLWithPath: path))) }
        let chunker = try PromptTokenizer(tokenizer: tok, embeddings: embeddings)
        let (text, loras) = try PromptLoRATags.extract(from: prompt)
        var sides: [(String, TokenizedPrompt)] = [(text, try chunker.tokenize(text))]
        var negativeLoras: [PromptLoRARequest] = []
        if let negative {
            let (negativeText, found) = try PromptLoRATags.extract(from: negative)
            negativeLoras = found
            sides.append((negativeText, try chunker.tokenize(negativeText)))
        }
        let count = sides.map(\.1.chunks.count).max() ?? 1
        let reports = sides.map { (text, tokenized) -> Side in
            var chunks = tokenized.chunks
            while chunks.count < count { chunks.append(chunker.emptyChunk()) }
            return Side(text: text, chunks: chunks.map { chunk in
                var items: [Token] = []
                let placed = Dictionary(uniqueKeysWithValues: chunk.embeddings.map { ($0.offset, $0.embedding) })
                var skip = 0
                for (i, id) in chunk.ids.enumerated() {
                    if skip > 0 { skip -= 1; continue }
                    if id == tok.bosTokenID || id == tok.eosTokenID || (i > 0 && id == tok.padTokenID && placed[i] == nil) { continue }
                    if let e = placed[i] {
                        items.append(Token(position: i, token: "<\(embeddings[e].name)>", weight: chunk.weights[i]))
                        skip = embeddings[e].vectorCount - 1
                    } else {
                        items.append(Token(position: i, token: tok.token(forID: id) ?? "?", weight: chunk.weights[i]))
                    }
                }
                let count = chunk.ids.dropFirst().prefix { $0 != tok.eosTokenID }.count
                return Chunk(tokens: count, items: items, embeddings: chunk.embeddings.map { embeddings[$0.embedding].name })
            })
        }
        let allLoras = (loras + negativeLoras).map { LoRA(name: $0.name, tag: $0.tag, te: $0.textEncoderWeight, unet: $0.unetWeight) }
        return Report(loras: allLoras, prompt: reports[0], negative: reports.count > 1 ? reports[1] : nil)
    }

    private func text(_ report: Report) -> String {
        var out = ""
        for l in report.loras {
            out += "LoRA \(l.name): text encoder \(l.te), UNet \(l.unet)   (\(l.tag))\n"
        }
        func side(_ label: String, _ s: Side) {
            out += "\(label): \(s.chunks.count) chunk\(s.chunks.count == 1 ? "" : "s") of 75 tokens\n"
            for (i, c) in s.chunks.enumerated() {
                out += "  chunk \(i + 1): \(c.tokens)/75\n   "
                for t in c.items {
                    let word = t.token.replacingOccurrences(of: "</w>", with: "")
                    out += " " + (t.weight == 1 ? word : "\(word)×" + String(format: "%.3g", t.weight))
                }
                out += "\n"
            }
        }
        side("prompt", report.prompt)
        if let n = report.negative { side("negative", n) }
        return out
    }
}
