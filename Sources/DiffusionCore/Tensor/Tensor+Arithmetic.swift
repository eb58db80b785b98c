/// Element-wise arithmetic used by schedulers and guidance. Shapes must match exactly (the schedulers check
/// the shapes of what they are given before any arithmetic); scalar factors broadcast. Results are fresh
/// contiguous tensors; each element is computed in float32 in the written order (no fused multiply-add), so
/// results match torch's element-wise kernels bit for bit.
extension Tensor {
    public static func + (lhs: Tensor, rhs: Tensor) -> Tensor {
        zipWith(lhs, rhs) { $0 + $1 }
    }

    public static func - (lhs: Tensor, rhs: Tensor) -> Tensor {
        zipWith(lhs, rhs) { $0 - $1 }
    }

    public static func * (lhs: Float, rhs: Tensor) -> Tensor {
        rhs.map { $0 * lhs }
    }

    public static func * (lhs: Tensor, rhs: Float) -> Tensor { rhs * lhs }

    public static func / (lhs: Tensor, rhs: Float) -> Tensor {
        lhs.map { $0 / rhs }
    }
}
