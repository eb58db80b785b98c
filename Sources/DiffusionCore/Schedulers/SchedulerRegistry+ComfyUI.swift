import Foundation

/// ComfyUI's names for the same samplers: its `KSampler` sampler names (`euler_ancestral`, `dpmpp_2m`, …)
/// and those names followed by a scheduler (`dpmpp_2m_karras`, or `"dpmpp_2m karras"`: spaces, `_` and `-`
/// are ignored in lookups), so a ComfyUI user's settings work as typed.
extension SchedulerRegistry {
    /// ComfyUI sampler name → the InvokeAI id of the preset that runs it. The `_gpu` variants differ
    /// only in where ComfyUI draws the noise.
    static let comfyUISamplers: [(comfyUI: String, id: String)] = [
        ("euler", "euler"),
        ("euler_ancestral", "euler_a"),
        ("heun", "heun"),
        ("dpm_2", "kdpm_2"),
        ("dpm_2_ancestral", "kdpm_2_a"),
        ("lms", "lms"),
        ("dpmpp_2s_ancestral", "dpmpp_2s"),
        ("dpmpp_sde", "dpmpp_sde"),
        ("dpmpp_sde_gpu", "dpmpp_sde"),
        ("dpmpp_2m", "dpmpp_2m"),
        ("dpmpp_2m_sde", "dpmpp_2m_sde"),
        ("dpmpp_2m_sde_gpu", "dpmpp_2m_sde"),
        ("dpmpp_3m_sde", "dpmpp_3m_sde"),
        ("dpmpp_3m_sde_gpu", "dpmpp_3m_sde"),
        ("ddpm", "ddpm"),
        ("lcm", "lcm"),
        ("deis", "deis"),
        ("ddim", "ddim"),
    ]

    /// ComfyUI scheduler names → the suffix of the InvokeAI id that uses that sigma grid
    /// (`normal` is the model's own grid).
    static let comfyUISchedulers: [(comfyUI: String, idSuffix: String)] = [
        ("normal", ""),
        ("karras", "_k"),
    ]

    /// ComfyUI samplers no scheduler of the zoo reproduces, with the reason (read from ComfyUI's
    /// `comfy/samplers.py` and `comfy/extra_samplers/uni_pc.py`). Refused rather than run as something else.
    static let comfyUIRefusedSamplers: [(comfyUI: String, reason: String)] = [
        ("uni_pc", uniPCReason(variant: "bh1")),
        ("uni_pc_bh2", uniPCReason(variant: "bh2")),
    ]

    private static func uniPCReason(variant: String) -> String {
        "ComfyUI runs its own UniPC port (order 3, variant \(variant)) on its scheduler's σ grid with the second-to-last σ "
            + "dropped, calls the model at fractional timesteps and ends at σ = 0.001; diffusers' UniPCMultistepScheduler "
            + "(order 2, integer timesteps, ending at σ = 0) gives other pictures. Use unipc for diffusers' UniPC"
    }

    /// ComfyUI schedulers (σ grids) no preset of the zoo reproduces, with the reason.
    static let comfyUIRefusedSchedulers: [(comfyUI: String, reason: String)] = [
        ("exponential", "ComfyUI's exponential schedule spaces σ log-uniformly from the model's σ_max to σ_min and calls "
            + "the model at fractional timesteps; no preset here uses that grid with ComfyUI's step rule. Use the sampler "
            + "with normal or karras, or its Karras preset"),
        ("sgm_uniform", "ComfyUI's sgm_uniform schedule takes σ at fractional timesteps evenly spaced from 999 down to "
            + "999/steps; the nearest diffusers grid (timestep_spacing trailing) rounds them to whole timesteps, so the "
            + "σ values differ. Use the sampler with normal or karras"),
    ]

    /// The refused ComfyUI names (sampler, or sampler + scheduler, as ComfyUI spells them), with the reason.
    static let comfyUIRefusals: [String: String] = {
        var refusals: [String: String] = [:]
        let schedulers = (comfyUISchedulers.map(\.comfyUI) + comfyUIRefusedSchedulers.map(\.comfyUI))
        for (sampler, reason) in comfyUIRefusedSamplers {
            refusals[sampler] = reason
            for scheduler in schedulers { refusals[sampler + "_" + scheduler] = reason }
        }
        for (scheduler, reason) in comfyUIRefusedSchedulers {
            for (sampler, _) in comfyUISamplers where refusals[sampler + "_" + scheduler] == nil {
                refusals[sampler + "_" + scheduler] = reason
            }
        }
        return refusals
    }()

    /// Why `name` is refused, when it names a refused ComfyUI sampler or schedule. ComfyUI's spelling (case, and
    /// spaces or `-` for `_`, aside) is matched first, so `uni_pc` is ComfyUI's UniPC while `unipc` and `UniPC`
    /// stay the diffusers preset; other spellings are matched as every name is (`_`, `-` and spaces ignored) when
    /// no preset answers to them.
    static func comfyUIRefusal(for name: String) -> String? {
        let spelling = name.lowercased().trimmingCharacters(in: .whitespaces)
            .replacingOccurrences(of: " ", with: "_").replacingOccurrences(of: "-", with: "_")
        if let reason = comfyUIRefusals[spelling] { return reason }
        guard table[key(name)] == nil else { return nil }
        return comfyUIRefusalsByKey[key(name)]
    }

    private static let comfyUIRefusalsByKey: [String: String] = {
        var byKey: [String: String] = [:]
        for (name, reason) in comfyUIRefusals where byKey[key(name)] == nil { byKey[key(name)] = reason }
        return byKey
    }()

    /// The ComfyUI names that resolve to `preset` (sampler, and sampler + scheduler).
    public static func comfyUINames(for preset: SchedulerPreset) -> [String] {
        var names: [String] = []
        for (sampler, id) in comfyUISamplers {
            for (scheduler, suffix) in comfyUISchedulers where id + suffix == preset.id {
                if suffix.isEmpty { names.append(sampler) }
                names.append(sampler + "_" + scheduler)
            }
        }
        return names
    }

    /// Adds the ComfyUI names to the lookup table, never replacing an existing name.
    static func addComfyUINames(to table: inout [String: SchedulerPreset]) {
        for preset in presets {
            for name in comfyUINames(for: preset) where table[key(name)] == nil { table[key(name)] = preset }
        }
    }
}
