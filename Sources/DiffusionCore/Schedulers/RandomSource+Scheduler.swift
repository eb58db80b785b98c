extension RandomSource {
    /// A draw for a scheduler step: the source's error is wrapped in ``SchedulerError/randomSource(underlying:)``.
    mutating func schedulerNoise(shape: [Int]) throws(SchedulerError) -> Tensor {
        do { return try normal(shape: shape) } catch { throw .randomSource(underlying: error) }
    }
}
