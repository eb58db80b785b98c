import LoRAKit

extension Tensor {
    /// A float32 tensor holding a safetensors tensor's elements (biases, norm parameters, embeddings):
    /// F32 copied, F16/BF16/F8 widened exactly, F64 rounded to nearest.
    /// - Throws: ``TensorError/unsupportedWeightType(name:dtype:)`` for integer and boolean tensors, and the
    ///   shape errors of ``init(shape:scalars:)``.
    public init(_ view: TensorView) throws(TensorError) {
        guard view.dtype.isFloatingPoint else { throw .unsupportedWeightType(name: view.name, dtype: view.dtype.rawValue) }
        _ = try Tensor.elementCount(of: view.shape)
        self.init(uninitializedValidShape: view.shape)
        view.decode(into: UnsafeMutableBufferPointer(start: storage.base, count: count))
    }
}
