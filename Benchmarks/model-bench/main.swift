// Model benchmarks (Docs/benchmarks.md): runs one component of an SD-shaped diffusers folder (the random-weight
// SD1.5 folder of Scripts/bench/make_bake_inputs.py) and prints the time of each call after a warm-up call, in the
// same form as Scripts/bench/diffusers_models.py, so the two can be timed against each other as whole processes.
//
//   swift build -c release --product model-bench
//   .build/release/model-bench unet --batch 1 --iterations 3
//   .build/release/model-bench vae-decode --iterations 2
//   .build/release/model-bench taesd-decode --taesd bench-data/taesd --iterations 3
//   .build/release/model-bench unet --model bench-data/sdxl-random --size 128 --iterations 1   (SDXL, 1024×1024)
//   .build/release/model-bench pipeline-load --iterations 3   (the whole pipeline loaded; Scripts/bench/diffusers_load.py)
import DiffusionCore
import Foundation
import LoRAKit

struct Options {
    var what = ""
    var model = "bench-data/sd15-random"
    var taesd = "bench-data/taesd"
    var batch = 1
    var size = 64
    var iterations = 2
    var warmup = 1
    var widen = false
    var profile = false
}

func parse() -> Options? {
    var o = Options()
    var args = CommandLine.arguments.dropFirst()
    guard let what = args.popFirst() else { return nil }
    o.what = what
    while let flag = args.popFirst() {
        switch flag {
        case "--model": o.model = args.popFirst() ?? o.model
        case "--taesd": o.taesd = args.popFirst() ?? o.taesd
        case "--batch": o.batch = Int(args.popFirst() ?? "") ?? o.batch
        case "--size": o.size = Int(args.popFirst() ?? "") ?? o.size
        case "--iterations": o.iterations = Int(args.popFirst() ?? "") ?? o.iterations
        case "--warmup": o.warmup = Int(args.popFirst() ?? "") ?? o.warmup
        case "--widen-at-load": o.widen = true
        case "--profile": o.profile = true
        case "--no-pool": Parallel.usesSpinningPool = false  // Dispatch's workers, for the comparison
        case "--no-pin": Parallel.pinsWorkerThreads = false   // helpers and OpenBLAS's workers left free
        case "--winograd-products": if args.popFirst() == "blas" { ConvPlanner.unpackedProductMaxColumns = 0 }
        default: return nil
        }
    }
    return ["unet", "vae-decode", "vae-encode", "taesd-decode", "pipeline-load"].contains(o.what) ? o : nil
}

func component(_ folder: String) throws -> (Data, [SafetensorsFile]) {
    let url = URL(fileURLWithPath: folder)
    let config = try Data(contentsOf: url.appendingPathComponent("config.json"))
    let names = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".safetensors") }.sorted()
    return (config, try names.map { try SafetensorsFile(path: url.appendingPathComponent($0).path) })
}

func randomTensor(_ shape: [Int], seed: UInt64, range: ClosedRange<Float> = -1...1) throws -> Tensor {
    var state = seed
    let count = shape.reduce(1, *)
    var values = [Float](repeating: 0, count: count)
    for i in 0..<count {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        values[i] = range.lowerBound + (range.upperBound - range.lowerBound) * Float(state >> 40) / Float(1 << 24)
    }
    return try Tensor(shape: shape, scalars: values)
}

/// The floating-point operations one profiled region does (multiply-adds counted as two, convolutions as
/// direct convolutions), read from its kind's name; nil for passes that are not products.
func flops(of kind: String) -> Double? {
    func numbers(_ s: Substring) -> [Double] {
        s.split(whereSeparator: { !$0.isNumber }).compactMap { Double($0) }
    }
    let words = kind.split(separator: " ")
    guard let first = words.first else { return nil }
    if first == "linear", words.count == 2 {  // "linear M×K→N"
        let n = numbers(words[1])
        return n.count == 3 ? 2 * n[0] * n[1] * n[2] : nil
    }
    if first == "attention", words.count == 3 {  // "attention B×Tq×Tk H×D"
        let a = numbers(words[1]), h = numbers(words[2])
        return a.count == 3 && h.count == 2 ? 4 * a[0] * a[1] * a[2] * h[0] * h[1] : nil
    }
    if first.hasPrefix("conv") {  // "conv3×3 [s2] Cin→Cout @B×H×W"
        let k = numbers(first), stride = words.count == 4 ? (numbers(words[1]).first ?? 1) : 1
        guard let io = words.dropFirst().first(where: { $0.contains("→") }), let at = words.last, at.hasPrefix("@") else { return nil }
        let c = numbers(io), d = numbers(at)
        guard k.count == 2, c.count == 2, d.count == 3 else { return nil }
        let outH = (d[1] / stride).rounded(.up), outW = (d[2] / stride).rounded(.up)
        return 2 * d[0] * outH * outW * c[0] * c[1] * k[0] * k[1]
    }
    return nil
}

/// Per-call seconds of each kind of work (exclusive times, see LayerTiming), grouped by the kind's first word,
/// with the GFLOP each kind did and its rate.
func printProfile(calls: Int, total: Double, cpu: Double) {
    let rows = LayerTiming.report()
    let n = Double(max(calls, 1))
    var groups: [String: (seconds: Double, flops: Double)] = [:]
    for row in rows {
        let key = String(row.kind.split(separator: " ").first ?? "")
        groups[key, default: (0, 0)].seconds += row.seconds
        groups[key, default: (0, 0)].flops += (flops(of: row.kind) ?? 0) * Double(row.calls)
    }
    let measured = rows.reduce(0) { $0 + $1.seconds }
    let allFlops = groups.values.reduce(0) { $0 + $1.flops }
    print("profile per call (\(calls) calls; \(String(format: "%.3f", total / n)) s per call, \(String(format: "%.3f", (total - measured) / n)) s outside measured regions; "
        + "CPU \(String(format: "%.3f", cpu / n)) s per call (\(String(format: "%.2f", cpu / max(total, 1e-9))) cores); "
        + "\(String(format: "%.1f", allFlops / n / 1e9)) GFLOP, \(String(format: "%.1f", allFlops / max(total, 1e-9) / 1e9)) GFLOP/s overall):")
    print(String(format: "  %-24@ %8@  %6@  %8@  %8@", "kind" as NSString, "s" as NSString, "share" as NSString, "GFLOP" as NSString, "GFLOP/s" as NSString))
    for (kind, g) in groups.sorted(by: { $0.value.seconds > $1.value.seconds }) {
        let rate = g.flops > 0 ? String(format: "%8.1f", g.flops / max(g.seconds, 1e-9) / 1e9) : "       –"
        print(String(format: "  %-24@ %8.3f  %5.1f %%  %8.1f  %@", kind as NSString, g.seconds / n, 100 * g.seconds / total,
                     g.flops / n / 1e9, rate as NSString))
    }
    print("by shape:")
    for row in rows {
        let f = (flops(of: row.kind) ?? 0) * Double(row.calls)
        let rate = f > 0 ? String(format: "%7.1f GFLOP/s", f / max(row.seconds, 1e-9) / 1e9) : ""
        print(String(format: "  %-48@ %8.4f s  %4d calls  %5.1f %%  %@", row.kind as NSString, row.seconds / n, row.calls / max(calls, 1),
                     100 * row.seconds / total, rate as NSString))
    }
}

/// User plus system CPU time of the process so far, in seconds.
func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

guard let o = parse() else {
    FileHandle.standardError.write(Data("usage: model-bench unet|vae-decode|vae-encode|taesd-decode|pipeline-load [--model DIR] [--taesd DIR] [--batch N] [--size LATENT] [--iterations N] [--warmup N] [--widen-at-load] [--profile] [--winograd-products auto|blas]\n".utf8))
    exit(2)
}
if o.what == "pipeline-load" {
    // Loading the whole pipeline (tokenizer, text encoder, UNet, VAE, scheduler), warm-up loads first (page cache).
    do {
        var times: [Double] = []
        for i in 0..<(o.warmup + o.iterations) {
            let t = now()
            let pipeline = try DiffusionPipeline(contentsOf: URL(fileURLWithPath: o.model),
                                                 options: ModelLoadOptions(loading: o.widen ? .widenAtLoad : .keepHalfPrecision))
            if i >= o.warmup { times.append(now() - t) }
            withExtendedLifetime(pipeline) {}
        }
        let list = times.map { String(format: "%.3f", $0) }.joined(separator: " ")
        print("pipeline-load \(o.model): \(list) s (min \(String(format: "%.3f", times.min() ?? 0)))")
        exit(0)
    } catch {
        FileHandle.standardError.write(Data("model-bench: \(error)\n".utf8))
        exit(1)
    }
}
do {
    let loading: WeightLoading = o.widen ? .widenAtLoad : .keepHalfPrecision
    let t0 = now()
    let run: () throws -> Tensor
    switch o.what {
    case "unet":
        let (config, files) = try component(o.model + "/unet")
        let unet = try UNetModel(configurationJSON: config, weightFiles: files, description: o.model + "/unet", loading: loading)
        let x = try randomTensor([o.batch, 4, o.size, o.size], seed: 1)
        let ctx = try randomTensor([o.batch, 77, unet.configuration.crossAttentionDim[0]], seed: 2)
        let t = try Tensor(shape: [], scalars: [500])
        // SDXL (`text_time`): pooled text embeddings and the six size/crop ids, as the pipeline passes them.
        var added: UNetAddedConditions?
        if let input = unet.configuration.projectionClassEmbeddingsInputDim, let timeDim = unet.configuration.additionTimeEmbedDim {
            let side = Float(o.size * 8)
            let one: [Float] = [side, side, 0, 0, side, side]
            let ids = [[Float]](repeating: one, count: o.batch).flatMap { $0 }
            added = UNetAddedConditions(textEmbeds: try randomTensor([o.batch, input - 6 * timeDim], seed: 6),
                                        timeIds: try Tensor(shape: [o.batch, 6], scalars: ids))
        }
        run = { try unet(sample: x, timestep: t, context: ctx, added: added) }
    case "vae-decode", "vae-encode":
        let (config, files) = try component(o.model + "/vae")
        let vae = try AutoencoderKLModel(configurationJSON: config, weightFiles: files, description: o.model + "/vae", loading: loading)
        if o.what == "vae-decode" {
            let z = try randomTensor([o.batch, 4, o.size, o.size], seed: 3)
            run = { try vae.decode(z) }
        } else {
            let image = try randomTensor([o.batch, 3, o.size * 8, o.size * 8], seed: 4)
            run = { try vae.encode(image).mean }
        }
    default:
        let (config, files) = try component(o.taesd)
        let tae = try AutoencoderTinyModel(configurationJSON: config, weightFiles: files, description: o.taesd, loading: loading)
        let z = try randomTensor([o.batch, 4, o.size, o.size], seed: 5)
        run = { try tae.decode(z) }
    }
    let load = now() - t0
    for _ in 0..<o.warmup { _ = try run() }
    LayerTiming.isEnabled = o.profile
    var times: [Double] = []
    var shape: [Int] = []
    let cpu0 = cpuSeconds()
    for _ in 0..<o.iterations {
        let t = now()
        shape = try run().shape
        times.append(now() - t)
    }
    let cpu = cpuSeconds() - cpu0
    if o.profile { printProfile(calls: o.iterations, total: times.reduce(0, +), cpu: cpu) }
    let list = times.map { String(format: "%.3f", $0) }.joined(separator: " ")
    print("\(o.what) batch \(o.batch) latent \(o.size): load \(String(format: "%.2f", load)) s, per call \(list) s (min \(String(format: "%.3f", times.min() ?? 0))); out \(shape)")
} catch {
    FileHandle.standardError.write(Data("model-bench: \(error)\n".utf8))
    exit(1)
}
