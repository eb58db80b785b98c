/// The two ways people number "clip skip".
///
/// A1111 (and the CLI's `--clip-skip`) count layers used from the end starting at 1: 1 is the last layer (no
/// skip), 2 the penultimate. diffusers' `clip_skip` (the library's `clipSkip:`) counts layers skipped: nil or 0
/// is the last layer, 1 the penultimate.
public enum ClipSkip {
    /// diffusers' `clip_skip` for A1111's setting: 1 → nil, 2 → 1, 3 → 2…
    /// - Throws: ``TextError/invalidClipSkip(clipSkip:layers:)`` for 0 or a negative value (A1111 starts at 1).
    public static func diffusers(fromA1111 value: Int) throws(TextError) -> Int? {
        guard value >= 1 else { throw .invalidClipSkip(clipSkip: value, layers: 0) }
        return value == 1 ? nil : value - 1
    }

    /// A1111's setting for diffusers' `clip_skip`: nil or 0 → 1, 1 → 2…
    public static func a1111(fromDiffusers value: Int?) -> Int { (value ?? 0) + 1 }
}
