// Benchmarks of the DiffusionCore compute layer at SD1.5 shapes, run in release mode and recorded in
// Docs/benchmarks.md next to Scripts/bench/ops_bench.py (PyTorch's CPU kernels on the same shapes).
//   swift build -c release --product ops-bench
//   .build/release/ops-bench <case> [--repeats N] [--level portable|avx2] [--threads N] [--norm-serial-bytes N]
//   [--no-pool] [--no-pin] [--pool-spin-us N]
// Cases: sgemm, attention-self, attention-cross, attention-xl4096, attention-xl1024 (SDXL heads), groupnorm-silu, layernorm, geglu, softmax, linear, linear-f16, linear-f16-widen-at-load, all;
// groupnorm-silu-b2, groupnorm-silu-1280x8x8, groupnorm-silu-640x32x32, groupnorm-silu-512x128x128, groupnorm-silu-128x512x512;
// conv-unet320, conv-unet640, conv-unet1280, conv-vae512, conv-vae128, conv-all (Conv2DBench.swift).
// Each case prints one line: name, median and minimum seconds per call, and GFLOP/s or GB/s.
import COpenBLAS
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
if let threads = Int(option("--threads", default: "")) {
    // Both pools: the runtime's workers and OpenBLAS's (a one-core comparison with torch.set_num_threads(1)).
    Parallel.workerCount = threads
    LinearAlgebraSettings.setThreadCount(threads)
}
if let bytes = Int(option("--norm-serial-bytes", default: "")) {
    // Below this map size the normalisations run on the calling thread (for measuring the crossover).
    Ops.normalizationSerialBytes = bytes
}
if CommandLine.arguments.contains("--no-pool") {
    // The parallel-for on Dispatch's workers instead of the spinning helper pool (for the comparison).
    Parallel.usesSpinningPool = false
}
if let spin = Int(option("--pool-spin-us", default: "")) {
    // How long an idle pool helper polls for the next job before it sleeps.
    Parallel.helperSpinMicroseconds = spin
}
if CommandLine.arguments.contains("--no-pin") {
    // Helpers and OpenBLAS's workers left free to run on any processor.
    Parallel.pinsWorkerThreads = false
}
switch option("--level", default: "best") {
case "portable": KernelLevel.setMaximum(.portable)
case "avx2": KernelLevel.setMaximum(.avx2)
default: break
}

/// The process's CPU time (all threads) in seconds.
func processCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// Times `body` `repeats` times after warm-up calls; prints the median and minimum wall time, the rate at the
/// median, and the median CPU time per call (all threads; on a loaded machine the figure less disturbed by
/// other processes).
func measure(_ name: String, flops: Double? = nil, bytes: Double? = nil, _ body: () throws -> Void) rethrows {
    for _ in 0..<warmups { try body() }
    var times: [Double] = [], cpu: [Double] = []
    let clock = ContinuousClock()
    for _ in 0..<repeats {
        let start = clock.now, cpuStart = processCPUSeconds()
        try body()
        let d = clock.now - start
        cpu.append(processCPUSeconds() - cpuStart)
        times.append(Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18)
    }
    times.sort()
    cpu.sort()
    let med = times[times.count / 2], best = times[0]
    var rate = ""
    if let flops { rate = String(format: "%.1f GFLOP/s", flops / med / 1e9) }
    if let bytes { rate = String(format: "%.2f GB/s", bytes / med / 1e9) }
    let padded = name.padding(toLength: 28, withPad: " ", startingAt: 0)
    print(padded + String(format: "median %.3f ms  min %.3f ms  cpu %.3f ms  ", med * 1e3, best * 1e3, cpu[cpu.count / 2] * 1e3) + rate)
}

/// Deterministic pseudo-random values in [-1, 1).
func values(_ n: Int, seed: UInt64) -> [Float] {
    var s = seed &* 0x9E3779B97F4A7C15 | 1
    return (0..<n).map { _ in
        s ^= s << 13; s ^= s >> 7; s ^= s << 17
        return Float(Int64(bitPattern: s >> 11) % 2_000_000) / 1_000_000 - 1
    }
}

func tensor(_ shape: [Int], seed: UInt64, scale: Float = 1) throws -> Tensor {
    try Tensor(shape: shape, scalars: values(shape.reduce(1, *), seed: seed).map { $0 * scale })
}

let workspace = Workspace()

func sgemm() {
    let n = 2048
    let a = values(n * n, seed: 1), b = values(n * n, seed: 2)
    var c = [Float](repeating: 0, count: n * n)
    measure("sgemm 2048^3", flops: 2 * pow(Double(n), 3)) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1, a, Int32(n), b, Int32(n), 0, &c, Int32(n))
    }
}

func attention(keys: Int, name: String, tokens: Int = 4096, heads: Int = 8, d: Int = 40) throws {
    let q = try tensor([1, tokens, heads * d], seed: 3)
    let k = try tensor([1, keys, heads * d], seed: 4), v = try tensor([1, keys, heads * d], seed: 5)
    var out = try workspace.tensor(shape: [1, tokens, heads * d])
    let flops = 4 * Double(tokens) * Double(keys) * Double(d) * Double(heads)
    try measure(name, flops: flops) {
        try Ops.attention(query: q, key: k, value: v, options: AttentionOptions(heads: heads), into: &out, workspace: workspace)
    }
}

/// GroupNorm(32) + SiLU on `shape` (default: the first UNet resnet's 1×320×64×64).
func groupNormSiLU(_ shape: [Int] = [1, 320, 64, 64]) throws {
    let x = try tensor(shape, seed: 6, scale: 2)
    let w = try tensor([shape[1]], seed: 7), b = try tensor([shape[1]], seed: 8)
    var out = try workspace.tensor(shape: x.shape)
    let name = shape[0] == 1 ? "groupnorm+silu \(shape[1])x\(shape[2])x\(shape[3])"
        : "groupnorm+silu \(shape.map(String.init).joined(separator: "x"))"
    try measure(name, bytes: Double(2 * x.count * 4)) {
        try Ops.groupNorm(x, groups: 32, weight: w, bias: b, eps: 1e-5, activation: .silu, into: &out)
    }
}

/// The other GroupNorm shapes of SD1.5's UNet and VAE: `groupnorm-silu-CxHxW` (batch 1) and `groupnorm-silu-b2`.
let groupNormShapes: [String: [Int]] = [
    "groupnorm-silu-b2": [2, 320, 64, 64], "groupnorm-silu-1280x8x8": [1, 1280, 8, 8],
    "groupnorm-silu-640x32x32": [1, 640, 32, 32], "groupnorm-silu-512x128x128": [1, 512, 128, 128],
    "groupnorm-silu-128x512x512": [1, 128, 512, 512],
]

/// LayerNorm over the 320 channels of the first transformer block's 4096 tokens.
func layerNorm() throws {
    let x = try tensor([4096, 320], seed: 12, scale: 2)
    let w = try tensor([320], seed: 13), b = try tensor([320], seed: 14)
    var out = try workspace.tensor(shape: x.shape)
    try measure("layernorm 4096x320", bytes: Double(2 * x.count * 4)) {
        try Ops.layerNorm(x, weight: w, bias: b, eps: 1e-5, into: &out)
    }
}

/// GEGLU of the first block's feed-forward: [4096, 2·1280] → [4096, 1280], erf GELU gate.
func geglu() throws {
    let x = try tensor([4096, 2560], seed: 15, scale: 3)
    var out = try workspace.tensor(shape: [4096, 1280])
    try measure("geglu 4096x2560", bytes: Double((x.count + out.count) * 4)) {
        try Ops.geglu(x, gate: .geluErf, into: &out)
    }
}

/// Softmax over rows of 77 (cross-attention scores of 8 heads × 4096 queries against 77 text tokens).
func softmaxRows() throws {
    let x = try tensor([8 * 4096, 77], seed: 16, scale: 4)
    var out = try workspace.tensor(shape: x.shape)
    try measure("softmax 32768x77", bytes: Double(2 * x.count * 4)) {
        try Ops.softmax(x, scale: 0.158, into: &out)
    }
}

/// A safetensors file holding the linear weight as `dtype`, for the half-precision cases.
func weightFile(_ w: [Float], shape: [Int], dtype: DType) throws -> SafetensorsFile {
    var writer = SafetensorsWriter()
    writer.add(name: "w", shape: shape, floats: w, as: dtype)
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("ops-bench-\(dtype.rawValue)-\(getpid()).safetensors")
    try writer.write(to: url, overwrite: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try SafetensorsFile(contentsOf: url)
}

func linear(_ variant: String) throws {
    let (rows, inF, outF) = (4096, 320, 1280)
    let x = try tensor([rows, inF], seed: 9)
    let wValues = values(outF * inF, seed: 10).map { $0 * 0.05 }
    let bias = try tensor([outF], seed: 11)
    let weight: WeightMatrix
    switch variant {
    case "f32": weight = try WeightMatrix(Tensor(shape: [outF, inF], scalars: wValues))
    case "f16": weight = try WeightMatrix(weightFile(wValues, shape: [outF, inF], dtype: .f16).tensor(named: "w"))
    default: weight = try WeightMatrix(weightFile(wValues, shape: [outF, inF], dtype: .f16).tensor(named: "w"), loading: .widenAtLoad)
    }
    var out = try workspace.tensor(shape: [rows, outF])
    try measure("linear 4096x320->1280 \(variant)", flops: 2 * Double(rows * inF * outF)) {
        try Ops.linear(x, weight: weight, bias: bias, into: &out, workspace: workspace)
    }
}

let cases = CommandLine.arguments.dropFirst().prefix { !$0.hasPrefix("--") }
let selected = cases.isEmpty || cases.contains("all")
    ? ["sgemm", "attention-self", "attention-cross", "groupnorm-silu", "layernorm", "geglu", "softmax", "linear", "linear-f16",
       "linear-f16-widen-at-load"]
    : Array(cases)
do {
    for name in selected {
        switch name {
        case "sgemm": sgemm()
        case "attention-self": try attention(keys: 4096, name: "attention self 4096 8x40")
        case "attention-cross": try attention(keys: 77, name: "attention cross 4096x77")
        // SDXL at 1024×1024: 64-wide heads at 4096 tokens (10 heads) and at 1024 tokens (20 heads).
        case "attention-xl4096": try attention(keys: 4096, name: "attention self 4096 10x64", heads: 10, d: 64)
        case "attention-xl1024": try attention(keys: 1024, name: "attention self 1024 20x64", tokens: 1024, heads: 20, d: 64)
        case "groupnorm-silu": try groupNormSiLU()
        case "layernorm": try layerNorm()
        case "geglu": try geglu()
        case "softmax": try softmaxRows()
        case "linear": try linear("f32")
        case "linear-f16": try linear("f16")
        case "linear-f16-widen-at-load": try linear("f16-at-load")
        case let c where groupNormShapes[c] != nil: try groupNormSiLU(groupNormShapes[c]!)
        case let c where convCases.contains(c): try conv(c)
        default:
            FileHandle.standardError.write(Data("unknown case \(name)\n".utf8))
            exit(2)
        }
    }
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(1)
}
