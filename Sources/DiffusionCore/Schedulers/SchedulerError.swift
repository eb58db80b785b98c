/// The errors raised by the scheduler module: bad configuration values, impossible step counts,
/// and misuse of a running scheduler.
public enum SchedulerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The configuration JSON could not be parsed or a field held a value of the wrong type.
    case invalidConfig(key: String, reason: String)
    /// A configuration value is known to diffusers but not supported by this scheduler
    /// (for example `beta_schedule: "sigmoid"` on Euler).
    case unsupportedOption(scheduler: String, key: String, value: String)
    /// Two options that exclude each other were both set (e.g. Karras and exponential sigmas).
    case conflictingOptions(scheduler: String, reason: String)
    /// The number of inference steps is not usable with this configuration.
    case invalidStepCount(scheduler: String, steps: Int, reason: String)
    /// An img2img strength outside `(0, 1]`.
    case invalidStrength(Double)
    /// A custom timestep or sigma list that cannot be used.
    case invalidCustomSchedule(scheduler: String, reason: String)
    /// No scheduler is known under this name.
    case unknownScheduler(String)
    /// The name is known from another tool, but no scheduler of the zoo reproduces what that tool runs under
    /// it; `reason` says what differs and what to use instead.
    case unavailableScheduler(name: String, reason: String)
    /// `step` was called after the last step of the schedule.
    case scheduleExhausted(scheduler: String, stepIndex: Int, count: Int)
    /// A tensor passed to the scheduler does not have the expected shape.
    case shapeMismatch(expected: [Int], actual: [Int])
    /// The random source could not supply the noise a step needs.
    case randomSource(underlying: RandomSourceError)

    public var description: String {
        switch self {
        case let .invalidConfig(key, reason):
            return "invalid scheduler config: \(key): \(reason)"
        case let .unsupportedOption(scheduler, key, value):
            return "\(scheduler) does not support \(key) = \(value)"
        case let .conflictingOptions(scheduler, reason):
            return "\(scheduler): \(reason)"
        case let .invalidStepCount(scheduler, steps, reason):
            return "\(scheduler): cannot run \(steps) step\(steps == 1 ? "" : "s"): \(reason)"
        case let .invalidStrength(s):
            return "strength must be in (0, 1], got \(s)"
        case let .invalidCustomSchedule(scheduler, reason):
            return "\(scheduler): invalid custom schedule: \(reason)"
        case let .unknownScheduler(name):
            return "unknown scheduler '\(name)' (run `lora-tool schedulers` for the list)"
        case let .unavailableScheduler(name, reason):
            return "scheduler '\(name)' is not available: \(reason)"
        case let .scheduleExhausted(scheduler, index, count):
            return "\(scheduler): step \(index) called but the schedule has only \(count) model calls"
        case let .shapeMismatch(expected, actual):
            return "shape mismatch: expected \(expected), got \(actual)"
        case let .randomSource(underlying):
            return underlying.description
        }
    }
}
