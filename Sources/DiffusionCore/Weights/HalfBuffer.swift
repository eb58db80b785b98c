import CDiffusionKernels

/// Owned half-precision elements (IEEE binary16 or bfloat16 bit patterns), 64-byte aligned: a LoRA-fused weight
/// kept at the size of the mapped weight it replaces. Written once while fusing, read-only afterwards.
final class HalfBuffer: @unchecked Sendable {
    let base: UnsafeMutablePointer<UInt16>
    /// The number of elements.
    let count: Int
    /// F16 or BF16.
    let element: WeightMatrix.Element

    /// An uninitialised buffer of `count` elements of `element` (`.float16` or `.bfloat16`).
    init(count: Int, element: WeightMatrix.Element) {
        self.count = count
        self.element = element
        let raw = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(count, 1) * 2, alignment: TensorStorage.alignment)
        base = raw.bindMemory(to: UInt16.self, capacity: Swift.max(count, 1))
    }

    deinit { UnsafeMutableRawPointer(base).deallocate() }

    /// The elements widened to float32 (exact).
    func floats() -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { out, initialized in
            WeightMatrix.widen(base, element: element, into: out.baseAddress!, count: count)
            initialized = count
        }
    }

    /// Rounds `values` to this buffer's type (nearest, ties to even) into `base[offset...]`.
    func store(_ values: UnsafePointer<Float>, count n: Int, at offset: Int = 0) {
        HalfBuffer.narrow(values, element: element, into: base + offset, count: n)
    }

    /// Rounds float32 elements to `element` (nearest, ties to even), split over the cores.
    static func narrow(_ src: UnsafePointer<Float>, element: WeightMatrix.Element, into dst: UnsafeMutablePointer<UInt16>, count: Int) {
        Parallel.forEach(count, grain: 1 << 16) { r in
            if element == .bfloat16 {
                dk_f32_to_bf16(src + r.lowerBound, dst + r.lowerBound, r.count)
            } else {
                dk_f32_to_f16(src + r.lowerBound, dst + r.lowerBound, r.count)
            }
        }
    }
}
