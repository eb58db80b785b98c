import DiffusionCore
import Foundation
import LoRAKit

/// `diffusion-bench lora-switch`: what changing the LoRA set costs when LoRAs are fused into the weights and
/// when they run beside them (``LoRAApplication``), and what each costs per UNet call afterwards.
///
///   swift run -c release diffusion-bench lora-switch --model bench-data/sd15-random \
///       --lora bench-data/lcm-lora-r64.safetensors [--pairs 4] [--size 512]
///
/// Applying the LoRA (from none) and removing it are timed in alternation, fused then run time, `--pairs`
/// times; then one UNet model of each kind is kept and UNet calls (batch 1, CFG 1 as the LCM recipe runs)
/// alternate between them, so a loaded machine slows both alike. Wall time and the process's CPU time are
/// reported (medians), with the median of the per-pair ratios.
func loraSwitchBenchmark() throws {
    let model = URL(fileURLWithPath: option("--model", default: "bench-data/sd15-random"))
    let loraURL = URL(fileURLWithPath: option("--lora", default: "bench-data/lcm-lora-r64.safetensors"))
    let pairs = Int(option("--pairs", default: "4")) ?? 4
    let size = Int(option("--size", default: "512")) ?? 512
    let pipeline = try DiffusionPipeline(folder: model)
    let lora = PipelineLoRA(name: "lcm", file: try pipeline.openLoRA(at: loraURL), unetStrength: 1)
    let side = size / 8
    let width = pipeline.unet.configuration.crossAttentionDim.first ?? 768
    let context = try Tensor(shape: [1, 77, width], scalars: (0..<(77 * width)).map { Float($0 % 13) / 13 - 0.5 })
    let sample = try Tensor(shape: [1, 4, side, side], scalars: (0..<(4 * side * side)).map { Float($0 % 17) / 17 - 0.5 })
    let timestep = try Tensor(shape: [], scalars: [500])

    struct Timing { var wall: Double; var cpu: Double }
    func timed(_ body: () throws -> Void) rethrows -> Timing {
        let (w0, c0) = (Date(), processCPUSeconds())
        try body()
        return Timing(wall: Date().timeIntervalSince(w0), cpu: processCPUSeconds() - c0)
    }
    func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }

    print("model \(model.lastPathComponent), LoRA \(loraURL.lastPathComponent) (\(lora.file.modules.count) modules), \(size)×\(size), \(pairs) pairs")
    var apply: [String: [Timing]] = [:], remove: [String: [Timing]] = [:]
    var unets: [String: UNetModel] = [:]
    for _ in 0..<pairs {
        for (label, mode) in [("fused", LoRAApplication.fused), ("runtime", .runtime)] {
            pipeline.loraApplication = mode
            apply[label, default: []].append(try timed { try pipeline.fuse([lora]) })
            unets[label] = pipeline.unet
            remove[label, default: []].append(try timed { try pipeline.fuse([]) })
        }
    }
    for label in ["fused", "runtime"] {
        let a = apply[label] ?? [], r = remove[label] ?? []
        print(String(format: "%@: apply median %.2f s wall, %.2f s CPU; remove median %.2f s wall", label,
                     median(a.map(\.wall)), median(a.map(\.cpu)), median(r.map(\.wall))))
    }
    var calls: [String: [Timing]] = [:]
    for _ in 0..<pairs {
        for label in ["fused", "runtime"] {
            let unet = unets[label]!
            calls[label, default: []].append(try timed { _ = try unet(sample: sample, timestep: timestep, context: context) })
        }
    }
    let fusedCalls = calls["fused"] ?? [], runtimeCalls = calls["runtime"] ?? []
    for (label, c) in [("fused", fusedCalls), ("runtime", runtimeCalls)] {
        print(String(format: "%@ UNet call: median %.2f s wall, %.2f s CPU", label, median(c.map(\.wall)), median(c.map(\.cpu))))
    }
    let wallRatio = median(zip(runtimeCalls, fusedCalls).map { $0.wall / $1.wall })
    let cpuRatio = median(zip(runtimeCalls, fusedCalls).map { $0.cpu / $1.cpu })
    let extraCPU = median(zip(runtimeCalls, fusedCalls).map { $0.cpu - $1.cpu })
    let saved = median((apply["fused"] ?? []).map(\.cpu)) - median((apply["runtime"] ?? []).map(\.cpu))
    print(String(format: "run time / fused per call (median of pairs): %.3f wall, %.3f CPU; extra %.2f CPU-s per call; apply saves %.2f CPU-s: break-even %.1f UNet calls",
                 wallRatio, cpuRatio, extraCPU, saved, saved / max(extraCPU, 1e-9)))
}

/// CPU time used by this process (all threads), in seconds.
func processCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}
