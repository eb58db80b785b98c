import ArgumentParser
import Foundation

/// `FILE[:STRENGTH]` or `FILE:unet=X,te=Y` as given to `--lora`.
struct LoRASpec: ExpressibleByArgument {
    var path: String
    var strength: Float = 1
    var unetStrength: Float?
    var textEncoderStrength: Float?

    init?(argument: String) {
        guard !argument.isEmpty else { return nil }
        guard let colon = argument.lastIndex(of: ":") else {
            path = argument
            return
        }
        let tail = String(argument[argument.index(after: colon)...])
        let head = String(argument[..<colon])
        if let value = Float(tail), value.isFinite {
            path = head
            strength = value
        } else if tail.contains("=") {
            path = head
            for part in tail.split(separator: ",") {
                let kv = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard kv.count == 2, let v = Float(kv[1]), v.isFinite else { return nil }
                switch kv[0] {
                case "unet": unetStrength = v
                case "te", "text_encoder": textEncoderStrength = v
                case "all", "strength": strength = v
                default: return nil
                }
            }
        } else {
            path = argument  // a path that contains ':' and no strength
        }
    }

    static var defaultCompletionKind: CompletionKind { .file(extensions: ["safetensors"]) }
}
