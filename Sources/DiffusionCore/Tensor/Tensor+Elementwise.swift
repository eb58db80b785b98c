/// Fused element-wise helpers for schedulers. Each output element is computed in float32 with the
/// same operation order as the corresponding diffusers expression (products first, then the sum from
/// left to right), so results match torch to the last bit or two.
extension Tensor {
    /// `a·x + b·y`.
    public static func combine(_ a: Float, _ x: Tensor, _ b: Float, _ y: Tensor) -> Tensor {
        precondition(x.shape == y.shape, "shape mismatch \(x.shape) vs \(y.shape)")
        var out = x
        out.scalars.withUnsafeMutableBufferPointer { o in
            y.scalars.withUnsafeBufferPointer { yv in
                for i in 0..<o.count { o[i] = a * o[i] + b * yv[i] }
            }
        }
        return out
    }

    /// `a·x + b·y + c·z`.
    public static func combine(_ a: Float, _ x: Tensor, _ b: Float, _ y: Tensor, _ c: Float, _ z: Tensor) -> Tensor {
        precondition(x.shape == y.shape && x.shape == z.shape, "shape mismatch \(x.shape) \(y.shape) \(z.shape)")
        var out = x
        out.scalars.withUnsafeMutableBufferPointer { o in
            y.scalars.withUnsafeBufferPointer { yv in
                z.scalars.withUnsafeBufferPointer { zv in
                    for i in 0..<o.count { o[i] = a * o[i] + b * yv[i] + c * zv[i] }
                }
            }
        }
        return out
    }

    /// Σ cₖ·xₖ, summed left to right.
    public static func linearCombination(_ terms: [(Float, Tensor)]) -> Tensor {
        guard let first = terms.first else { return Tensor(shape: [], scalars: [0]) }
        var out = first.1
        let c0 = first.0
        out.scalars.withUnsafeMutableBufferPointer { o in
            for i in 0..<o.count { o[i] = c0 * o[i] }
            for (c, t) in terms.dropFirst() {
                precondition(t.shape == first.1.shape, "shape mismatch \(t.shape) vs \(first.1.shape)")
                t.scalars.withUnsafeBufferPointer { tv in
                    for i in 0..<o.count { o[i] = o[i] + c * tv[i] }
                }
            }
        }
        return out
    }

    /// Applies `f` to every element.
    public func map(_ f: (Float) -> Float) -> Tensor {
        var out = self
        out.scalars.withUnsafeMutableBufferPointer { o in
            for i in 0..<o.count { o[i] = f(o[i]) }
        }
        return out
    }

    /// Combines two same-shaped tensors element by element.
    public static func zipWith(_ x: Tensor, _ y: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
        precondition(x.shape == y.shape, "shape mismatch \(x.shape) vs \(y.shape)")
        var out = x
        out.scalars.withUnsafeMutableBufferPointer { o in
            y.scalars.withUnsafeBufferPointer { yv in
                for i in 0..<o.count { o[i] = f(o[i], yv[i]) }
            }
        }
        return out
    }

    /// Clamps every element into `[lower, upper]`.
    public func clamped(_ lower: Float, _ upper: Float) -> Tensor {
        map { Swift.min(Swift.max($0, lower), upper) }
    }

    /// The largest absolute element difference from `other` (same shape).
    public func maxAbsDifference(_ other: Tensor) -> Float {
        precondition(shape == other.shape, "shape mismatch \(shape) vs \(other.shape)")
        var m: Float = 0
        for i in 0..<count { m = Swift.max(m, abs(scalars[i] - other.scalars[i])) }
        return m
    }
}
