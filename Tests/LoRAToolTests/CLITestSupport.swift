import Foundation
import Testing

/// Runs the built `lora-tool` binary and finds the fixtures, for the end-to-end CLI tests.
///
/// `swift test` builds every product of the package, the `lora-tool` executable included, into the same
/// build folder as the test bundle, so the binary is found next to it. When it is missing the tests fail
/// (they never skip) with a message saying where it was looked for.
enum CLI {
    /// One finished run of the tool.
    struct Run: CustomStringConvertible {
        var status: Int32
        var stdout: String
        var stderr: String

        /// The non-empty lines of stderr.
        var stderrLines: [Substring] { stderr.split(separator: "\n") }

        var description: String { "exit \(status)\n--- stdout:\n\(stdout)--- stderr:\n\(stderr)" }
    }

    /// The folders searched for `lora-tool`: the test bundle's folder and up to three levels above it.
    static var searchedFolders: [URL] {
        var candidates: [URL] = []
        if let exe = Bundle.main.executableURL { candidates.append(exe.deletingLastPathComponent()) }
        candidates.append(Bundle.main.bundleURL)
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent())
        var folders: [URL] = []
        for dir in candidates {
            var d = dir
            for _ in 0..<4 {
                folders.append(d)
                d = d.deletingLastPathComponent()
            }
        }
        return folders
    }

    /// The built `lora-tool`, or nil.
    static func toolURL() -> URL? {
        for dir in searchedFolders {
            let u = dir.appendingPathComponent("lora-tool")
            if FileManager.default.isExecutableFile(atPath: u.path) { return u }
        }
        return nil
    }

    /// Runs `lora-tool arguments` with `environment` added to this process's environment and stdin empty.
    /// stdout and stderr go through temporary files, so a chatty run cannot fill a pipe and stall;
    /// `stdoutPath` sends stdout to that file instead (`/dev/full`).
    static func run(_ arguments: [String], environment: [String: String] = [:], stdoutPath: String? = nil,
                    currentDirectory: URL? = nil) throws -> Run {
        let p = try process(arguments, environment: environment)
        if let currentDirectory { p.currentDirectoryURL = currentDirectory }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("lorakit-cli-io-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outURL = stdoutPath.map(URL.init(fileURLWithPath:)) ?? scratch.appendingPathComponent("stdout")
        let errURL = scratch.appendingPathComponent("stderr")
        if stdoutPath == nil { _ = FileManager.default.createFile(atPath: outURL.path, contents: nil) }
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        p.standardOutput = out
        p.standardError = err
        try p.run()
        p.waitUntilExit()
        try out.close()
        try err.close()
        return Run(status: p.terminationStatus,
                   stdout: stdoutPath == nil ? String(decoding: try Data(contentsOf: outURL), as: UTF8.self) : "",
                   stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
    }

    /// A not yet started `lora-tool arguments` process with stdin empty.
    static func process(_ arguments: [String], environment: [String: String] = [:]) throws -> Process {
        let tool = try #require(toolURL(), """
            lora-tool binary not found next to the test bundle (looked in \
            \(Set(searchedFolders.map(\.path)).sorted().joined(separator: ", "))); \
            build it with `swift build` (a plain `swift test` builds it too)
            """)
        let p = Process()
        p.executableURL = tool
        p.arguments = arguments
        if !environment.isEmpty {
            p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        p.standardInput = FileHandle.nullDevice
        return p
    }

    /// The package root, found from this file's path (`Tests/LoRAToolTests/CLITestSupport.swift`).
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// `Tests/LoRAKitTests/Fixtures`, read in place (never written).
    static let fixtures = packageRoot.appendingPathComponent("Tests/LoRAKitTests/Fixtures")

    /// A fixture of the LoRAKitTests target: `fixture("merge/lora/sd1_kohya.safetensors")`.
    static func fixture(_ relativePath: String) -> String {
        fixtures.appendingPathComponent(relativePath).path
    }

    /// A new empty temporary folder; remove it with `removeTemporaryFolder`.
    static func makeTemporaryFolder(_ label: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lorakit-cli-\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func removeTemporaryFolder(_ url: URL) {
        try? FileManager.default.removeItem(at: url)
    }

    /// stdout parsed as one JSON object.
    static func jsonObject(_ run: Run, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
        let value = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8))
        return try #require(value as? [String: Any], "stdout is not a JSON object:\n\(run.stdout)", sourceLocation: sourceLocation)
    }

    /// The bytes of every file under `paths` (a file, or a folder walked recursively), keyed by path.
    /// Comparing two snapshots shows that nothing was modified, added or removed there.
    static func snapshot(_ paths: [String]) throws -> [String: Data] {
        var result: [String: Data] = [:]
        let fm = FileManager.default
        for path in paths {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else {
                Issue.record("snapshot: \(path) does not exist")
                continue
            }
            if !isDirectory.boolValue {
                result[path] = try Data(contentsOf: URL(fileURLWithPath: path))
                continue
            }
            let root = URL(fileURLWithPath: path)
            for relative in try fm.subpathsOfDirectory(atPath: path) {
                let url = root.appendingPathComponent(relative)
                var isDir: ObjCBool = false
                if fm.fileExists(atPath: url.path, isDirectory: &isDir), !isDir.boolValue {
                    result[url.path] = try Data(contentsOf: url)
                } else {
                    result[url.path + "/"] = Data()
                }
            }
        }
        return result
    }

    /// Runs `body` and checks that the files under `paths` are byte for byte the same afterwards.
    @discardableResult
    static func expectUnchanged<R>(_ paths: [String], sourceLocation: SourceLocation = #_sourceLocation,
                                   _ body: () throws -> R) throws -> R {
        let before = try snapshot(paths)
        #expect(!before.isEmpty, "nothing to compare under \(paths)", sourceLocation: sourceLocation)
        let result = try body()
        let after = try snapshot(paths)
        let changed = Set(before.keys).union(after.keys).filter { before[$0] != after[$0] }.sorted()
        #expect(changed.isEmpty, "inputs changed by the run: \(changed)", sourceLocation: sourceLocation)
        return result
    }

    /// The modules `lora-tool inspect --json --verbose` reports for a LoRA file, keyed by target
    /// (`unet.down_blocks.0…`, `text_encoder.text_model…`).
    static func inspectedModules(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: [String: Any]] {
        let r = try run(["inspect", path, "--json", "--verbose"])
        #expect(r.status == 0, "\(r)", sourceLocation: sourceLocation)
        let object = try jsonObject(r, sourceLocation: sourceLocation)
        let lora = try #require(object["lora"] as? [String: Any], "\(path) is not a LoRA", sourceLocation: sourceLocation)
        let modules = try #require(lora["modules"] as? [[String: Any]], sourceLocation: sourceLocation)
        var byTarget: [String: [String: Any]] = [:]
        for m in modules { byTarget[try #require(m["target"] as? String, sourceLocation: sourceLocation)] = m }
        return byTarget
    }

    /// The kohya key stem of an inspected module (`lora_unet_down_blocks_0_…`), from its first key.
    static func stem(_ module: [String: Any]) -> String? {
        (module["keys"] as? [String])?.first.map { String($0.prefix { $0 != "." }) }
    }
}
