/// Views: tensors that share their source's storage. Writing to either one later copies (copy-on-write),
/// so a view never changes what its source holds.
extension Tensor {
    /// The same elements seen with another shape of equal element count; one dimension may be `-1` (inferred).
    /// A view when the layout allows it (always for contiguous tensors), otherwise a contiguous copy.
    /// - Throws: ``TensorError/elementCountMismatch(shape:count:)`` when the counts differ,
    ///   ``TensorError/invalidArgument(operation:reason:)`` for more than one `-1`.
    public func reshaped(_ newShape: [Int]) throws(TensorError) -> Tensor {
        var shape = newShape
        let inferred = shape.indices.filter { shape[$0] == -1 }
        guard inferred.count <= 1 else {
            throw .invalidArgument(operation: "reshape", reason: "more than one inferred dimension in \(newShape)")
        }
        if let axis = inferred.first {
            shape[axis] = 1
            let known = try Tensor.elementCount(of: shape)
            guard known > 0, count % known == 0 else { throw .elementCountMismatch(shape: newShape, count: count) }
            shape[axis] = count / known
        }
        let n = try Tensor.elementCount(of: shape)
        guard n == count else { throw .elementCountMismatch(shape: shape, count: count) }
        if let strides = viewStrides(for: shape) {
            return Tensor(storage: storage, offset: offset, shape: shape, strides: strides)
        }
        var copy = contiguousCopy()
        copy.shape = shape
        copy.strides = Tensor.contiguousStrides(shape)
        return copy
    }

    /// Elements `range` along `axis` (a view).
    /// - Throws: ``TensorError/invalidAxis(operation:axis:rank:)``, or
    ///   ``TensorError/invalidArgument(operation:reason:)`` when the range leaves the axis.
    public func slice(axis: Int, _ range: Range<Int>) throws(TensorError) -> Tensor {
        guard axis >= 0, axis < rank else { throw .invalidAxis(operation: "slice", axis: axis, rank: rank) }
        guard range.lowerBound >= 0, range.upperBound <= shape[axis] else {
            throw .invalidArgument(operation: "slice", reason: "range \(range) outside 0..<\(shape[axis]) on axis \(axis)")
        }
        var newShape = shape
        newShape[axis] = range.count
        return Tensor(storage: storage, offset: offset + range.lowerBound * strides[axis], shape: newShape,
                      strides: strides)
    }

    /// Splits `axis` into `parts` equal views (the CFG halves of a batch, the value and gate of GEGLU).
    /// - Throws: ``TensorError/invalidAxis(operation:axis:rank:)``, or
    ///   ``TensorError/invalidArgument(operation:reason:)`` when `parts` does not divide the axis.
    public func chunked(_ parts: Int, axis: Int) throws(TensorError) -> [Tensor] {
        guard axis >= 0, axis < rank else { throw .invalidAxis(operation: "chunk", axis: axis, rank: rank) }
        guard parts > 0, shape[axis] % parts == 0 else {
            throw .invalidArgument(operation: "chunk", reason: "\(parts) parts do not divide \(shape[axis]) on axis \(axis)")
        }
        let size = shape[axis] / parts
        var out: [Tensor] = []
        out.reserveCapacity(parts)
        for p in 0..<parts { out.append(try slice(axis: axis, (p * size)..<((p + 1) * size))) }
        return out
    }

    /// Strides that show this tensor's elements with `newShape` without moving them (torch's `view` rule),
    /// or nil when a copy is needed.
    func viewStrides(for newShape: [Int]) -> [Int]? {
        if isContiguous { return Tensor.contiguousStrides(newShape) }
        // Group old dimensions into runs that are contiguous with each other; every new dimension must fall
        // inside one run.
        var newStrides = [Int](repeating: 0, count: newShape.count)
        var viewD = newShape.count - 1
        var chunkBase = strides.last ?? 1
        var tensorElems = 1, viewElems = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) {
            tensorElems *= shape[d]
            if d == 0 || (shape[d - 1] != 1 && strides[d - 1] != tensorElems * chunkBase) {
                while viewD >= 0 && (viewElems < tensorElems || newShape[viewD] == 1) {
                    newStrides[viewD] = viewElems * chunkBase
                    viewElems *= newShape[viewD]
                    viewD -= 1
                }
                if viewElems != tensorElems { return nil }
                if d > 0 {
                    chunkBase = strides[d - 1]
                    tensorElems = 1
                    viewElems = 1
                }
            }
        }
        return viewD == -1 ? newStrides : nil
    }
}
