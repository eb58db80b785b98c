// Benchmarks for DiffusionCore, run in release mode and recorded in Docs/benchmarks.md.
//   swift run -c release diffusion-bench randn --shape 1,4,64,64 --repeats 1000 [--kernel avx2|scalar]
// Prints the median and minimum time of one draw (a fresh generator seeded with the repeat index, then one
// torch.randn-equivalent draw), matching Scripts/bench/torch_randn.py.
import DiffusionCore
import Foundation

func option(_ name: String, default value: String) -> String {
    let args = CommandLine.arguments
    if let i = args.firstIndex(of: name), i + 1 < args.count { return args[i + 1] }
    return value
}

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}

func randnBenchmark() throws {
    let shape = option("--shape", default: "1,4,64,64").split(separator: ",").compactMap { Int($0) }
    let repeats = Int(option("--repeats", default: "1000")) ?? 1000
    let kernel = TorchGenerator.NormalKernel(rawValue: option("--kernel", default: "avx2")) ?? .avx2
    let clock = ContinuousClock()
    var times: [Double] = []
    var checksum: Float = 0
    for i in 0..<repeats {
        let start = clock.now
        var generator = TorchGenerator(seed: UInt64(i), normalKernel: kernel)
        let noise = try generator.randn(shape)
        times.append(seconds(clock.now - start))
        checksum += noise.withUnsafeBufferPointer { $0[0] }
    }
    times.sort()
    print(String(format: "randn %@ x%d (%@): median %.1f µs, min %.1f µs (checksum %.4f)",
                 shape.description, repeats, kernel.rawValue, times[times.count / 2] * 1e6, times[0] * 1e6, checksum))
}

switch CommandLine.arguments.dropFirst().first {
case "randn": try randnBenchmark()
case "lora-switch": try loraSwitchBenchmark()
default:
    print("usage: diffusion-bench randn [--shape 1,4,64,64] [--repeats 1000] [--kernel avx2|scalar]")
    print("       diffusion-bench lora-switch [--model DIR] [--lora FILE] [--pairs 4] [--size 512]")
}
