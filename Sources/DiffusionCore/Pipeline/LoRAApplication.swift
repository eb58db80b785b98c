/// How a pipeline applies LoRAs to the UNet. The text encoders always get fused weights: they run once per
/// prompt, so a run-time product would cost more than it saves.
public enum LoRAApplication: Sendable, Equatable {
    /// `W + s·U·D` computed for every patched layer when the set changes (in the weight's stored precision);
    /// no cost per step.
    case fused
    /// `W·x + s·U·(D·x)` at every call beside the mapped weight (stable-diffusion.cpp's run-time mode): changing
    /// the set costs only building the small factors, each step pays the extra low-rank products. Plain LoRA and
    /// LoCon modules only; other families (LoHa, LoKr, DoRA, IA³, full) are fused all the same.
    case runtime
    /// The measured rule (Docs/benchmarks.md, "LoRA switching"): run time when the UNet will denoise fewer than
    /// ``automaticRuntimeLimit`` latent images with this LoRA set — steps × batch size, × 2 when classifier-free
    /// guidance runs — else fused.
    case automatic(unetEvaluations: Int)

    /// Below this many UNet evaluations per LoRA set, run-time LoRAs cost less than fusing them (SD1.5 shapes at
    /// 512×512 with a rank-64 LCM-LoRA: fusing into the fp16 weights costs about as much as two evaluations'
    /// run-time overhead, so only a single evaluation is cheaper at run time; a 4-step LCM run fuses).
    public static let automaticRuntimeLimit = 2

    var appliesAtRunTime: Bool {
        switch self {
        case .fused: false
        case .runtime: true
        case let .automatic(evaluations): evaluations < Self.automaticRuntimeLimit
        }
    }
}
