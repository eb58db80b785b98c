/// The errors of image reading, writing and conversion. A damaged or hostile file is always one of these,
/// never a crash, and a failed write never leaves a partial file.
public enum ImageError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The data is neither a PNG nor a JPEG file.
    case unknownFormat(path: String)
    /// The file is a PNG or JPEG but cannot be decoded (truncated, bad checksum, bad chunk or marker).
    case corrupt(path: String, reason: String)
    /// The picture has a zero dimension or more pixels than allowed.
    case tooLarge(path: String, reason: String)
    /// A valid file of a kind that is not converted (for example a CMYK JPEG).
    case unsupported(path: String, reason: String)
    /// Reading or writing the file failed.
    case io(path: String, reason: String)
    /// The output file exists and replacing it was not allowed.
    case outputExists(path: String)
    /// A width, height or pixel buffer that does not describe a picture.
    case invalidDimensions(width: Int, height: Int, reason: String)
    /// A tensor that is not a batch of pictures (`[N, C, H, W]` with the channels this conversion takes).
    case invalidTensorShape(expected: String, actual: [Int])
    /// A text chunk that PNG cannot hold (empty or overlong keyword, a NUL character).
    case invalidText(keyword: String, reason: String)
    /// The encoder failed (out of memory).
    case encodingFailed(reason: String)

    public var description: String {
        switch self {
        case let .unknownFormat(path): "\(path): not a PNG or JPEG file"
        case let .corrupt(path, reason): "\(path): damaged image: \(reason)"
        case let .tooLarge(path, reason): "\(path): \(reason)"
        case let .unsupported(path, reason): "\(path): \(reason)"
        case let .io(path, reason): "\(path): \(reason)"
        case let .outputExists(path): "\(path) exists (allow replacing it to overwrite)"
        case let .invalidDimensions(width, height, reason): "invalid picture \(width)×\(height): \(reason)"
        case let .invalidTensorShape(expected, actual): "expected a tensor of shape \(expected), got \(actual)"
        case let .invalidText(keyword, reason): "PNG text chunk '\(keyword)': \(reason)"
        case let .encodingFailed(reason): "PNG encoding failed: \(reason)"
        }
    }
}
