import Foundation

/// A pool of tensor buffers a model reuses from call to call, so a network's forward pass allocates no
/// tensor storage once its first call has sized the pool.
///
/// Take a buffer with ``tensor(shape:)``, give it back with ``recycle(_:)`` when it is no longer needed;
/// the operations take their scratch space (attention tiles, widened half-precision weights) from the
/// workspace they are given in the same way. A buffer is handed out to one tensor at a time, so the tensor
/// owns it uniquely and writes to it without copying. Thread-safe.
public final class Workspace: @unchecked Sendable {
    private let lock = NSLock()
    /// Free buffers, smallest first.
    private var free: [TensorStorage] = []
    private var allocated = 0
    private var heldElements = 0

    public init() {}

    /// A contiguous tensor of `shape` whose elements are unspecified (not zeroed).
    /// - Throws: the shape errors of ``Tensor/init(shape:scalars:)``.
    public func tensor(shape: [Int]) throws(TensorError) -> Tensor {
        let n = try Tensor.elementCount(of: shape)
        return Tensor(storage: take(capacity: n), offset: 0, shape: shape, strides: Tensor.contiguousStrides(shape))
    }

    /// A zero-filled tensor of `shape`.
    public func zeros(shape: [Int]) throws(TensorError) -> Tensor {
        let t = try tensor(shape: shape)
        t.storage.base.update(repeating: 0, count: t.count)
        return t
    }

    /// Returns `tensor`'s buffer to the pool if no other tensor (view) still uses it, and leaves `tensor` empty
    /// (shape `[0]`).
    public func recycle(_ tensor: inout Tensor) {
        var storage = tensor.storage
        tensor = Tensor(storage: TensorStorage.empty, offset: 0, shape: [0], strides: [1])
        guard isKnownUniquelyReferenced(&storage) else { return }
        give(storage)
    }

    /// How many buffers this workspace has allocated since it was created (steady when a loop reuses it).
    public var allocationCount: Int { lock.withLock { allocated } }

    /// The elements held in free buffers now.
    public var pooledElementCount: Int { lock.withLock { heldElements } }

    /// Drops every pooled buffer.
    public func removeAll() { lock.withLock { free.removeAll(); heldElements = 0 } }

    /// A buffer of at least `capacity` elements: the smallest pooled one that fits, else a new one.
    func take(capacity: Int) -> TensorStorage {
        lock.lock()
        if let i = free.firstIndex(where: { $0.capacity >= capacity }) {
            let s = free.remove(at: i)
            heldElements -= s.capacity
            lock.unlock()
            return s
        }
        allocated += 1
        lock.unlock()
        return TensorStorage(capacity: capacity)
    }

    /// Puts a buffer back (keeping the list sorted by capacity).
    func give(_ storage: TensorStorage) {
        lock.withLock {
            let i = free.firstIndex(where: { $0.capacity >= storage.capacity }) ?? free.endIndex
            free.insert(storage, at: i)
            heldElements += storage.capacity
        }
    }
}

/// Scratch memory for one operation: from the caller's workspace when one is given, else allocated.
struct Scratch {
    let storage: TensorStorage
    let workspace: Workspace?

    init(count: Int, workspace: Workspace?) {
        self.workspace = workspace
        storage = workspace?.take(capacity: count) ?? TensorStorage(capacity: count)
    }

    var pointer: UnsafeMutablePointer<Float> { storage.base }

    /// Gives the buffer back to the workspace.
    func release() { workspace?.give(storage) }
}
