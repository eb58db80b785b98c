/// Element-wise arithmetic used by schedulers and guidance. Shapes must match exactly
/// (programmer error otherwise); scalar factors broadcast.
extension Tensor {
    public static func + (lhs: Tensor, rhs: Tensor) -> Tensor {
        precondition(lhs.shape == rhs.shape, "shape mismatch \(lhs.shape) vs \(rhs.shape)")
        var out = lhs
        out.scalars.withUnsafeMutableBufferPointer { o in
            rhs.scalars.withUnsafeBufferPointer { r in
                for i in 0..<o.count { o[i] += r[i] }
            }
        }
        return out
    }

    public static func - (lhs: Tensor, rhs: Tensor) -> Tensor {
        precondition(lhs.shape == rhs.shape, "shape mismatch \(lhs.shape) vs \(rhs.shape)")
        var out = lhs
        out.scalars.withUnsafeMutableBufferPointer { o in
            rhs.scalars.withUnsafeBufferPointer { r in
                for i in 0..<o.count { o[i] -= r[i] }
            }
        }
        return out
    }

    public static func * (lhs: Float, rhs: Tensor) -> Tensor {
        var out = rhs
        out.scalars.withUnsafeMutableBufferPointer { o in
            for i in 0..<o.count { o[i] *= lhs }
        }
        return out
    }

    public static func * (lhs: Tensor, rhs: Float) -> Tensor { rhs * lhs }

    public static func / (lhs: Tensor, rhs: Float) -> Tensor {
        var out = lhs
        out.scalars.withUnsafeMutableBufferPointer { o in
            for i in 0..<o.count { o[i] /= rhs }
        }
        return out
    }
}
