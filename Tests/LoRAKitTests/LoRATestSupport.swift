import Foundation
import Testing
@testable import LoRAKit

/// A LoRA fixture and its expected-weights companion (see Scripts/fixtures/lora_formats.py).
struct LoRAFixture {
    let lora: LoRAFile
    let expected: SafetensorsFile

    init(_ name: String) throws {
        lora = try LoRAFile(contentsOf: Fixtures.url("\(name).safetensors", subdirectory: "lora"))
        expected = try SafetensorsFile(contentsOf: Fixtures.url("\(name).expected.safetensors", subdirectory: "lora"))
    }

    /// Every tested parameter: target, whether it is the bias, base and expected tensors.
    var cases: [(target: ModuleTarget, isBias: Bool, base: TensorView, expected: TensorView)] {
        expected.tensors.compactMap { info in
            guard info.name.hasPrefix("base.") else { return nil }
            let name = String(info.name.dropFirst("base.".count))
            let isBias = name.hasSuffix(".bias")
            let stem = String(name.dropLast(isBias ? ".bias".count : ".weight".count))
            guard let dot = stem.firstIndex(of: "."), let component = ModelComponent(rawValue: String(stem[..<dot])),
                  let base = try? expected.tensor(named: info.name),
                  let want = try? expected.tensor(named: "expected." + name) else { return nil }
            return (ModuleTarget(component: component, path: String(stem[stem.index(after: dot)...])), isBias, base, want)
        }
    }

    /// Applies the file's module for each case at strength 1 and returns the largest abs error.
    /// Records an issue (index and both values) for any element over `tolerance`.
    @discardableResult
    func verify(tolerance: Float = 1e-5, sourceLocation: SourceLocation = #_sourceLocation) throws -> Float {
        var worst: Float = 0
        #expect(!cases.isEmpty, sourceLocation: sourceLocation)
        for c in cases {
            guard let module = lora.module(for: c.target) else {
                Issue.record("no module for \(c.target); unrecognized: \(lora.unrecognized.map(\.reason))", sourceLocation: sourceLocation)
                continue
            }
            var w = c.base.floats()
            if c.isBias {
                try module.apply(toBias: &w, shape: c.base.shape, strength: 1)
            } else {
                try module.apply(toWeight: &w, shape: c.base.shape, strength: 1)
            }
            let want = c.expected.floats()
            for i in want.indices {
                let err = abs(w[i] - want[i])
                worst = max(worst, err)
                if err > tolerance {
                    Issue.record("\(c.target)\(c.isBias ? ".bias" : "") index \(i): got \(w[i]), expected \(want[i])", sourceLocation: sourceLocation)
                    break
                }
            }
        }
        return worst
    }
}

/// The shared real-world files, when present on this machine.
func realWorldURL(_ name: String) -> URL? {
    let url = URL(fileURLWithPath: "/work/shared/realworld/\(name)")
    return FileManager.default.fileExists(atPath: url.path) ? url : nil
}
