/// ComfyUI's names for the same samplers: its `KSampler` sampler names (`euler_ancestral`, `dpmpp_2m`, …)
/// and those names followed by a scheduler (`dpmpp_2m_karras`, or `"dpmpp_2m karras"`: spaces, `_` and `-`
/// are ignored in lookups), so a ComfyUI user's settings work as typed.
extension SchedulerRegistry {
    /// ComfyUI sampler name → the InvokeAI id of the preset that runs it. The `_gpu` variants differ
    /// only in where ComfyUI draws the noise; `uni_pc_bh2` is diffusers' default UniPC (solver type bh2).
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
        ("uni_pc_bh2", "unipc"),
    ]

    /// ComfyUI scheduler names → the suffix of the InvokeAI id that uses that sigma grid
    /// (`normal` is the model's own grid).
    static let comfyUISchedulers: [(comfyUI: String, idSuffix: String)] = [
        ("normal", ""),
        ("karras", "_k"),
    ]

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
