import Foundation

/// The tensors of one model part under their canonical (diffusers / transformers) names, whatever
/// the file's naming: a diffusers file, shards, or a section of an LDM/SGM checkpoint. What a model
/// loader reads weights through.
///
/// Tensors stay in the mapped files: a fused OpenCLIP q/k/v third is a row range of the stored tensor
/// and a squeezed 1×1-conv weight only a different shape; only a transposed tensor (OpenCLIP's
/// `text_projection`) is copied, when read.
package struct ComponentTensors: Sendable {
    package let part: ModelPart
    /// Canonical name → (file, location).
    private let entries: [String: (file: Int, location: ParameterLocation)]
    private let files: [SafetensorsFile]
    /// The paths of the files read (one, or the shards).
    package let paths: [String]
    /// The canonical index of the part over all its files: what LoRA patches are resolved against
    /// (``PatchPlacement/resolve(_:in:)``), so fusion finds the parameters the model loaded.
    package let index: ParameterIndex

    init(part: ModelPart, files weightFiles: [WeightFile]) throws(ModelFileError) {
        self.part = part
        var entries: [String: (file: Int, location: ParameterLocation)] = [:]
        var merged = ParameterIndex()
        for (f, file) in weightFiles.enumerated() {
            let index = file.index.restricted(to: part)
            if let duplicate = index.duplicates.first {
                throw .duplicateParameter(path: file.url.path, name: duplicate.name)
            }
            for (key, location) in index.locations {
                if entries.updateValue((f, location), forKey: key.name) != nil {
                    throw .duplicateParameter(path: file.url.path, name: key.name)
                }
                merged.insert(key, location)
            }
        }
        self.entries = entries
        self.files = weightFiles.map(\.safetensors)
        self.paths = weightFiles.map(\.url.path)
        self.index = merged
    }

    /// The tensors of one component stored in `files` (one file or its shards) under diffusers /
    /// transformers names — or, for a VAE, original LDM names (a shared standalone VAE file).
    /// - Throws: ``ModelFileError/duplicateParameter(path:name:)`` when two files hold one parameter.
    package init(part: ModelPart, safetensors: [SafetensorsFile]) throws(ModelFileError) {
        let weightFiles = safetensors.map { file in
            let url = URL(fileURLWithPath: file.path ?? "weights")
            let index: ParameterIndex = part == .vae && ModelKind.sniff(file.names) == .ldmVAE
                ? .ldmVAE(file) : .diffusersComponent(file, component: part)
            return WeightFile(url: url, relativePath: url.lastPathComponent, variant: nil, safetensors: file, index: index)
        }
        try self.init(part: part, files: weightFiles)
    }

    /// The file holding `name` (for messages), or the first file.
    package func path(of name: String) -> String {
        guard let (f, _) = entries[name] else { return paths.first ?? "" }
        return paths[f]
    }

    /// The stored tensor name of the canonical parameter `name` (differs in single-file checkpoints).
    package func storedName(of name: String) -> String? { entries[name]?.location.tensorName }

    /// Drops every page of this part's stored tensors from memory; a later read maps them in again from the
    /// file (from the page cache when it is warm). Generation calls it before the decode, so the weights the
    /// decode does not need are not counted twice with its activations.
    package func releasePages() {
        for (f, location) in entries.values {
            guard let info = files[f].info(named: location.tensorName) else { continue }
            files[f].tensor(info).releasePages()
        }
    }

    /// Every canonical parameter name, sorted.
    package var names: [String] { entries.keys.sorted() }

    /// Whether the part has a parameter `name`.
    package func contains(_ name: String) -> Bool { entries[name] != nil }

    /// The parameter `name` (canonical shape, stored dtype), without reading its data.
    package func tensor(_ name: String) throws(ModelFileError) -> ModelTensor {
        guard let (f, location) = entries[name], let info = files[f].info(named: location.tensorName) else {
            throw .parameterNotFound(part: part, name: name)
        }
        return ModelTensor(name: name, view: files[f].tensor(info), location: location)
    }
}

/// One canonical parameter of a model part, borrowing the mapped file.
package struct ModelTensor: Sendable {
    /// Canonical name.
    package let name: String
    package let view: TensorView
    package let location: ParameterLocation

    /// The canonical shape.
    package var shape: [Int] { location.canonicalShape(stored: view.shape) }
    /// The stored element type.
    package var dtype: DType { view.dtype }
    package var elementCount: Int { shape.reduce(1, *) }

    /// Byte range of this parameter inside the stored tensor's bytes.
    private var byteRange: Range<Int> {
        let total = view.info.byteCount
        guard let third = location.fusedThird else { return 0..<total }
        return (third * total / 3)..<((third + 1) * total / 3)
    }

    /// The parameter's raw little-endian bytes in canonical element order, valid inside `body` only.
    /// Mapped, except for a transposed tensor, whose bytes are rearranged into a temporary buffer.
    package func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let range = byteRange
        guard location.storage == .transposed, view.shape.count == 2 else {
            return try view.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[range])) }
        }
        let (rows, columns, size) = (view.shape[0], view.shape[1], view.dtype.byteSize)
        var out = [UInt8](repeating: 0, count: range.count)
        view.withUnsafeBytes { raw in
            let src = UnsafeRawBufferPointer(rebasing: raw[range])
            out.withUnsafeMutableBytes { dst in
                for r in 0..<rows {
                    for c in 0..<columns {
                        dst.baseAddress!.advanced(by: (c * rows + r) * size)
                            .copyMemory(from: src.baseAddress!.advanced(by: (r * columns + c) * size), byteCount: size)
                    }
                }
            }
        }
        return try out.withUnsafeBytes(body)
    }

    /// The values as `Float`, in canonical shape and order.
    package func floats() -> [Float] {
        withUnsafeBytes { raw in
            [Float](unsafeUninitializedCapacity: elementCount) { out, initialized in
                ElementConversion.decode(raw, dtype: dtype, into: out)
                initialized = elementCount
            }
        }
    }

    /// The parameter as a view of the mapped file under its canonical shape — a whole tensor, a squeezed one,
    /// or the row third of a fused one — or nil when only a copy can give it (a transposed matrix).
    package var mappedView: TensorView? {
        if location.storage == .transposed, view.shape.count == 2 { return nil }
        let range = byteRange
        let lower = view.info.dataOffsets.lowerBound
        let info = TensorInfo(name: view.info.name, dtype: view.dtype, shape: shape,
                              dataOffsets: (lower + range.lowerBound)..<(lower + range.upperBound))
        return TensorView(info: info, storage: view.storage, dataStart: view.dataStart)
    }

    /// Drops the stored tensor's pages from memory (they are read again if touched).
    package func releasePages() { view.releasePages() }
}

extension ModelBundle {
    /// The tensors of `part` in the chosen variant, under canonical names.
    /// - Throws: ``ModelFileError/missingPart(path:part:)`` when the model has no such part,
    ///   ``ModelFileError/duplicateParameter(path:name:)`` when shards overlap.
    package func tensors(_ part: ModelPart) throws(ModelFileError) -> ComponentTensors {
        guard let component = component(part), component.weights != nil else { throw .missingPart(path: url.path, part: part) }
        return try ComponentTensors(part: part, files: chosenFiles(parts: [part]))
    }
}
