/// A tensor of `Float` values with value semantics: 64-byte-aligned storage shared copy-on-write, and views.
///
/// Memory layout is row-major (C order). Images and latents are `NCHW`; token sequences are
/// `[tokens, channels]` or `[batch, tokens, channels]`; linear weights are `[out, in]`; conv weights are
/// `[out, in, kh, kw]`. A shape of `[]` is a scalar holding one element.
///
/// Reshaping, slicing and chunking along an axis (``reshaped(_:)``, ``slice(axis:_:)``,
/// ``chunked(_:axis:)``) return views that share the storage; nothing is copied until a view or its source is
/// written, and then only the writer copies (copy-on-write). The element count of a tensor never changes
/// after creation: elements are read with ``scalars`` or ``withUnsafeBufferPointer(_:)`` and written with
/// ``withUnsafeMutableBufferPointer(_:)`` or the operations' in-place and `into:` forms.
public struct Tensor: Sendable {
    var storage: TensorStorage
    /// Element offset of the first element in `storage`.
    var offset: Int
    /// The extent of each dimension.
    public internal(set) var shape: [Int]
    /// The distance in elements between neighbours along each dimension.
    public internal(set) var strides: [Int]

    init(storage: TensorStorage, offset: Int, shape: [Int], strides: [Int]) {
        self.storage = storage
        self.offset = offset
        self.shape = shape
        self.strides = strides
    }

    /// A contiguous tensor over fresh, uninitialised storage; `shape` must already be validated.
    init(uninitializedValidShape shape: [Int]) {
        let n = shape.reduce(1, *)
        self.init(storage: TensorStorage(capacity: n), offset: 0, shape: shape, strides: Tensor.contiguousStrides(shape))
    }

    /// Creates a tensor from its shape and elements in row-major order.
    /// - Throws: ``TensorError/negativeDimension(shape:)``, ``TensorError/shapeOverflow(shape:)`` or
    ///   ``TensorError/elementCountMismatch(shape:count:)``.
    public init(shape: [Int], scalars: [Float]) throws(TensorError) {
        let n = try Tensor.elementCount(of: shape)
        guard n == scalars.count else { throw .elementCountMismatch(shape: shape, count: scalars.count) }
        self.init(uninitializedValidShape: shape)
        scalars.withUnsafeBufferPointer { src in
            if n > 0 { storage.base.update(from: src.baseAddress!, count: n) }
        }
    }

    /// A tensor of the given shape filled with `value`.
    /// - Throws: ``TensorError/negativeDimension(shape:)`` or ``TensorError/shapeOverflow(shape:)``.
    public init(shape: [Int], repeating value: Float = 0) throws(TensorError) {
        let n = try Tensor.elementCount(of: shape)
        self.init(uninitializedValidShape: shape)
        storage.base.initialize(repeating: value, count: n)
    }

    /// A tensor whose elements `body` writes; every one of the `count` elements must be written.
    /// - Throws: the shape errors of ``init(shape:scalars:)``.
    public init(shape: [Int], initializingWith body: (UnsafeMutableBufferPointer<Float>) -> Void) throws(TensorError) {
        let n = try Tensor.elementCount(of: shape)
        self.init(uninitializedValidShape: shape)
        body(UnsafeMutableBufferPointer(start: storage.base, count: n))
    }

    /// The number of elements.
    public var count: Int { shape.reduce(1, *) }

    /// The number of dimensions.
    public var rank: Int { shape.count }

    /// Whether the elements lie in row-major order without gaps (views from slicing inner axes do not).
    public var isContiguous: Bool {
        var expected = 1
        for axis in stride(from: shape.count - 1, through: 0, by: -1) where shape[axis] != 1 {
            if strides[axis] != expected { return false }
            expected *= shape[axis]
        }
        return true
    }

    /// A copy of the elements in row-major order.
    public var scalars: [Float] {
        withUnsafeBufferPointer { Array($0) }
    }

    /// The elements in row-major order, valid inside `body` only. A non-contiguous view is first copied.
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        if isContiguous {
            return try body(UnsafeBufferPointer(start: storage.base + offset, count: count))
        }
        let copy = contiguous()
        return try body(UnsafeBufferPointer(start: copy.storage.base, count: copy.count))
    }

    /// The elements in row-major order for writing, valid inside `body` only. The tensor first becomes the
    /// sole, contiguous owner of its storage (copying if it shared it), so no other tensor sees the writes.
    /// The buffer's count is fixed: the shape cannot be broken through it.
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        makeUniqueAndContiguous()
        return try body(UnsafeMutableBufferPointer(start: storage.base + offset, count: count))
    }

    /// Copies the elements into fresh contiguous storage unless this tensor already owns contiguous storage.
    mutating func makeUniqueAndContiguous() {
        if isKnownUniquelyReferenced(&storage) && isContiguous { return }
        self = contiguousCopy()
    }

    /// This tensor if it is contiguous, otherwise a contiguous copy.
    public func contiguous() -> Tensor {
        isContiguous ? self : contiguousCopy()
    }

    /// A contiguous copy in fresh storage.
    func contiguousCopy() -> Tensor {
        var out = Tensor(uninitializedValidShape: shape)
        copyElements(to: out.storage.base)
        out.offset = 0
        return out
    }

    /// Writes the elements in row-major order to `dst` (which holds `count` elements).
    func copyElements(to dst: UnsafeMutablePointer<Float>) {
        let n = count
        guard n > 0 else { return }
        if isContiguous {
            dst.update(from: storage.base + offset, count: n)
            return
        }
        // Merge the innermost contiguous run, then walk the outer indices.
        var inner = 1, axis = shape.count - 1
        while axis >= 0 && (shape[axis] == 1 || strides[axis] == inner) { inner *= shape[axis]; axis -= 1 }
        let outerShape = Array(shape[0...axis]), outerStrides = Array(strides[0...axis])
        var index = [Int](repeating: 0, count: outerShape.count)
        var src = offset, written = 0
        while written < n {
            (dst + written).update(from: storage.base + src, count: inner)
            written += inner
            var a = outerShape.count - 1
            while a >= 0 {
                index[a] += 1
                src += outerStrides[a]
                if index[a] < outerShape[a] { break }
                src -= outerStrides[a] * outerShape[a]
                index[a] = 0
                a -= 1
            }
        }
    }

    /// Row-major strides of a contiguous tensor of `shape`.
    static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var s = 1
        for axis in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[axis] = s
            s *= shape[axis]
        }
        return strides
    }

    /// The element count of `shape`, checked for negative dimensions and overflow (of the byte size too).
    static func elementCount(of shape: [Int]) throws(TensorError) -> Int {
        var n = 1
        for d in shape {
            guard d >= 0 else { throw .negativeDimension(shape: shape) }
        }
        for d in shape {
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            guard !overflow else { throw .shapeOverflow(shape: shape) }
            n = p
        }
        guard n <= Int.max / MemoryLayout<Float>.stride / 2 else { throw .shapeOverflow(shape: shape) }
        return n
    }
}

extension Tensor: Equatable {
    /// Same shape and the same elements (bitwise `==` per element, so NaN ≠ NaN).
    public static func == (lhs: Tensor, rhs: Tensor) -> Bool {
        guard lhs.shape == rhs.shape else { return false }
        return lhs.withUnsafeBufferPointer { a in rhs.withUnsafeBufferPointer { b in a.elementsEqual(b) } }
    }
}
