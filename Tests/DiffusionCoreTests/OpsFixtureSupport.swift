import Foundation
import LoRAKit
import Testing
@testable import DiffusionCore

/// The torch reference outputs written by `Scripts/fixtures/ops_fixtures.py`.
enum OpsFixtures {
    static let file: SafetensorsFile? = {
        guard let url = Bundle.module.url(forResource: "ops", withExtension: "safetensors", subdirectory: "Fixtures/ops") else { return nil }
        return try? SafetensorsFile(contentsOf: url)
    }()

    /// A float32 tensor of the case (any stored dtype, widened exactly).
    static func tensor(_ caseName: String, _ key: String) throws -> Tensor {
        try Tensor(try #require(file).tensor(named: "\(caseName).\(key)"))
    }

    static func view(_ caseName: String, _ key: String) throws -> TensorView {
        try #require(file).tensor(named: "\(caseName).\(key)")
    }

    static func has(_ caseName: String, _ key: String) -> Bool { file?.contains("\(caseName).\(key)") ?? false }

    /// The case's parameters (a JSON object in the file's metadata).
    static func params(_ caseName: String) throws -> [String: Any] {
        let json = try #require(file?.metadata?[caseName])
        return try #require(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    }
}

/// Serialises tests that switch the kernels' instruction-set path, and runs a body once per path.
enum KernelPaths {
    private static let lock = NSLock()
    private static let epochLock = NSLock()
    nonisolated(unsafe) private static var epochValue = 0

    /// Counts path switches: odd while a ``forEach(levels:_:)`` runs. Tests that compare runs bit for bit read it
    /// before and after (see ``steady(_:)``) instead of holding ``lock`` across an `await`, which would leave
    /// pool threads blocked in ``forEach(levels:_:)`` while the holder waits for the pool.
    static var epoch: Int { epochLock.withLock { epochValue } }

    private static func advanceEpoch() { epochLock.withLock { epochValue += 1 } }

    /// Every path the processor has: portable, and AVX2 and AVX-512 where present.
    static var levels: [KernelLevel] { KernelLevel.allCases.filter { $0.rawValue <= KernelLevel.best.rawValue } }

    static func forEach(levels: [KernelLevel] = levels, _ body: (KernelLevel) throws -> Void) rethrows {
        lock.lock()
        advanceEpoch()
        defer { KernelLevel.setMaximum(nil); advanceEpoch(); lock.unlock() }
        for level in levels {
            KernelLevel.setMaximum(level)
            try body(level)
        }
    }

    /// Runs `body` with the best path held still: no other test switches the level while it runs. For tests that
    /// compare two runs closely or count buffers (each path sizes its scratch in its own way).
    static func pinned<T>(_ body: () throws -> T) rethrows -> T {
        var value: T?
        try forEach(levels: [KernelLevel.best]) { _ in value = try body() }
        return value!
    }

    /// `body`'s value from a try that no path switch overlapped (at most `tries` tries), or nil.
    static func steady<T>(tries: Int = 5, _ body: () async throws -> T) async throws -> T? {
        for _ in 0..<tries {
            var before = epoch
            while before % 2 == 1 {  // a switching test is running: wait for it to end
                try await Task.sleep(nanoseconds: 20_000_000)
                before = epoch
            }
            let value = try await body()
            if epoch == before { return value }
        }
        return nil
    }
}

/// `max |actual − expected| ≤ tolerance · max |expected|`, with the worst element named on failure.
func expectClose(
    _ actual: Tensor, _ expected: Tensor, relative tolerance: Float = 1e-5, _ label: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    guard actual.shape == expected.shape else {
        Issue.record("\(label): shape \(actual.shape), expected \(expected.shape)", sourceLocation: sourceLocation)
        return
    }
    let a = actual.scalars, e = expected.scalars
    let scale = e.reduce(Float(0)) { max($0, abs($1)) }
    var worst: Float = 0, index = -1
    for i in a.indices {
        let d = abs(a[i] - e[i])
        if d > worst || d.isNaN { worst = d; index = i }
        if d.isNaN { break }
    }
    let limit = tolerance * max(scale, .leastNormalMagnitude)
    if !(worst <= limit) {
        Issue.record("\(label): max |Δ| \(worst) at \(index) (got \(a[index]), expected \(e[index])) > \(limit)",
                     sourceLocation: sourceLocation)
    }
}
