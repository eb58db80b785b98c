import Foundation
import Testing

/// The real-world LoRA files (`../shared/realworld` next to the package root), found from this source file's
/// path, for every test target. Tests that use them are enabled only when the folder exists, so a machine
/// without it reports them as skipped with the reason; when the folder exists, a missing file fails the test.
package enum RealWorld {
    /// The package root: the nearest folder above this file holding `Package.swift`.
    package static let packageRoot: URL = {
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while dir.path != "/" {
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) { return dir }
            dir = dir.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }()

    /// `../shared/realworld` beside the package.
    package static let folder = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/realworld").standardizedFileURL

    package static var isPresent: Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// The reason shown when the tests are skipped.
    package static let missingReason: Comment = "real-world LoRA files not found at ../shared/realworld (looked in \(folder.path))"

    /// A file of the folder; fails the test when the folder is there but the file is not.
    package static func url(_ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> URL {
        let url = folder.appendingPathComponent(name)
        try #require(FileManager.default.fileExists(atPath: url.path), "\(url.path) is missing", sourceLocation: sourceLocation)
        return url
    }
}
