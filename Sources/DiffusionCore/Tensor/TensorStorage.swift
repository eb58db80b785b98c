/// A 64-byte-aligned buffer of `Float` elements, shared by a tensor and its views.
///
/// `@unchecked Sendable` is sound: a ``Tensor`` writes into its storage only when it holds the sole reference
/// (copy-on-write), so a storage reachable from several threads is never written.
final class TensorStorage: @unchecked Sendable {
    /// The alignment of every buffer, one cache line (and an AVX-512 vector).
    static let alignment = 64

    let base: UnsafeMutablePointer<Float>
    /// The number of elements the buffer holds.
    let capacity: Int

    /// An uninitialised buffer for `capacity` elements (`capacity` is at most `Int.max / 4`, checked by callers).
    init(capacity: Int) {
        self.capacity = capacity
        let raw = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(capacity, 1) * MemoryLayout<Float>.stride,
                                                   alignment: Self.alignment)
        base = raw.bindMemory(to: Float.self, capacity: Swift.max(capacity, 1))
    }

    /// A zero-capacity buffer shared by empty tensors.
    static let empty = TensorStorage(capacity: 0)

    deinit { UnsafeMutableRawPointer(base).deallocate() }
}
