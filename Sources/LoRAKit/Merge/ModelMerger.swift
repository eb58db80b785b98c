import Foundation

/// Bakes LoRAs into a model: W' = W + Σ λᵢ·ΔWᵢ (or each family's own rule), streamed
/// tensor by tensor from the mapped base to the output, in Float32, each result cast
/// once to the tensor's dtype (or the requested one).
public enum ModelMerger {
    /// Merges `sources` into the model at `base` and writes the result to `output`
    /// (a folder for a diffusers folder, a file otherwise).
    /// - Returns: what was applied, unused and skipped, per LoRA.
    /// - Throws: ``MergeError``; on failure nothing is left at `output`.
    public static func merge(
        into base: URL,
        sources: [MergeSource],
        output: URL,
        options: MergeOptions = MergeOptions(),
        progress: (@Sendable (MergeProgress) -> Void)? = nil
    ) throws(MergeError) -> MergeReport {
        guard !sources.isEmpty else { throw .noLoRAs }
        for source in sources where source.patches.isEmpty { throw .notALoRA(lora: source.name, reason: LoRAInputCheck.reason(source)) }
        let target = try MergeTarget.detect(base)
        let plan = try MergePlan(target: target, sources: sources, options: options)
        try OutputGuard.check(output: output, target: target, base: base, sources: sources, overwrite: options.overwrite)
        if !options.allowEmpty, !plan.resolvesAnything { throw .nothingApplied(plan.report()) }
        // Tensors are patched on several threads at once, each with single-threaded BLAS
        // (small-rank products parallelise better across tensors than inside one).
        plan.workerThreads = max(1, options.threads ?? ProcessInfo.processInfo.activeProcessorCount)
        // One BLAS thread per product while this merge runs, unless another task of the process
        // (a generation) holds a lease for more: then that count stays (BLASThreads' rule).
        try BLASThreads.withThreads(1) { () throws(MergeError) in
            switch target {
            case .diffusersFolder(let folder):
                try FolderPublisher.publish(from: folder, to: output, overwrite: options.overwrite,
                                            rewritten: Set(plan.files.map(\.relativePath))) { (staging) throws(MergeError) in
                    for file in plan.files {
                        let url = staging.appendingPathComponent(file.relativePath)
                        // Subfolders inside the staging folder only (`unet/`, …); never above the output.
                        do { try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true) } catch {
                            throw .fileSystem(path: url.deletingLastPathComponent().path, reason: "\(error)")
                        }
                        try plan.write(file, to: url, progress: progress)
                    }
                    if options.outputDType != nil {
                        for shards in plan.shardIndexes { try ShardIndex.updateTotalSize(shards.index, shards: shards.shards, in: staging) }
                    }
                    try plan.checkSomethingApplied()
                }
            case .componentFile, .checkpoint:
                guard let file = plan.files.first else { throw .unsupportedModel(path: base.path, reason: "no tensors") }
                try plan.write(file, to: output, overwrite: options.overwrite, progress: progress,
                               beforeCommit: { () throws(MergeError) in try plan.checkSomethingApplied() })
            }
        }
        var report = plan.report()
        report.outputFiles = plan.files.map { target.isFolder ? output.appendingPathComponent($0.relativePath).path : output.path }
        return report
    }
}

extension MergeTarget {
    var isFolder: Bool {
        if case .diffusersFolder = self { return true }
        return false
    }
}

/// Refuses outputs that exist (without overwrite), whose folder does not exist, or that are, contain or sit inside
/// an input (the base model or one of the LoRA files).
enum OutputGuard {
    static func check(output: URL, target: MergeTarget, base: URL, sources: [MergeSource], overwrite: Bool) throws(MergeError) {
        if let reason = OutputPath.conflict(output: output, inputs: [base] + sources.compactMap(\.sourceFile)) {
            throw .invalidOutput(path: output.path, reason: reason)
        }
        // The output's folder must exist, for a folder output as for a file: only the output itself is created.
        let parent = output.deletingLastPathComponent()
        if !OutputPath.isFolder(parent) {
            throw .invalidOutput(path: output.path, reason: OutputPath.missingFolderReason(parent))
        }
        if !target.isFolder, OutputPath.isFolder(output) {
            throw .invalidOutput(path: output.path, reason: "is a folder; the merged model is one file")
        }
        if target.isFolder, FileManager.default.fileExists(atPath: output.path), !OutputPath.isFolder(output) {
            throw .invalidOutput(path: output.path, reason: "is a file; the merged model is a folder like the base")
        }
        if FileManager.default.fileExists(atPath: output.path) && !overwrite {
            throw .safetensors(.outputExists(path: output.path))
        }
    }
}

/// Why an input given as a LoRA holds no LoRA module.
enum LoRAInputCheck {
    static func reason(_ source: MergeSource) -> String {
        let keys = source.unusedKeys
        guard let first = keys.first else { return "it holds no tensors" }
        return "no LoRA module among its \(keys.count) keys (first: \(first.key))"
    }

}
