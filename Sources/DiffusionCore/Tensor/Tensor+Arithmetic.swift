/// Element-wise arithmetic used by schedulers and guidance. Shapes must match exactly: the tensor-tensor forms
/// are `package` API for code that has checked its shapes (the schedulers check what they are given before
/// any arithmetic); other callers use ``Ops/add(_:_:scale:workspace:)``, which throws. Scalar factors broadcast. Results are fresh
/// contiguous tensors; each element is computed in float32 in the written order (no fused multiply-add), so
/// results match torch's element-wise kernels bit for bit.
extension Tensor {
    package static func + (lhs: Tensor, rhs: Tensor) -> Tensor {
        zipWith(lhs, rhs) { $0 + $1 }
    }

    package static func - (lhs: Tensor, rhs: Tensor) -> Tensor {
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
