// Benchmarks for LoRAKit, run in release mode and recorded in Docs/benchmarks.md.
//   swift run -c release lorakit-bench header-open [--size-gb 2] [--repeats 50]
//   swift run -c release lorakit-bench file-hash [--size-gb 2] [--repeats 3]
import Foundation
import LoRAKit

struct BenchmarkError: Error, CustomStringConvertible {
    var description: String
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.isEmpty ? .nan : (s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2)
}

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}

func option(_ name: String, default value: String) -> String {
    let args = CommandLine.arguments
    if let i = args.firstIndex(of: name), i + 1 < args.count { return args[i + 1] }
    return value
}

/// A sparse safetensors file of about `gigabytes` GB: a real header (1,000 F16 tensors)
/// followed by a hole, so creating it costs nothing and reading the header is all that matters.
func makeSparseFile(path: String, gigabytes: Double) throws {
    let tensorCount = 1000
    let elements = Int(gigabytes * 1e9) / (tensorCount * 2)
    var writer = SafetensorsWriter(metadata: ["format": "pt", "note": "sparse benchmark file"])
    for i in 0..<tensorCount {
        writer.add(.init(name: "model.diffusion_model.block_\(i / 10).layer_\(i % 10).weight", dtype: .f16,
                         shape: [elements], source: .bytes([])))
    }
    let header = try writer.serializedHeader()
    FileManager.default.createFile(atPath: path, contents: Data(header))
    guard let handle = FileHandle(forWritingAtPath: path) else { throw BenchmarkError(description: "cannot open \(path)") }
    try handle.truncate(atOffset: UInt64(header.count + tensorCount * elements * 2))
    try handle.close()
}

func headerOpen() throws {
    let gb = Double(option("--size-gb", default: "2")) ?? 2
    let repeats = Int(option("--repeats", default: "50")) ?? 50
    let path = option("--path", default: FileManager.default.temporaryDirectory.appendingPathComponent("lorakit-sparse-\(Int(gb))gb.safetensors").path)
    try makeSparseFile(path: path, gigabytes: gb)
    let clock = ContinuousClock()
    var times: [Double] = []
    var names = 0
    for _ in 0..<repeats {
        let t = clock.measure {
            if let file = try? SafetensorsFile(path: path) {
                names = file.tensors.count + (file.metadata?.count ?? 0)
            }
        }
        times.append(seconds(t))
    }
    let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
    print(String(format: "header-open: file %.2f GB, %d entries, %d runs: median %.3f ms, min %.3f ms",
                 Double(size) / 1e9, names, repeats, median(times) * 1e3, (times.min() ?? .nan) * 1e3))
    print("file: \(path)")
}

// MARK: - file-hash

/// The hashes `lora-tool list` and the library compute (SHA-256 of the whole file and of its data
/// section, plus the legacy 64 KiB hash) of a real safetensors file of about `--size-gb` GB
/// (one tensor of pseudo-random bytes, written once and then read from the page cache).
func fileHash() throws {
    let gb = Double(option("--size-gb", default: "2")) ?? 2
    let repeats = Int(option("--repeats", default: "3")) ?? 3
    let path = option("--path", default: FileManager.default.temporaryDirectory.appendingPathComponent("lorakit-hash-\(Int(gb))gb.safetensors").path)
    let count = Int(gb * 1e9) / 4 * 4
    let existing = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
    if existing < count {
        var bytes = [UInt8](repeating: 0, count: count)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        bytes.withUnsafeMutableBytes { raw in
            let words = raw.bindMemory(to: UInt64.self)
            for i in words.indices {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                words[i] = state
            }
        }
        var writer = SafetensorsWriter(metadata: ["format": "pt"])
        writer.add(.init(name: "blob", dtype: .u8, shape: [count], source: .bytes(bytes)))
        try writer.write(to: URL(fileURLWithPath: path), overwrite: true)
    }
    let file = try SafetensorsFile(path: path)
    let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
    let clock = ContinuousClock()
    var times: [Double] = []
    var hashes = file.computeHashes()
    for _ in 0..<repeats {
        times.append(seconds(clock.measure { hashes = file.computeHashes() }))
    }
    // Two full passes (whole file, data section) per run.
    let gbPerSecond = 2 * Double(size) / 1e9 / median(times)
    print(String(format: "file-hash: file %.2f GB, %d runs: median %.3f s, min %.3f s (%.2f GB/s SHA-256)",
                 Double(size) / 1e9, repeats, median(times), times.min() ?? .nan, gbPerSecond))
    print("sha256 \(hashes.sha256)")
}

// MARK: - library-scan

/// kohya module names of an SD1 LoRA: 192 UNet attention modules and 72 text-encoder modules.
func kohyaSD1ModuleNames() -> [String] {
    var blocks: [String] = []
    for i in 0..<3 { for j in 0..<2 { blocks.append("down_blocks_\(i)_attentions_\(j)") } }
    for i in 1...3 { for j in 0..<3 { blocks.append("up_blocks_\(i)_attentions_\(j)") } }
    blocks.append("mid_block_attentions_0")
    var out: [String] = []
    for b in blocks {
        out += ["proj_in", "proj_out"].map { "lora_unet_\(b)_\($0)" }
        for a in ["attn1", "attn2"] {
            out += ["to_q", "to_k", "to_v", "to_out_0"].map { "lora_unet_\(b)_transformer_blocks_0_\(a)_\($0)" }
        }
        out += ["ff_net_0_proj", "ff_net_2"].map { "lora_unet_\(b)_transformer_blocks_0_\($0)" }
    }
    for l in 0..<12 {
        out += ["self_attn_q_proj", "self_attn_k_proj", "self_attn_v_proj", "self_attn_out_proj", "mlp_fc1", "mlp_fc2"]
            .map { "lora_te_text_model_encoder_layers_\(l)_\($0)" }
    }
    return out
}

/// Writes `count` small kohya-style LoRA files (70–264 modules, so 210–792 tensors, kohya training
/// metadata with a tag-frequency table; 4×8 F16 factors) into `folder`, in 20 subfolders.
func makeLibraryFolder(_ folder: URL, count: Int) throws {
    let fm = FileManager.default
    try? fm.removeItem(at: folder)
    let names = kohyaSD1ModuleNames()
    var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
    func next(_ n: Int) -> Int {
        seed = seed &* 6364136223846793005 &+ 1442695040888963407
        return Int((seed >> 33) % UInt64(n))
    }
    let factor = [UInt8](repeating: 0x3C, count: 4 * 8 * 2)
    for i in 0..<count {
        let sub = folder.appendingPathComponent(String(format: "set%02d", i % 20))
        try fm.createDirectory(at: sub, withIntermediateDirectories: true)
        var tags: [String: Int] = [:]
        for t in 0..<(20 + next(60)) { tags["tag\(t)_\(next(1000))"] = 1 + next(40) }
        let tagJSON = String(decoding: try JSONSerialization.data(withJSONObject: ["10_style\(i)": tags], options: [.sortedKeys]), as: UTF8.self)
        let metadata: [String: String] = [
            "ss_output_name": "style_\(i)", "ss_network_module": "networks.lora", "ss_network_dim": "4", "ss_network_alpha": "4",
            "ss_base_model_version": "sd_v1", "ss_v2": "False", "ss_sd_model_name": "v1-5-pruned-emaonly.safetensors",
            "ss_resolution": "(512, 512)", "ss_learning_rate": "0.0001", "ss_unet_lr": "0.0001", "ss_text_encoder_lr": "5e-05",
            "ss_optimizer": "bitsandbytes.optim.adamw.AdamW8bit", "ss_lr_scheduler": "cosine", "ss_num_epochs": "10",
            "ss_max_train_steps": "2000", "ss_num_train_images": "200", "ss_mixed_precision": "fp16", "ss_seed": "\(i)",
            "ss_clip_skip": "2", "ss_training_started_at": "1700000000.0", "ss_training_finished_at": "1700003600.0",
            "ss_tag_frequency": tagJSON, "modelspec.architecture": "stable-diffusion-v1/lora", "modelspec.title": "Style \(i)",
        ]
        var writer = SafetensorsWriter(metadata: metadata)
        let modules = 70 + next(names.count - 70 + 1)
        for name in names.prefix(modules) {
            writer.add(.init(name: "\(name).alpha", dtype: .f16, shape: [], source: .bytes([0x00, 0x44])))
            writer.add(.init(name: "\(name).lora_down.weight", dtype: .f16, shape: [4, 8], source: .bytes(factor)))
            writer.add(.init(name: "\(name).lora_up.weight", dtype: .f16, shape: [8, 4], source: .bytes(factor)))
        }
        try writer.write(to: sub.appendingPathComponent("style_\(i).safetensors"), overwrite: true)
    }
}

func libraryScan() throws {
    let count = Int(option("--count", default: "1000")) ?? 1000
    let repeats = Int(option("--repeats", default: "5")) ?? 5
    let tmp = FileManager.default.temporaryDirectory
    let folder = URL(fileURLWithPath: option("--path", default: tmp.appendingPathComponent("lorakit-library-bench").path))
    let index = tmp.appendingPathComponent("lorakit-library-bench-index.json")
    let clock = ContinuousClock()
    let made = clock.measure { try? makeLibraryFolder(folder, count: count) }
    let library = LoRALibrary(folder: folder, cache: .file(index))
    var cold: [Double] = [], warm: [Double] = []
    var last: LoRALibraryScan?
    for _ in 0..<repeats {
        try? FileManager.default.removeItem(at: index)
        var scan: LoRALibraryScan?
        cold.append(seconds(clock.measure { scan = try? library.scan() }))
        guard let scan, scan.statistics.read == count, scan.entries.count == count, scan.statistics.indexWritten else {
            throw BenchmarkError(description: "cold scan did not read every file: \(String(describing: scan?.statistics))")
        }
    }
    for _ in 0..<repeats {
        warm.append(seconds(clock.measure { last = try? library.scan() }))
        guard let last, last.statistics.reused == count, last.entries.count == count else {
            throw BenchmarkError(description: "warm scan did not reuse the index: \(String(describing: last?.statistics))")
        }
    }
    let tensors = last?.entries.map(\.moduleCount).reduce(0, +) ?? 0
    let indexSize = (try FileManager.default.attributesOfItem(atPath: index.path)[.size] as? NSNumber)?.intValue ?? 0
    let bytes = last?.entries.map(\.fileSize).reduce(0, +) ?? 0
    print(String(format: "library-scan: %d LoRA files (%.1f MB, %d modules = %d tensors), generated in %.1f s",
                 count, Double(bytes) / 1e6, tensors, tensors * 3, seconds(made)))
    print(String(format: "  cold scan (no index, headers read):  median %.3f s, min %.3f s (%d runs)",
                 median(cold), cold.min() ?? .nan, repeats))
    print(String(format: "  warm re-scan (index, nothing read):  median %.1f ms, min %.1f ms (%d runs)",
                 median(warm) * 1e3, (warm.min() ?? .nan) * 1e3, repeats))
    print(String(format: "  index: %.2f MB at %@", Double(indexSize) / 1e6, index.path))
}

let command = CommandLine.arguments.dropFirst().first ?? "help"
do {
    switch command {
    case "header-open": try headerOpen()
    case "file-hash": try fileHash()
    case "library-scan": try libraryScan()
    default:
        print("""
        usage: lorakit-bench header-open [--size-gb N] [--repeats N] [--path FILE]
               lorakit-bench file-hash [--size-gb N] [--repeats N] [--path FILE]
               lorakit-bench library-scan [--count N] [--repeats N]
        """)
    }
} catch {
    FileHandle.standardError.write(Data("lorakit-bench: \(error)\n".utf8))
    exit(1)
}
