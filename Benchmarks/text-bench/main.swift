// Benchmarks of the text side, run in release mode and recorded in Docs/benchmarks.md next to
// Scripts/bench/text_bench.py (transformers on the same inputs).
//   swift build -c release --product text-bench
//   .build/release/text-bench clip-vit-l [--repeats 10]                       # CLIP ViT-L/14 text encoder, random weights, 77 tokens
//   .build/release/text-bench tokenize --tokenizer DIR --prompts FILE [--repeats 5]
// Each case prints one line: the median and minimum seconds of the timed part.
import DiffusionCore
import Foundation
import LoRAKit

func option(_ name: String, default value: String) -> String {
    let args = CommandLine.arguments
    if let i = args.firstIndex(of: name), i + 1 < args.count { return args[i + 1] }
    return value
}

let repeats = Int(option("--repeats", default: "10")) ?? 10
let warmups = Int(option("--warmup", default: "2")) ?? 2

func measure(_ name: String, _ body: () throws -> Void) rethrows {
    for _ in 0..<warmups { try body() }
    var times: [Double] = []
    let clock = ContinuousClock()
    for _ in 0..<repeats {
        let start = clock.now
        try body()
        let d = clock.now - start
        times.append(Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18)
    }
    times.sort()
    print(name + String(format: ": median %.4f s  min %.4f s  (%d runs)", times[times.count / 2], times[0], repeats))
}

/// An in-memory safetensors file holding CLIP ViT-L/14's text encoder with random F32 weights
/// (transformers 5 names), built without touching the disk.
func randomViTL() throws -> (CLIPTextConfig, SafetensorsFile) {
    let config = CLIPTextConfig(hiddenSize: 768, intermediateSize: 3072, numHiddenLayers: 12, numAttentionHeads: 12,
                                hiddenAct: "quick_gelu", architecture: "CLIPTextModel")
    let d = 768, inner = 3072
    var shapes: [(String, [Int])] = [("embeddings.token_embedding.weight", [49408, d]), ("embeddings.position_embedding.weight", [77, d])]
    for l in 0..<12 {
        let p = "encoder.layers.\(l)."
        shapes += [(p + "layer_norm1.weight", [d]), (p + "layer_norm1.bias", [d])]
        for part in ["q", "k", "v", "out"] {
            shapes += [(p + "self_attn.\(part)_proj.weight", [d, d]), (p + "self_attn.\(part)_proj.bias", [d])]
        }
        shapes += [(p + "layer_norm2.weight", [d]), (p + "layer_norm2.bias", [d]),
                   (p + "mlp.fc1.weight", [inner, d]), (p + "mlp.fc1.bias", [inner]),
                   (p + "mlp.fc2.weight", [d, inner]), (p + "mlp.fc2.bias", [d])]
    }
    shapes += [("final_layer_norm.weight", [d]), ("final_layer_norm.bias", [d])]
    var header: [String: Any] = [:]
    var offset = 0
    for (name, shape) in shapes {
        let bytes = shape.reduce(1, *) * 4
        header[name] = ["dtype": "F32", "shape": shape, "data_offsets": [offset, offset + bytes]]
        offset += bytes
    }
    var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
    while (json.count + 8) % 8 != 0 { json.append(0x20) }
    var bytes = [UInt8](repeating: 0, count: 8 + json.count + offset)
    withUnsafeBytes(of: UInt64(json.count).littleEndian) { for i in 0..<8 { bytes[i] = $0[i] } }
    for (i, b) in json.enumerated() { bytes[8 + i] = b }
    bytes.withUnsafeMutableBytes { raw in
        let floats = raw.baseAddress!.advanced(by: 8 + json.count).assumingMemoryBound(to: Float.self)
        var s: UInt64 = 0x9E37_79B9_7F4A_7C15
        for i in 0..<(offset / 4) {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            floats[i] = (Float(s >> 40) / Float(1 << 24) - 0.5) * 0.04
        }
    }
    return (config, try SafetensorsFile(bytes: bytes))
}

func clipViTL() throws {
    let (config, file) = try randomViTL()
    let encoder = try CLIPTextEncoder(config: config, files: [file])
    let ids = [49406] + (0..<75).map { 320 + $0 * 7 } + [49407]
    measure("clip-vit-l 77 tokens") {
        _ = try? encoder.encode(ids: ids, layer: .normalized(skipping: 0))
    }
}

func tokenize() throws {
    let tokenizer = try CLIPTokenizer(folder: URL(fileURLWithPath: option("--tokenizer", default: "bench-data/clip-tokenizer")))
    let text = try String(contentsOfFile: option("--prompts", default: "bench-data/prompts-10k.txt"), encoding: .utf8)
    let prompts = text.split(separator: "\n").map(String.init)
    var total = 0
    measure("tokenize \(prompts.count) prompts (padded to 77, one thread)") {
        total = 0
        for p in prompts { total += tokenizer.encodePadded(p).count }
    }
    measure("tokenize \(prompts.count) prompts (padded to 77, batch over the cores)") {
        total = tokenizer.encodePadded(batch: prompts).reduce(0) { $0 + $1.count }
    }
    if total != prompts.count * 77 { print("unexpected id count \(total)") }
}

do {
    switch CommandLine.arguments.dropFirst().first ?? "" {
    case "clip-vit-l": try clipViTL()
    case "tokenize": try tokenize()
    default: print("usage: text-bench clip-vit-l | tokenize [options]")
    }
} catch {
    print("error: \(error)")
    exit(1)
}
