import CDiffusionKernels
import LoRAKit

/// How half-precision (F16/BF16) weights are held in memory.
public enum WeightLoading: Sendable, Equatable {
    /// Keep them at half size (as mapped from the file) and widen each layer to float32 into reused scratch
    /// when it runs: half the memory, plus one widening pass over the layer per call.
    case keepHalfPrecision
    /// Widen once when the weight is loaded: twice the memory, no per-call cost.
    case widenAtLoad
}

/// A weight matrix for GEMM-based layers: a linear weight `[out, in]` or a convolution weight
/// `[out, in, kh, kw]` seen as `[out, in·kh·kw]`.
///
/// Float32 weights are used where they are (a safetensors mapping or a ``Tensor``); F16 and BF16 weights stay
/// half-size and are widened per call into scratch from the caller's ``Workspace``, or widened once at load
/// (``WeightLoading``). Computation is always float32.
public struct WeightMatrix: Sendable {
    /// The element type held in memory.
    public enum Element: String, Sendable, Equatable {
        case float32 = "F32", float16 = "F16", bfloat16 = "BF16"
    }

    enum Backing: Sendable {
        case tensor(Tensor)
        case mapped(TensorView)
        /// Owned half-precision elements (a LoRA-fused weight of a half-precision model).
        case half(HalfBuffer)
    }

    /// The weight's shape as stored (`[out, in]` or `[out, in, kh, kw]`).
    public let shape: [Int]
    /// The element type held in memory.
    public let element: Element
    let backing: Backing

    /// The number of rows (output features or channels).
    public var rows: Int { shape[0] }
    /// The number of columns (input features, or `in·kh·kw` for a convolution).
    public var columns: Int { shape.dropFirst().reduce(1, *) }

    /// A float32 weight from a tensor of rank ≥ 2.
    /// - Throws: ``TensorError/shapeMismatch(operation:expected:actual:)`` for rank < 2,
    ///   ``TensorError/emptyTensor(operation:shape:)`` for a zero-sized weight.
    public init(_ tensor: Tensor) throws(TensorError) {
        try WeightMatrix.validate(tensor.shape, name: "weight")
        shape = tensor.shape
        element = .float32
        backing = .tensor(tensor.contiguous())
    }

    /// A weight from a safetensors tensor (F32, F16 or BF16).
    /// - Throws: ``TensorError/unsupportedWeightType(name:dtype:)`` for other element types, and the shape errors
    ///   of ``init(_:)-(Tensor)``.
    public init(_ view: TensorView, loading: WeightLoading = .keepHalfPrecision) throws(TensorError) {
        try WeightMatrix.validate(view.shape, name: view.name)
        shape = view.shape
        switch view.dtype {
        case .f32:
            element = .float32
            let aligned = view.withUnsafeBytes { Int(bitPattern: $0.baseAddress) % MemoryLayout<Float>.alignment == 0 }
            backing = aligned ? .mapped(view) : .tensor(WeightMatrix.decode(view))
        case .f16, .bf16:
            if loading == .widenAtLoad {
                element = .float32
                backing = .tensor(WeightMatrix.decode(view))
            } else {
                element = view.dtype == .f16 ? .float16 : .bfloat16
                backing = .mapped(view)
            }
        default:
            throw .unsupportedWeightType(name: view.name, dtype: view.dtype.rawValue)
        }
    }

    /// A half-precision weight over owned elements (LoRA-fused weights of a half-precision model): it costs what
    /// the mapped weight did and runs through the same widening path.
    /// - Throws: the shape errors of ``init(_:)-(Tensor)``; ``TensorError/elementCountMismatch(shape:count:)`` when
    ///   the buffer does not hold `shape`'s elements.
    init(half buffer: HalfBuffer, shape: [Int]) throws(TensorError) {
        try WeightMatrix.validate(shape, name: "weight")
        guard try Tensor.elementCount(of: shape) == buffer.count else { throw .elementCountMismatch(shape: shape, count: buffer.count) }
        self.shape = shape
        element = buffer.element
        backing = .half(buffer)
    }

    /// The bytes the weight occupies in memory.
    public var byteCount: Int { rows * columns * (element == .float32 ? 4 : 2) }

    /// Calls `body` with the weight as row-major float32 `[rows, columns]`: the stored elements when they are
    /// float32, otherwise a widened copy in scratch taken from `workspace` (returned to it afterwards).
    package func withFloat32<R, E: Error>(
        workspace: Workspace?, _ body: (UnsafePointer<Float>) throws(E) -> R
    ) throws(E) -> R {
        switch backing {
        case let .tensor(t):
            return try withExtendedLifetime(t) { () throws(E) -> R in try body(t.storage.base + t.offset) }
        case let .mapped(view):
            let n = rows * columns
            if element == .float32 {
                return try WeightMatrix.withBytes(view) { (raw) throws(E) -> R in
                    try body(raw.baseAddress!.assumingMemoryBound(to: Float.self))
                }
            }
            let scratch = Scratch(count: n, workspace: workspace)
            defer { scratch.release() }
            LayerTiming.measure("widen f16 weights") {
              WeightMatrix.withBytes(view) { raw in
                WeightMatrix.widen(raw.baseAddress!.assumingMemoryBound(to: UInt16.self), element: element,
                                   into: scratch.pointer, count: n)
              }
            }
            return try body(scratch.pointer)
        case let .half(buffer):
            let n = rows * columns
            let scratch = Scratch(count: n, workspace: workspace)
            defer { scratch.release() }
            LayerTiming.measure("widen f16 weights") {
                withExtendedLifetime(buffer) { WeightMatrix.widen(buffer.base, element: element, into: scratch.pointer, count: n) }
            }
            return try body(scratch.pointer)
        }
    }

    /// Calls `body` with the bytes of the stored half-precision elements (F16 / BF16 bit patterns, row-major
    /// `[rows, columns]`, `2 · rows · columns` bytes); nil, without calling it, for a float32 weight.
    package func withHalfBytes<R>(_ body: (UnsafeRawPointer) -> R) -> R? {
        guard element != .float32 else { return nil }
        switch backing {
        case .tensor: return nil
        case let .mapped(view):
            return view.withUnsafeBytes { raw in body(raw.baseAddress!) }
        case let .half(buffer):
            return withExtendedLifetime(buffer) { body(UnsafeRawPointer(buffer.base)) }
        }
    }

    /// `TensorView.withUnsafeBytes` with a typed-throws body.
    private static func withBytes<R, E: Error>(
        _ view: TensorView, _ body: (UnsafeRawBufferPointer) throws(E) -> R
    ) throws(E) -> R {
        let result: Result<R, E> = view.withUnsafeBytes { raw in
            do throws(E) { return .success(try body(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Widens half-precision elements to float32, split over the cores.
    static func widen(_ src: UnsafePointer<UInt16>, element: Element, into dst: UnsafeMutablePointer<Float>, count: Int) {
        Parallel.forEach(count, grain: 1 << 16) { r in
            if element == .bfloat16 {
                dk_bf16_to_f32(src + r.lowerBound, dst + r.lowerBound, r.count)
            } else {
                dk_f16_to_f32(src + r.lowerBound, dst + r.lowerBound, r.count)
            }
        }
    }

    /// The view's elements as a float32 tensor (exact for F16/BF16).
    static func decode(_ view: TensorView) -> Tensor {
        var t = Tensor(uninitializedValidShape: view.shape)
        t.withUnsafeMutableBufferPointer { view.decode(into: $0) }
        return t
    }

    static func validate(_ shape: [Int], name: String) throws(TensorError) {
        guard shape.count >= 2 else {
            throw .shapeMismatch(operation: "weight \(name)", expected: "rank 2 or more ([out, in] or [out, in, kh, kw])", actual: shape)
        }
        let n = try Tensor.elementCount(of: shape)
        guard n > 0 else { throw .emptyTensor(operation: "weight \(name)", shape: shape) }
    }
}
