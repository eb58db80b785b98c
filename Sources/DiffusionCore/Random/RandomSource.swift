/// Where Gaussian noise comes from: the pipeline's starting latents and every stochastic scheduler step.
///
/// Nothing in DiffusionCore creates randomness itself: the caller passes a source. ``TorchGenerator``
/// reproduces torch's CPU generator (the noise diffusers, InvokeAI and ComfyUI draw for a seed),
/// ``PhiloxGenerator`` A1111's GPU-compatible source, ``SeededRandomSource`` is a small portable generator,
/// ``ReplayRandomSource`` replays recorded noise (tests), and ``NoRandomSource`` refuses every draw
/// (deterministic schedulers).
public protocol RandomSource {
    /// Draws standard-normal float32 noise with the given shape.
    /// - Throws: ``RandomSourceError`` when the shape is invalid or the source cannot supply it.
    mutating func normal(shape: [Int]) throws(RandomSourceError) -> Tensor
}

extension TorchGenerator: RandomSource {
    /// The same as ``randn(_:)``.
    public mutating func normal(shape: [Int]) throws(RandomSourceError) -> Tensor { try randn(shape) }
}

extension PhiloxGenerator: RandomSource {
    /// The same as ``randn(_:)``.
    public mutating func normal(shape: [Int]) throws(RandomSourceError) -> Tensor { try randn(shape) }
}
