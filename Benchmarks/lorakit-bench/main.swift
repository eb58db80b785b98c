// Benchmarks for LoRAKit, run in release mode and recorded in Docs/benchmarks.md.
//   swift run -c release lorakit-bench header-open [--size-gb 2] [--repeats 50]
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

let command = CommandLine.arguments.dropFirst().first ?? "help"
do {
    switch command {
    case "header-open": try headerOpen()
    default:
        print("usage: lorakit-bench header-open [--size-gb N] [--repeats N] [--path FILE]")
    }
} catch {
    FileHandle.standardError.write(Data("lorakit-bench: \(error)\n".utf8))
    exit(1)
}
