import ArgumentParser
import DiffusionCore
import Foundation

/// `lora-tool schedulers`: the scheduler zoo with every name it answers to.
struct SchedulersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedulers",
        abstract: "List the schedulers with their InvokeAI names, A1111 labels, ComfyUI names and diffusers classes.")

    @Flag(help: "Print JSON on stdout.")
    var json = false

    struct Entry: Encodable {
        let id: String
        let a1111: [String]
        let comfyui: [String]
        let diffusersClass: String
        let overrides: SchedulerConfig
        let approximate: Bool
        let order: Int

        enum CodingKeys: String, CodingKey {
            case id, a1111, comfyui, overrides, approximate, order
            case diffusersClass = "diffusers_class"
        }
    }

    func run() throws {
        let entries = SchedulerRegistry.presets.map {
            Entry(id: $0.id, a1111: $0.a1111, comfyui: SchedulerRegistry.comfyUINames(for: $0), diffusersClass: $0.kind.rawValue, overrides: $0.overrides,
                  approximate: $0.approximate, order: $0.kind.order)
        }
        if json {
            try printJSON(encoding: entries)
            return
        }
        let idWidth = entries.map(\.id.count).max() ?? 2
        func label(_ e: Entry) -> String { e.a1111.joined(separator: ", ") + (e.approximate && !e.a1111.isEmpty ? " ≈" : "") }
        let a1111Width = max(entries.map { label($0).count }.max() ?? 5, 5)
        func comfy(_ e: Entry) -> String {
            let names = e.comfyui.filter { !$0.hasSuffix("_normal") }
            return names.isEmpty ? "-" : names.joined(separator: ", ")
        }
        let comfyWidth = max(entries.map { comfy($0).count }.max() ?? 7, 7)
        func pad(_ s: String, _ w: Int) -> String { s.padding(toLength: max(w, s.count), withPad: " ", startingAt: 0) }
        var out = pad("ID", idWidth) + "  " + pad("A1111", a1111Width) + "  " + pad("COMFYUI", comfyWidth) + "  DIFFUSERS CLASS + OVERRIDES\n"
        for e in entries {
            var cls = e.diffusersClass
            let o = overridesText(e.overrides)
            if !o.isEmpty { cls += " (" + o + ")" }
            let l = label(e)
            out += pad(e.id, idWidth) + "  " + pad(l.isEmpty ? "-" : l, a1111Width) + "  " + pad(comfy(e), comfyWidth) + "  " + cls + "\n"
        }
        out += "\n≈ the A1111 sampler uses a different noise process; the diffusers equivalent is approximate.\n"
        out += "Any of the names (ID, A1111 label, ComfyUI sampler with or without its scheduler, e.g. dpmpp_2m_karras, "
            + "or diffusers class) works with `lora-tool schedule --scheduler`.\n"
        try emit(out)
    }

    private func overridesText(_ c: SchedulerConfig) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(c), var text = String(data: data, encoding: .utf8) else { return "" }
        text = String(text.dropFirst().dropLast())   // {"key":value,...} → key=value, ...
        return text.replacingOccurrences(of: "\":", with: "=").replacingOccurrences(of: "\"", with: "")
            .replacingOccurrences(of: ",", with: ", ")
    }
}
