import LoRAKit

/// The diffusers-named weights of one model component, handed out layer by layer with their shapes checked,
/// and a record of which were taken so that tensors the graph never used are reported.
///
/// The weights come from LoRAKit's model layer (``ComponentTensors``), whatever the file's naming: a diffusers
/// file, shards, or a section of a single-file LDM/SGM checkpoint. They stay mapped: matrices become
/// ``WeightMatrix`` values over the mapping (half precision kept half-size unless ``WeightLoading/widenAtLoad``;
/// a fused q/k/v third or a squeezed 1×1 convolution is a view of the stored tensor), vectors (biases, norm
/// parameters) are widened to small float32 tensors. Only a transposed matrix is copied.
final class ComponentWeights {
    /// The file (or folder) named in errors.
    let file: String
    let loading: WeightLoading
    private let tensors: ComponentTensors
    /// Replacements of some parameters, by canonical name, in canonical shape (LoRA-fused weights, half precision
    /// where the file stores half precision); the rest stay mapped.
    private let overrides: [String: FusedValues]
    /// LoRAs applied at run time beside a weight, by canonical weight name.
    private let adapters: [String: [LowRankAdapter]]
    private var taken: Set<String> = []

    init(tensors: ComponentTensors, description: String, loading: WeightLoading = .keepHalfPrecision,
         overrides: [String: FusedValues] = [:], adapters: [String: [LowRankAdapter]] = [:]) {
        self.tensors = tensors
        self.file = description
        self.loading = loading
        self.overrides = overrides
        self.adapters = adapters
    }

    /// Opens every `*.safetensors` tensor of the given files (one component's file or shards) as one name space.
    convenience init(files: [SafetensorsFile], part: ModelPart, description: String,
                     loading: WeightLoading = .keepHalfPrecision, overrides: [String: FusedValues] = [:]) throws(ModelError) {
        let tensors: ComponentTensors
        do { tensors = try ComponentTensors(part: part, safetensors: files) } catch { throw .modelFile(error) }
        self.init(tensors: tensors, description: description, loading: loading, overrides: overrides)
    }

    func contains(_ name: String) -> Bool { tensors.contains(name) }

    /// The run-time LoRAs of the weight `name` (none for most).
    func adapters(for name: String) -> [LowRankAdapter] { adapters[name] ?? [] }

    /// The file a parameter is read from, as errors name it: the description, and the stored tensor name when
    /// the file spells it differently (a single-file checkpoint).
    private func origin(_ name: String) -> String {
        guard let stored = tensors.storedName(of: name), stored != name else { return file }
        return "\(file) (\(stored))"
    }

    private func tensor(_ name: String, shape: [Int]) throws(ModelError) -> ModelTensor {
        guard let t = try? tensors.tensor(name) else { throw .missingWeight(name: name, file: file) }
        guard t.shape == shape else {
            throw .weightShapeMismatch(name: name, file: origin(name), expected: shape, found: t.shape)
        }
        taken.insert(name)
        return t
    }

    /// A weight matrix of exactly `shape` (`[out, in]` or `[out, in, kh, kw]`).
    func matrix(_ name: String, shape: [Int]) throws(ModelError) -> WeightMatrix {
        let t = try tensor(name, shape: shape)
        do throws(TensorError) {
            if let values = overrides[name] {
                guard values.shape == shape else { throw .shapeMismatch(operation: "fused weight \(name)", expected: "\(shape)", actual: values.shape) }
                return try values.matrix()
            }
            if let view = t.mappedView { return try WeightMatrix(view, loading: loading) }
            guard t.dtype.isFloatingPoint else { throw .unsupportedWeightType(name: name, dtype: t.dtype.rawValue) }
            return try WeightMatrix(try Tensor(shape: shape, scalars: t.floats()))
        } catch {
            throw .invalidWeight(name: name, file: origin(name), underlying: error)
        }
    }

    /// A 1×1 convolution weight `[out, in, 1, 1]` or a linear weight `[out, in]`, whichever the file holds
    /// (diffusers' `proj_in`/`proj_out` and VAE attention weights exist in both forms), as a `[out, in]` matrix.
    func pointwise(_ name: String, out: Int, in inputs: Int) throws(ModelError) -> WeightMatrix {
        let shape = (try? tensors.tensor(name))?.shape.count == 4 ? [out, inputs, 1, 1] : [out, inputs]
        return try matrix(name, shape: shape)
    }

    /// A float32 vector of `count` elements (bias, norm scale or shift).
    func vector(_ name: String, count: Int) throws(ModelError) -> Tensor {
        let t = try tensor(name, shape: [count])
        guard [.f32, .f16, .bf16].contains(t.dtype) else {
            throw .invalidWeight(name: name, file: origin(name), underlying: .unsupportedWeightType(name: name, dtype: t.dtype.rawValue))
        }
        do { return try Tensor(shape: [count], scalars: overrides[name]?.floats() ?? t.floats()) } catch {
            throw .invalidWeight(name: name, file: origin(name), underlying: error)
        }
    }

    /// ``vector(_:count:)`` when the file has it, else nil.
    func optionalVector(_ name: String, count: Int) throws(ModelError) -> Tensor? {
        contains(name) ? try vector(name, count: count) : nil
    }

    /// Throws when tensors are left that no layer took (a sign of a config that does not fit the file).
    func requireAllTaken(ignoring ignored: (String) -> Bool = { _ in false }) throws(ModelError) {
        let left = tensors.names.filter { !taken.contains($0) && !ignored($0) }
        if !left.isEmpty { throw .unexpectedWeights(names: left, file: file) }
    }
}
