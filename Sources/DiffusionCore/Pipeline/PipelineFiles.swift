import Foundation
import LoRAKit

/// Where a diffusers pipeline folder keeps each component's config and weights: `<component>/config.json`
/// and its `*.safetensors` (the plain file preferred; the `fp16` variant when it is the only one).
struct PipelineFiles {
    let folder: URL

    func has(_ component: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: folder.appendingPathComponent(component).path, isDirectory: &isDirectory)
            && isDirectory.boolValue
    }

    func component(_ name: String) throws(PipelineError) -> URL {
        guard has(name) else { throw .missingComponent(name: name, folder: folder.path) }
        return folder.appendingPathComponent(name)
    }

    func describe(_ component: String) -> String { folder.appendingPathComponent(component).path }

    /// The component's `config.json` and its weight files, mapped.
    func weights(_ name: String) throws(PipelineError) -> (Data, [SafetensorsFile]) {
        let dir = try component(name)
        let configURL = dir.appendingPathComponent("config.json")
        guard let config = try? Data(contentsOf: configURL) else { throw .missingComponent(name: "\(name)/config.json", folder: folder.path) }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasSuffix(".safetensors") }
        let plain = names.filter { !$0.contains(".fp16.") }.sorted()
        let chosen = plain.isEmpty ? names.sorted() : plain
        guard !chosen.isEmpty else { throw .missingComponent(name: "\(name) weights (*.safetensors)", folder: folder.path) }
        var files: [SafetensorsFile] = []
        for file in chosen {
            let path = dir.appendingPathComponent(file).path
            do { files.append(try SafetensorsFile(path: path)) } catch { throw .modelFile(.unreadable(path: path, error: error)) }
        }
        return (config, files)
    }

    /// A boolean of `model_index.json`, if the file has it.
    func modelIndexFlag(_ key: String) -> Bool? {
        guard let data = try? Data(contentsOf: folder.appendingPathComponent("model_index.json")),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        return object[key] as? Bool
    }
}
