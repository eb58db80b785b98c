import CDiffusionKernels

/// The operations of a diffusion model on ``Tensor``s: linear layers, normalisations, activations, softmax,
/// attention, resampling, concatenation, residual adds and the timestep embedding.
///
/// Every operation says in its documentation which shapes it takes (`NCHW` images and latents,
/// `[tokens, channels]` or `[batch, tokens, channels]` sequences). Each comes in up to three forms: one that
/// returns a new tensor (its storage from the `workspace` when one is given), an `into:` form that writes into
/// a tensor of the exact output shape (a workspace buffer, so a loop allocates nothing), and an in-place form
/// where the output has the input's shape. Shapes that do not fit throw ``TensorError``; nothing traps.
public enum Ops {}

extension Ops {
    /// A fresh contiguous tensor of a validated `shape`, from the workspace when given.
    static func makeOutput(_ shape: [Int], _ workspace: Workspace?) -> Tensor {
        if let workspace {
            let n = shape.reduce(1, *)
            return Tensor(storage: workspace.take(capacity: n), offset: 0, shape: shape,
                          strides: Tensor.contiguousStrides(shape))
        }
        return Tensor(uninitializedValidShape: shape)
    }

    /// Checks that `out` has `shape` and makes it the sole contiguous owner of its storage.
    static func prepare(_ out: inout Tensor, shape: [Int], operation: String) throws(TensorError) {
        guard out.shape == shape else {
            throw .shapeMismatch(operation: "\(operation) output", expected: "\(shape)", actual: out.shape)
        }
        out.makeUniqueAndContiguous()
    }

    /// Throws when `t` has no elements.
    static func requireNonEmpty(_ t: Tensor, _ operation: String) throws(TensorError) {
        guard t.count > 0 else { throw .emptyTensor(operation: operation, shape: t.shape) }
    }

    /// Throws unless `t` has rank `rank`.
    static func requireRank(_ t: Tensor, _ rank: Int, _ operation: String, _ layout: String) throws(TensorError) {
        guard t.rank == rank else { throw .shapeMismatch(operation: operation, expected: layout, actual: t.shape) }
    }

    /// Throws when a dimension does not fit BLAS's 32-bit indices.
    static func blasIndex(_ n: Int, _ operation: String) throws(TensorError) -> Int32 {
        guard let v = Int32(exactly: n) else { throw .dimensionTooLarge(operation: operation, dimension: n) }
        return v
    }
}

extension Tensor {
    /// The first element of a contiguous tensor. Valid while the tensor is alive and not reassigned.
    var elementPointer: UnsafeMutablePointer<Float> { storage.base + offset }
}
