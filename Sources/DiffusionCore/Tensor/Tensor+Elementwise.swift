/// Fused element-wise helpers for schedulers. Each output element is computed in float32 with the
/// same operation order as the corresponding diffusers expression (products first, then the sum from
/// left to right), so results match torch to the last bit or two. The forms combining several tensors require
/// equal shapes and are `package` API for callers that checked them.
extension Tensor {
    /// `a·x + b·y`.
    package static func combine(_ a: Float, _ x: Tensor, _ b: Float, _ y: Tensor) -> Tensor {
        zipWith(x, y) { a * $0 + b * $1 }
    }

    /// `a·x + b·y + c·z`.
    package static func combine(_ a: Float, _ x: Tensor, _ b: Float, _ y: Tensor, _ c: Float, _ z: Tensor) -> Tensor {
        precondition(x.shape == y.shape && x.shape == z.shape, "shape mismatch \(x.shape) \(y.shape) \(z.shape)")
        var out = Tensor(uninitializedValidShape: x.shape)
        let o = out.storage.base
        x.withUnsafeBufferPointer { xv in
            y.withUnsafeBufferPointer { yv in
                z.withUnsafeBufferPointer { zv in
                    for i in 0..<xv.count { o[i] = a * xv[i] + b * yv[i] + c * zv[i] }
                }
            }
        }
        out.offset = 0
        return out
    }

    /// Σ cₖ·xₖ, summed left to right.
    package static func linearCombination(_ terms: [(Float, Tensor)]) -> Tensor {
        guard let first = terms.first else { return Tensor(uninitializedValidShape: []).filled(0) }
        var out = first.1.map { first.0 * $0 }
        let o = out.storage.base
        for (c, t) in terms.dropFirst() {
            precondition(t.shape == first.1.shape, "shape mismatch \(t.shape) vs \(first.1.shape)")
            t.withUnsafeBufferPointer { tv in
                for i in 0..<tv.count { o[i] = o[i] + c * tv[i] }
            }
        }
        out.offset = 0
        return out
    }

    /// Applies `f` to every element.
    public func map(_ f: (Float) -> Float) -> Tensor {
        var out = Tensor(uninitializedValidShape: shape)
        let o = out.storage.base
        withUnsafeBufferPointer { x in
            for i in 0..<x.count { o[i] = f(x[i]) }
        }
        out.offset = 0
        return out
    }

    /// Combines two same-shaped tensors element by element.
    package static func zipWith(_ x: Tensor, _ y: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
        precondition(x.shape == y.shape, "shape mismatch \(x.shape) vs \(y.shape)")
        var out = Tensor(uninitializedValidShape: x.shape)
        let o = out.storage.base
        x.withUnsafeBufferPointer { xv in
            y.withUnsafeBufferPointer { yv in
                for i in 0..<xv.count { o[i] = f(xv[i], yv[i]) }
            }
        }
        out.offset = 0
        return out
    }

    /// Clamps every element into `[lower, upper]`.
    public func clamped(_ lower: Float, _ upper: Float) -> Tensor {
        map { Swift.min(Swift.max($0, lower), upper) }
    }

    /// The largest absolute element difference from `other` (same shape).
    package func maxAbsDifference(_ other: Tensor) -> Float {
        precondition(shape == other.shape, "shape mismatch \(shape) vs \(other.shape)")
        return withUnsafeBufferPointer { a in
            other.withUnsafeBufferPointer { b in
                var m: Float = 0
                for i in 0..<a.count { m = Swift.max(m, abs(a[i] - b[i])) }
                return m
            }
        }
    }

    /// This tensor with every element set to `value` (for fresh, uniquely owned tensors).
    func filled(_ value: Float) -> Tensor {
        var t = self
        t.withUnsafeMutableBufferPointer { $0.update(repeating: value) }
        return t
    }
}

extension Tensor {
    /// Element-wise function of three same-shaped tensors.
    static func zipWith(_ x: Tensor, _ y: Tensor, _ z: Tensor, _ f: (Float, Float, Float) -> Float) -> Tensor {
        precondition(x.shape == y.shape && x.shape == z.shape, "shape mismatch \(x.shape) \(y.shape) \(z.shape)")
        var out = Tensor(uninitializedValidShape: x.shape)
        let o = out.storage.base
        x.withUnsafeBufferPointer { a in y.withUnsafeBufferPointer { b in z.withUnsafeBufferPointer { c in
            for i in 0..<a.count { o[i] = f(a[i], b[i], c[i]) }
        } } }
        out.offset = 0
        return out
    }

    /// Element-wise function of four same-shaped tensors.
    static func zipWith(_ x: Tensor, _ y: Tensor, _ z: Tensor, _ w: Tensor,
                        _ f: (Float, Float, Float, Float) -> Float) -> Tensor {
        precondition(x.shape == y.shape && x.shape == z.shape && x.shape == w.shape, "shape mismatch")
        var out = Tensor(uninitializedValidShape: x.shape)
        let o = out.storage.base
        x.withUnsafeBufferPointer { a in y.withUnsafeBufferPointer { b in z.withUnsafeBufferPointer { c in
            w.withUnsafeBufferPointer { d in
                for i in 0..<a.count { o[i] = f(a[i], b[i], c[i], d[i]) }
            }
        } } }
        out.offset = 0
        return out
    }

    /// A tensor from elements whose count is right by construction (internal callers only).
    init(validShape shape: [Int], scalars: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 } && scalars.count == shape.reduce(1, *), "internal shape error")
        self.init(uninitializedValidShape: shape)
        scalars.withUnsafeBufferPointer { src in
            if !src.isEmpty { storage.base.update(from: src.baseAddress!, count: src.count) }
        }
    }
}
