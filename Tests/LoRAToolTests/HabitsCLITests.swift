import Foundation
import Testing

/// Names and layouts users bring from other tools: ComfyUI sampler/scheduler names, aligned `inspect --stats`.
@Suite("lora-tool speaks the names users bring")
struct HabitsCLITests {
    @Test("ComfyUI sampler (+ scheduler) names give the same schedule as the InvokeAI ids", arguments: [
        ("euler_ancestral", "euler_a"), ("dpmpp_2m", "dpmpp_2m"), ("dpmpp_2m_karras", "dpmpp_2m_k"), ("dpmpp_2m karras", "dpmpp_2m_k"),
        ("DPMPP_2M-Karras", "dpmpp_2m_k"), ("dpm_2_ancestral", "kdpm_2_a"), ("dpmpp_2s_ancestral", "dpmpp_2s"),
        ("dpmpp_sde_gpu", "dpmpp_sde"), ("dpmpp_3m_sde_gpu_karras", "dpmpp_3m_sde_k"), ("lcm", "lcm"),
        ("euler_normal", "euler"), ("lms_karras", "lms_k"),
    ])
    func comfyUINames(comfyUI: String, id: String) throws {
        let a = try CLI.run(["schedule", "--scheduler", comfyUI, "--steps", "6", "--json"])
        let b = try CLI.run(["schedule", "--scheduler", id, "--steps", "6", "--json"])
        #expect(a.status == 0 && b.status == 0, "\(a)\n\(b)")
        #expect(a.stdout == b.stdout)
        #expect(try CLI.jsonObject(a)["scheduler"] as? String == id)
    }

    @Test("a ComfyUI name with a scheduler the sampler has no preset for is refused; schedulers lists the ComfyUI names")
    func comfyUIListing() throws {
        let r = try CLI.run(["schedule", "--scheduler", "euler_ancestral_karras", "--steps", "4"])
        #expect(r.status == 2 && r.stderrLines.first?.contains("unknown scheduler 'euler_ancestral_karras'") == true, "\(r)")
        // ComfyUI's own UniPC is not diffusers' UniPC: refused with the reason, not run as unipc.
        let uniPC = try CLI.run(["schedule", "--scheduler", "uni_pc_bh2", "--steps", "4"])
        #expect(uniPC.status == 2 && uniPC.stderrLines.first?.contains("scheduler 'uni_pc_bh2' is not available: ComfyUI runs its own UniPC") == true,
                "\(uniPC)")
        let json = try CLI.run(["schedulers", "--json"])
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        let byID = Dictionary(uniqueKeysWithValues: entries.compactMap { e in (e["id"] as? String).map { ($0, e) } })
        #expect(byID["dpmpp_2m_k"]?["comfyui"] as? [String] == ["dpmpp_2m_karras"])
        #expect((byID["euler_a"]?["comfyui"] as? [String])?.contains("euler_ancestral") == true)
        let text = try CLI.run(["schedulers"])
        #expect(text.stdout.hasPrefix("ID ") && text.stdout.contains("  COMFYUI  "), "\(text.stdout)")
    }

    @Test("inspect --stats: names padded to one width, the three numbers right-aligned under their headings")
    func statsColumnsAlign() throws {
        let r = try CLI.run(["inspect", CLI.fixture("merge/lora/sd1_kohya.safetensors"), "--stats"])
        #expect(r.status == 0, "\(r)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        let headerIndex = try #require(lines.firstIndex { $0.hasPrefix("  |ΔW| (s·ΔW, strength 1)") })
        let header = lines[headerIndex]
        #expect(header.hasSuffix("mean         max   Frobenius"), "\(header)")
        let rows = lines[(headerIndex + 1)...].prefix { $0.hasPrefix("    ") }
        #expect(rows.count == 30)
        for row in rows {
            #expect(row.count == header.count, "\(row)")
            let cells = row.split(separator: " ")
            #expect(cells.count == 4 && cells.dropFirst().allSatisfy { Double($0) != nil }, "\(row)")
        }
    }
}
