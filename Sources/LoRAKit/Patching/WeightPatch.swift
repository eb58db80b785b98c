/// One change to one layer of a model, as a LoRA module describes it.
///
/// The merge engine only needs this much of a LoRA module, so it works the same
/// for every adapter family.
public protocol WeightPatch: Sendable {
    /// The layer patched.
    var target: ModuleTarget { get }
    /// The LoRA file keys this patch was read from (reported when unused).
    var sourceKeys: [String] { get }
    /// Whether ``apply(toBias:shape:strength:)`` changes anything.
    var patchesBias: Bool { get }
    /// Replaces `weight` (Float32, row-major, `shape`) by the patched weight at `strength`.
    func apply(toWeight weight: inout [Float], shape: [Int], strength: Float) throws(LoRAError)
    /// Replaces `bias` by the patched bias at `strength`.
    func apply(toBias bias: inout [Float], shape: [Int], strength: Float) throws(LoRAError)
}
