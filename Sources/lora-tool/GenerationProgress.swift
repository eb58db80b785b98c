import DiffusionCore
import Foundation

/// Step progress on standard error (a bar rewritten in place with step i/N, s/step and ETA on a terminal, one
/// plain line per step otherwise) and the `--preview` files rewritten as previews arrive.
final class GenerationProgress: @unchecked Sendable {
    let start = Date()
    let terminal = isatty(STDERR_FILENO) != 0
    let previewURLs: [URL]
    private var firstStepDone: Date?
    private var previewProblemShown = false
    var elapsed: Double { Date().timeIntervalSince(start) }

    init(previewURLs: [URL] = []) {
        self.previewURLs = previewURLs
    }

    func report(_ event: GenerationEvent) {
        switch event {
        case let .step(index, count, timestep): step(index, count, timestep)
        case let .preview(preview): write(preview)
        case .finished: break
        }
    }

    /// s/step over the steps after the first (the first also carries the prompt encoding); ETA from it.
    private func step(_ index: Int, _ count: Int, _ timestep: Float) {
        let now = Date()
        let perStep: Double
        if let first = firstStepDone, index > 1 {
            perStep = now.timeIntervalSince(first) / Double(index - 1)
        } else {
            firstStepDone = now
            perStep = now.timeIntervalSince(start)
        }
        let eta = perStep * Double(count - index)
        let text = String(format: "step %d/%d (t=%.0f)  %.2f s/step  ETA %@", index, count, timestep, perStep, Self.duration(eta))
        if terminal {
            let width = 24, filled = count > 0 ? width * index / count : width
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            let tail = index == count ? "  decoding…" : ""
            writeStandardError("\r\u{1B}[K[\(bar)] " + text + tail)
        } else {
            writeStandardError(text + "\n")
        }
    }

    private func write(_ preview: GenerationPreview) {
        for (url, image) in zip(previewURLs, preview.images) {
            do { try PNGWriter.write(image, to: url, overwrite: true) } catch {
                guard !previewProblemShown else { continue }
                previewProblemShown = true
                if terminal { writeStandardError("\r\u{1B}[K") }
                writeStandardError("note: preview not written: \(error)\n")
            }
        }
    }

    /// `m:ss` from one minute on, else seconds.
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let s = Int(seconds.rounded())
        return s >= 60 ? String(format: "%d:%02d", s / 60, s % 60) : "\(s) s"
    }

    func finish() {
        if terminal { writeStandardError("\r\u{1B}[K") }
    }
}
