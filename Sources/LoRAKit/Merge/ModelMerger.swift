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
        let target = try MergeTarget.detect(base)
        let plan = try MergePlan(target: target, sources: sources, options: options)
        try OutputGuard.check(output: output, base: base, overwrite: options.overwrite)
        // Tensors are patched on several threads at once, each with single-threaded BLAS
        // (small-rank products parallelise better across tensors than inside one).
        plan.workerThreads = max(1, options.threads ?? ProcessInfo.processInfo.activeProcessorCount)
        let blasThreads = BLAS.threadCount()
        BLAS.setThreadCount(1)
        defer { BLAS.setThreadCount(blasThreads) }

        switch target {
        case .diffusersFolder(let folder):
            try FolderPublisher.publish(from: folder, to: output, overwrite: options.overwrite) { (staging) throws(MergeError) in
                for file in plan.files {
                    try plan.write(file, to: staging.appendingPathComponent(file.relativePath), progress: progress)
                }
            }
        case .componentFile, .checkpoint:
            guard let file = plan.files.first else { throw .unsupportedModel(path: base.path, reason: "no tensors") }
            try plan.write(file, to: output, overwrite: options.overwrite, progress: progress)
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

/// Refuses outputs that exist (without overwrite) or would clobber the base.
enum OutputGuard {
    static func check(output: URL, base: URL, overwrite: Bool) throws(MergeError) {
        let out = output.standardizedFileURL.resolvingSymlinksInPath().path
        let input = base.standardizedFileURL.resolvingSymlinksInPath().path
        if out == input || out.hasPrefix(input + "/") || input.hasPrefix(out + "/") {
            throw .invalidOutput(path: output.path, reason: "the output would overwrite the base model")
        }
        if FileManager.default.fileExists(atPath: out) && !overwrite {
            throw .invalidOutput(path: output.path, reason: "exists (use --force to overwrite)")
        }
    }
}
