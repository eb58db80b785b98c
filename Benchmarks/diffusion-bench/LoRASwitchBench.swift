import DiffusionCore
import Foundation
import LoRAKit

/// `diffusion-bench lora-switch`: what changing the LoRA set costs when LoRAs are fused into the weights and
/// when they run beside them (``LoRAApplication``), and what each costs per UNet step afterwards.
///
///   swift run -c release diffusion-bench lora-switch --model bench-data/sd15-random \
///       --lora bench-data/lcm-lora-r64.safetensors [--steps 4] [--size 512]
///
/// For each mode: the time to apply the LoRA (from none), the median UNet call (batch 1, CFG 1 as the LCM
/// recipe runs) over `--steps` calls, and the time to remove it again; then the UNet call without LoRAs.
func loraSwitchBenchmark() throws {
    let model = URL(fileURLWithPath: option("--model", default: "bench-data/sd15-random"))
    let loraURL = URL(fileURLWithPath: option("--lora", default: "bench-data/lcm-lora-r64.safetensors"))
    let steps = Int(option("--steps", default: "4")) ?? 4
    let size = Int(option("--size", default: "512")) ?? 512
    let clock = ContinuousClock()
    let pipeline = try DiffusionPipeline(folder: model)
    let lora = PipelineLoRA(name: "lcm", file: try pipeline.openLoRA(at: loraURL), unetStrength: 1)
    let side = size / 8
    let context = try Tensor(shape: [1, 77, pipeline.unet.configuration.crossAttentionDim.first ?? 768],
                             scalars: (0..<(77 * (pipeline.unet.configuration.crossAttentionDim.first ?? 768))).map { Float($0 % 13) / 13 - 0.5 })
    let sample = try Tensor(shape: [1, 4, side, side], scalars: (0..<(4 * side * side)).map { Float($0 % 17) / 17 - 0.5 })
    func unetCalls() throws -> Double {
        var times: [Double] = []
        for i in 0..<steps {
            let start = clock.now
            _ = try pipeline.unet(sample: sample, timestep: try Tensor(shape: [], scalars: [Float(999 - 250 * i)]), context: context)
            times.append(seconds(clock.now - start))
        }
        return times.sorted()[times.count / 2]
    }
    print("model \(model.lastPathComponent), LoRA \(loraURL.lastPathComponent) (\(lora.file.modules.count) modules), \(size)×\(size), \(steps) UNet calls each")
    for (label, mode) in [("fused", LoRAApplication.fused), ("runtime", .runtime)] {
        pipeline.loraApplication = mode
        var start = clock.now
        let report = try pipeline.fuse([lora])
        let apply = seconds(clock.now - start)
        let step = try unetCalls()
        start = clock.now
        try pipeline.fuse([])
        let remove = seconds(clock.now - start)
        print(String(format: "%@: apply %.2f s (UNet %d layers, %d at run time; text encoder %d layers; embeddings %@), UNet call median %.2f s, remove %.2f s; apply + %d steps %.2f s",
                     label, apply, report.unetLayersPatched, report.unetLayersAtRunTime, report.textEncoderLayersPatched,
                     report.embeddings.description, step, remove, steps, apply + Double(steps) * step))
        if !report.skipped.isEmpty { print("  not applied: \(report.skipped.count), e.g. \(report.skipped.prefix(3))") }
    }
    print(String(format: "no LoRA: UNet call median %.2f s", try unetCalls()))
}
