import Foundation

/// Which patches land on which tensor of which file, resolved before any byte is written.
final class MergePlan: @unchecked Sendable {
    /// One model file to rewrite.
    struct File {
        var url: URL
        var relativePath: String
        var safetensors: SafetensorsFile
        var index: ParameterIndex
        /// Patches per tensor name, in application order.
        var patches: [String: [Application]] = [:]
    }

    struct Application {
        var sourceIndex: Int
        var patch: any WeightPatch
        var strength: Float
        var location: ParameterLocation
        var isBias: Bool
    }

    let sources: [MergeSource]
    let options: MergeOptions
    /// Threads patching tensors in parallel (each runs single-threaded BLAS).
    var workerThreads = 1
    /// Float32 working copies of the tensors being patched, reused across tensors.
    private let scratch = ScratchPool()
    private(set) var files: [File] = []
    /// Shard indexes of the rewritten weights (relative path → the shards' relative paths).
    private(set) var shardIndexes: [(index: String, shards: [String])] = []
    private let modelBase: BaseModel?
    private let modelBaseEvidence: String
    // Results, filled while writing (producers run on the writer's thread, one at a time).
    private let lock = NSLock()
    private var applied: [[String]]
    private var unused: [[MergeReport.UnusedKey]]
    private var skipped: [[MergeReport.SkippedModule]]
    private var tensorsWritten = 0
    private var tensorsPatched = 0

    init(target: MergeTarget, sources: [MergeSource], options: MergeOptions) throws(MergeError) {
        self.sources = sources
        self.options = options
        applied = Array(repeating: [], count: sources.count)
        unused = sources.map(\.unusedKeys)
        skipped = Array(repeating: [], count: sources.count)

        let model = try target.open()
        files = model.allFiles(parts: Self.patchedParts).map {
            File(url: $0.url, relativePath: $0.relativePath, safetensors: $0.safetensors, index: $0.index)
        }
        guard !files.isEmpty else {
            throw .unsupportedModel(path: target.url.path, reason: "no unet/, text_encoder/ or text_encoder_2/ safetensors weights")
        }
        (modelBase, modelBaseEvidence) = model.family
        for component in model.components where Self.patchedParts.contains(component.part) {
            guard let folder = component.folder?.lastPathComponent else { continue }
            for set in component.allWeights {
                guard let index = set.shardIndex else { continue }
                shardIndexes.append((folder + "/" + index.lastPathComponent, set.files.map { folder + "/" + $0.lastPathComponent }))
            }
        }

        let modelName = target.url.lastPathComponent
        for (s, source) in sources.enumerated() {
            if let loraBase = source.baseModel, let modelBase, loraBase != modelBase, !options.allowBaseMismatch {
                throw .baseModelMismatch(lora: source.name, loraBase: loraBase, model: modelName, modelBase: modelBase)
            }
            for patch in source.patches {
                var found = false
                let strength = source.strength(for: patch.target.component)
                // Every file holding the layer: the plain weights and each variant.
                for f in files.indices {
                    guard let placement = PatchPlacement.resolve(patch, in: files[f].index) else { continue }
                    found = true
                    files[f].patches[placement.weight.tensorName, default: []].append(
                        Application(sourceIndex: s, patch: patch, strength: strength, location: placement.weight, isBias: false))
                    if let bias = placement.bias {
                        files[f].patches[bias.tensorName, default: []].append(
                            Application(sourceIndex: s, patch: patch, strength: strength, location: bias, isBias: true))
                    } else if placement.biasMissing {
                        unused[s].append(.init(key: patch.target.description + ".bias", reason: "the model layer has no bias"))
                    }
                }
                if found {
                    applied[s].append(patch.target.description)
                } else {
                    let reason = "the model has no layer \(patch.target.description)"
                    unused[s] += patch.sourceKeys.map { MergeReport.UnusedKey(key: $0, reason: reason) }
                }
            }
            if options.strict, let first = unused[s].first {
                throw .unusedKeys(lora: source.name, count: unused[s].count, first: "\(first.key) (\(first.reason))")
            }
        }
    }

    /// The parts LoRAs patch; the VAE, tokenizers and scheduler are copied unchanged.
    static let patchedParts: Set<ModelPart> = [.unet, .textEncoder, .textEncoder2]

    /// Writes one rewritten model file.
    /// - Parameter beforeCommit: runs when the file is complete, before it is renamed into place.
    func write(_ file: File, to url: URL, overwrite: Bool = false, progress: (@Sendable (MergeProgress) -> Void)?,
               beforeCommit: (() throws(MergeError) -> Void)? = nil) throws(MergeError) {
        var writer = SafetensorsWriter(metadata: file.safetensors.metadata)
        writer.producerThreads = workerThreads
        for info in file.safetensors.tensors {
            let view = file.safetensors.tensor(info)
            let outDType = info.dtype.isFloatingPoint ? (options.outputDType ?? info.dtype) : info.dtype
            if let applications = file.patches[info.name], info.dtype.isFloatingPoint {
                writer.add(.init(name: info.name, dtype: outDType, shape: info.shape, source: .producer { [self] out in
                    try scratch.withValues(count: info.elementCount) { values in
                        values.withUnsafeMutableBufferPointer { view.decode(into: $0) }
                        view.releasePages()
                        var patched = false
                        for application in applications where try self.apply(application, to: &values, shape: info.shape) {
                            patched = true
                        }
                        if patched { self.lock.withLock { self.tensorsPatched += 1 } }
                        values.withUnsafeBufferPointer { ElementConversion.encode($0, as: outDType, into: out) }
                    }
                }))
                tensorsWritten += 1
            } else if outDType != info.dtype {
                writer.add(.init(name: info.name, dtype: outDType, shape: info.shape, source: .producer { out in
                    let values = view.floats()
                    view.releasePages()
                    values.withUnsafeBufferPointer { ElementConversion.encode($0, as: outDType, into: out) }
                }))
                tensorsWritten += 1
            } else {
                writer.add(view)
                tensorsWritten += 1
            }
        }
        let name = file.relativePath
        do {
            try writer.write(to: url, overwrite: overwrite, protecting: [file.url], progress: { done, total in
                progress?(MergeProgress(file: name, tensorsDone: done, tensorCount: total))
            }, beforeCommit: beforeCommit.map { check in { () throws in try check() } })
        } catch let error as SafetensorsError {
            throw .safetensors(error)
        } catch let error as MergeError {
            throw error
        } catch {
            throw .fileSystem(path: url.path, reason: "\(error)")
        }
    }

    /// Whether any patch is resolved to a tensor (checked before writing).
    var resolvesAnything: Bool { files.contains { !$0.patches.isEmpty } }

    /// Refuses a merge in which no patch landed (unless ``MergeOptions/allowEmpty``).
    func checkSomethingApplied() throws(MergeError) {
        guard !options.allowEmpty else { return }
        if lock.withLock({ tensorsPatched }) == 0 { throw .nothingApplied(report()) }
    }

    /// Applies one patch and returns true; a patch that does not fit is skipped and reported (false),
    /// or, in strict mode, fails the write (so nothing reaches the output path).
    private func apply(_ a: Application, to values: inout [Float], shape: [Int]) throws(MergeError) -> Bool {
        let module = a.patch.target.description
        do throws(LoRAError) {
            try PatchPlacement.apply(a.patch, isBias: a.isBias, strength: a.strength, at: a.location, to: &values, storedShape: shape)
            return true
        } catch {
            let failure = MergeError.patchFailed(lora: sources[a.sourceIndex].name, module: module, underlying: error)
            if options.strict { throw failure }
            lock.withLock {
                // The report names the module already.
                skipped[a.sourceIndex].append(.init(module: module + (a.isBias ? " (bias)" : ""), reason: failure.patchReason ?? error.description))
                applied[a.sourceIndex].removeAll { $0 == a.patch.target.description }
            }
            return false
        }
    }

    func report() -> MergeReport {
        lock.withLock {
            MergeReport(
                modelBase: modelBase, modelBaseEvidence: modelBaseEvidence,
                loras: sources.enumerated().map { s, source in
                    MergeReport.LoRAResult(name: source.name, strength: source.strength, unetStrength: source.unetStrength,
                                           textEncoderStrength: source.textEncoderStrength,
                                           applied: Array(Set(applied[s])).sorted(), unusedKeys: unused[s], skipped: skipped[s])
                },
                tensorsWritten: tensorsWritten, tensorsPatched: tensorsPatched, outputDType: options.outputDType?.rawValue)
        }
    }
}

/// Reusable Float32 buffers, one per producer running at a time, so large tensors
/// do not fault in fresh pages for every tensor.
final class ScratchPool: @unchecked Sendable {
    private let lock = NSLock()
    private var free: [[Float]] = []

    /// Calls `body` with an array of exactly `count` elements (contents unspecified).
    func withValues<R>(count: Int, _ body: (inout [Float]) throws -> R) rethrows -> R {
        var values = lock.withLock { free.popLast() } ?? []
        defer { lock.withLock { free.append(values) } }
        if values.count > count {
            values.removeLast(values.count - count)
        } else if values.count < count {
            values.append(contentsOf: repeatElement(0, count: count - values.count))
        }
        return try body(&values)
    }
}
