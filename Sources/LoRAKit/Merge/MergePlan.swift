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
        var fusedThird: Int?
        var isBias: Bool
    }

    let sources: [MergeSource]
    let options: MergeOptions
    /// Threads patching tensors in parallel (each runs single-threaded BLAS).
    var workerThreads = 1
    /// Float32 working copies of the tensors being patched, reused across tensors.
    private let scratch = ScratchPool()
    private(set) var files: [File] = []
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

        files = try Self.modelFiles(target)
        var union = ParameterIndex.Merged()
        for file in files { union.add(file.index, shape: { file.safetensors.info(named: $0.tensorName)?.shape }) }
        (modelBase, modelBaseEvidence) = union.family()

        let modelName = Self.displayName(target)
        for (s, source) in sources.enumerated() {
            if let loraBase = source.baseModel, let modelBase, loraBase != modelBase, !options.allowBaseMismatch {
                throw .baseModelMismatch(lora: source.name, loraBase: loraBase, model: modelName, modelBase: modelBase)
            }
            for patch in source.patches {
                var found = false
                for f in files.indices {
                    let weightKey = ParameterKey(component: patch.target.component, name: patch.target.path + ".weight")
                    guard let location = files[f].index.location(of: weightKey) else { continue }
                    found = true
                    let strength = source.strength(for: patch.target.component)
                    files[f].patches[location.tensorName, default: []].append(
                        Application(sourceIndex: s, patch: patch, strength: strength, fusedThird: location.fusedThird, isBias: false))
                    if patch.patchesBias {
                        let biasKey = ParameterKey(component: patch.target.component, name: patch.target.path + ".bias")
                        if let b = files[f].index.location(of: biasKey) {
                            files[f].patches[b.tensorName, default: []].append(
                                Application(sourceIndex: s, patch: patch, strength: strength, fusedThird: b.fusedThird, isBias: true))
                        } else {
                            unused[s].append(.init(key: patch.target.description + ".bias", reason: "the model layer has no bias"))
                        }
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

    private static func displayName(_ target: MergeTarget) -> String {
        switch target {
        case .diffusersFolder(let u), .componentFile(let u, _), .checkpoint(let u): u.lastPathComponent
        }
    }

    private static func open(_ url: URL) throws(MergeError) -> SafetensorsFile {
        do { return try SafetensorsFile(contentsOf: url) } catch { throw .unreadableModel(path: url.path, error: error) }
    }

    private static func modelFiles(_ target: MergeTarget) throws(MergeError) -> [File] {
        switch target {
        case .checkpoint(let url):
            let st = try open(url)
            return [File(url: url, relativePath: url.lastPathComponent, safetensors: st, index: .checkpoint(st))]
        case .componentFile(let url, let component):
            let st = try open(url)
            return [File(url: url, relativePath: url.lastPathComponent, safetensors: st, index: .diffusersComponent(st, component: component))]
        case .diffusersFolder(let folder):
            var files: [File] = []
            for (component, paths) in MergeTarget.folderComponentFiles {
                for path in paths {
                    let url = folder.appendingPathComponent(path)
                    guard FileManager.default.fileExists(atPath: url.path) else { continue }
                    let st = try open(url)
                    files.append(File(url: url, relativePath: path, safetensors: st, index: .diffusersComponent(st, component: component)))
                }
                let dir = folder.appendingPathComponent(paths[0]).deletingLastPathComponent()
                let sharded = (try? FileManager.default.contentsOfDirectory(atPath: dir.path))?.contains { $0.hasSuffix(".safetensors.index.json") } ?? false
                if sharded && !files.contains(where: { $0.relativePath.hasPrefix(component.rawValue + "/") }) {
                    throw .unsupportedModel(path: dir.path, reason: "sharded component files are not supported yet")
                }
            }
            guard !files.isEmpty else {
                throw .unsupportedModel(path: folder.path, reason: "no unet/, text_encoder/ or text_encoder_2/ safetensors weights")
            }
            return files
        }
    }

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
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
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
    private func apply(_ a: Application, to values: inout [Float], shape: [Int]) throws -> Bool {
        do {
            if let third = a.fusedThird {
                guard let rows = shape.first, rows % 3 == 0 else {
                    throw MergeError.patchFailed(lora: sources[a.sourceIndex].name, module: a.patch.target.description,
                                                 reason: "fused tensor of shape \(shape) does not split in three")
                }
                let subShape = [rows / 3] + shape.dropFirst()
                let n = subShape.reduce(1, *)
                var slice = Array(values[(third * n)..<((third + 1) * n)])
                try applyWhole(a, to: &slice, shape: subShape)
                values.replaceSubrange((third * n)..<((third + 1) * n), with: slice)
            } else {
                try applyWhole(a, to: &values, shape: shape)
            }
            return true
        } catch {
            // LoRA errors start with the module's name; the report names it already.
            let module = a.patch.target.description
            var reason = "\(error)"
            if reason.hasPrefix(module + ": ") { reason.removeFirst(module.count + 2) }
            if options.strict {
                throw MergeError.patchFailed(lora: sources[a.sourceIndex].name, module: module, reason: reason)
            }
            lock.withLock {
                skipped[a.sourceIndex].append(.init(module: module + (a.isBias ? " (bias)" : ""), reason: reason))
                applied[a.sourceIndex].removeAll { $0 == a.patch.target.description }
            }
            return false
        }
    }

    private func applyWhole(_ a: Application, to values: inout [Float], shape: [Int]) throws {
        if a.isBias {
            try a.patch.apply(toBias: &values, shape: shape, strength: a.strength)
        } else {
            try a.patch.apply(toWeight: &values, shape: shape, strength: a.strength)
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

extension ParameterIndex {
    /// Several files' indexes together, for telling the model family.
    struct Merged {
        var entries: [(ParameterIndex, (ParameterLocation) -> [Int]?)] = []
        mutating func add(_ index: ParameterIndex, shape: @escaping (ParameterLocation) -> [Int]?) { entries.append((index, shape)) }
        func family() -> (BaseModel?, String) {
            var fallback: (BaseModel?, String)?
            for (index, shape) in entries {
                let result = ModelFamilyDetection.detect(index: index, shape: shape)
                if result.0 != nil { return result }
                // Keep the first file's reason (the UNet's, which says what it measured).
                if fallback == nil { fallback = result }
            }
            if entries.contains(where: { $0.0.components.contains(.textEncoder2) }) { return (.sdxl, "has a second text encoder") }
            return fallback ?? (nil, "no model files")
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
