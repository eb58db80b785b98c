import Foundation

/// Writing a rank tool's result: atomically, with kohya's `sshs_model_hash` /
/// `sshs_legacy_hash` computed the way `precalculate_safetensors_hashes` does (the
/// file serialised with only its `ss_*` metadata), then stored in the final header.
enum RankToolsOutput {
    /// Writes `writer` to `url`, adding the two hashes to its metadata.
    /// - Parameters:
    ///   - protecting: input files that must never be overwritten.
    /// - Throws: ``RankToolsError``; nothing is left at `url` on failure.
    static func writeWithHashes(_ writer: SafetensorsWriter, to url: URL, overwrite: Bool, protecting: [URL]) throws(RankToolsError) {
        try checkOutput(url, overwrite: overwrite, protecting: protecting)
        let scratch = FileManager.default.temporaryDirectory
            .appendingPathComponent("lorakit-hash-\(UUID().uuidString).safetensors")
        let pending = PendingOutputs.register(scratch.path)
        defer {
            try? FileManager.default.removeItem(at: scratch)
            PendingOutputs.unregister(pending)
        }
        var first = writer
        first.metadata = (writer.metadata ?? [:]).filter { $0.key.hasPrefix("ss_") }
        try write(first, to: scratch, overwrite: true, protecting: [])
        let staged: SafetensorsFile
        do { staged = try SafetensorsFile(contentsOf: scratch) } catch { throw .safetensors(error) }
        let hashes = staged.computeHashes()
        var final = SafetensorsWriter(metadata: writer.metadata ?? [:])
        final.metadata?["sshs_model_hash"] = hashes.sshsModelHash
        final.metadata?["sshs_legacy_hash"] = hashes.legacyHash
        for info in staged.tensors { final.add(staged.tensor(info)) }
        try write(final, to: url, overwrite: overwrite, protecting: protecting)
    }

    /// Writes without adding hashes.
    static func write(_ writer: SafetensorsWriter, to url: URL, overwrite: Bool, protecting: [URL]) throws(RankToolsError) {
        do {
            try writer.write(to: url, overwrite: overwrite, protecting: protecting)
        } catch let error as SafetensorsError {
            throw .safetensors(error)
        } catch let error as RankToolsError {
            throw error
        } catch {
            throw .fileSystem(path: url.path, reason: "\(error)")
        }
    }

    /// Refuses an output that is, contains or sits inside one of the inputs, a folder, or exists without `overwrite`.
    static func checkOutput(_ url: URL, overwrite: Bool, protecting: [URL]) throws(RankToolsError) {
        if let reason = OutputPath.conflict(output: url, inputs: protecting) {
            throw .invalidOutput(path: url.path, reason: reason)
        }
        if OutputPath.isFolder(url) {
            throw .invalidOutput(path: url.path, reason: "is a folder; the output is one .safetensors file")
        }
        if FileManager.default.fileExists(atPath: url.path), !overwrite {
            throw .safetensors(.outputExists(path: url.path))
        }
    }

    /// The input file's URL, when the LoRA was opened from a path.
    static func url(of lora: LoRAFile) -> URL? { lora.file.path.map(URL.init(fileURLWithPath:)) }
}
