import CDiffusionKernels

extension WeightMatrix {
    /// The element type code the convolution kernels take (DK_CONV_WEIGHT_*).
    var convKernelType: Int32 {
        switch element {
        case .float32: return Int32(DK_CONV_WEIGHT_F32)
        case .float16: return Int32(DK_CONV_WEIGHT_F16)
        case .bfloat16: return Int32(DK_CONV_WEIGHT_BF16)
        }
    }

    /// Calls `body` with the elements as stored (float32, or float16 / bfloat16 bit patterns), row-major.
    func withStoredElements<R>(_ body: (UnsafeRawPointer) -> R) -> R {
        switch backing {
        case let .tensor(t):
            return withExtendedLifetime(t) { body(UnsafeRawPointer(t.storage.base + t.offset)) }
        case let .mapped(view):
            return view.withUnsafeBytes { body($0.baseAddress!) }
        case let .half(buffer):
            return withExtendedLifetime(buffer) { body(UnsafeRawPointer(buffer.base)) }
        }
    }
}
