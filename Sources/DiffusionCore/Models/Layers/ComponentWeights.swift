import LoRAKit

/// The diffusers-named weights of one model component, handed out layer by layer with their shapes checked,
/// and a record of which were taken so that tensors the graph never used are reported.
///
/// Weights stay mapped from their files: matrices become ``WeightMatrix`` values over the mapping (half
/// precision kept half-size unless ``WeightLoading/widenAtLoad``), vectors (biases, norm parameters) are
/// widened to small float32 tensors.
final class ComponentWeights {
    /// The file (or folder) named in errors.
    let file: String
    let loading: WeightLoading
    private let views: [String: TensorView]
    /// Float32 replacements of some tensors (LoRA-fused weights); the rest stay mapped.
    private let overrides: [String: [Float]]
    private var taken: Set<String> = []

    init(views: [String: TensorView], file: String, loading: WeightLoading = .keepHalfPrecision,
         overrides: [String: [Float]] = [:]) {
        self.views = views
        self.file = file
        self.loading = loading
        self.overrides = overrides
    }

    /// Opens every `*.safetensors` tensor of the given files as one name space.
    convenience init(files: [SafetensorsFile], description: String, loading: WeightLoading = .keepHalfPrecision,
                     overrides: [String: [Float]] = [:]) {
        var views: [String: TensorView] = [:]
        for file in files {
            for info in file.tensors { views[info.name] = file.tensor(info) }
        }
        self.init(views: views, file: description, loading: loading, overrides: overrides)
    }

    func contains(_ name: String) -> Bool { views[name] != nil }

    private func view(_ name: String, shape: [Int]) throws(ModelError) -> TensorView {
        guard let view = views[name] else { throw .missingWeight(name: name, file: file) }
        guard view.shape == shape else {
            throw .weightShapeMismatch(name: name, file: file, expected: shape, found: view.shape)
        }
        taken.insert(name)
        return view
    }

    /// A weight matrix of exactly `shape` (`[out, in]` or `[out, in, kh, kw]`).
    func matrix(_ name: String, shape: [Int]) throws(ModelError) -> WeightMatrix {
        let view = try view(name, shape: shape)
        do {
            if let values = overrides[name] { return try WeightMatrix(try Tensor(shape: shape, scalars: values)) }
            return try WeightMatrix(view, loading: loading)
        } catch {
            throw .invalidWeight(name: name, file: file, underlying: error)
        }
    }

    /// A 1×1 convolution weight `[out, in, 1, 1]` or a linear weight `[out, in]`, whichever the file holds
    /// (diffusers' `proj_in`/`proj_out` and VAE attention weights exist in both forms), as a `[out, in]` matrix.
    func pointwise(_ name: String, out: Int, in inputs: Int) throws(ModelError) -> WeightMatrix {
        let shape = views[name]?.shape.count == 4 ? [out, inputs, 1, 1] : [out, inputs]
        return try matrix(name, shape: shape)
    }

    /// A float32 vector of `count` elements (bias, norm scale or shift).
    func vector(_ name: String, count: Int) throws(ModelError) -> Tensor {
        let view = try view(name, shape: [count])
        guard [.f32, .f16, .bf16].contains(view.dtype) else {
            throw .invalidWeight(name: name, file: file, underlying: .unsupportedWeightType(name: name, dtype: view.dtype.rawValue))
        }
        do { return try Tensor(shape: [count], scalars: overrides[name] ?? view.floats()) } catch {
            throw .invalidWeight(name: name, file: file, underlying: error)
        }
    }

    /// ``vector(_:count:)`` when the file has it, else nil.
    func optionalVector(_ name: String, count: Int) throws(ModelError) -> Tensor? {
        contains(name) ? try vector(name, count: count) : nil
    }

    /// Throws when tensors are left that no layer took (a sign of a config that does not fit the file).
    func requireAllTaken(ignoring ignored: (String) -> Bool = { _ in false }) throws(ModelError) {
        let left = views.keys.filter { !taken.contains($0) && !ignored($0) }.sorted()
        if !left.isEmpty { throw .unexpectedWeights(names: left, file: file) }
    }
}
