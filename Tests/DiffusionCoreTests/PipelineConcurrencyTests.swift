import Foundation
import LoRAKit
import Testing
@testable import DiffusionCore

/// One pipeline used from several tasks at once: runs and LoRA changes queue, each run gets exactly its
/// result alone, and a queued run that is cancelled leaves the queue without waiting. Runs are compared bit for
/// bit from a try no instruction-set path switch overlapped (``KernelPaths/steady(tries:_:)``), else within 1e-5
/// of their scale (the paths agree that far; a run that picked up another LoRA set is off by order 1).
@Suite("One pipeline, concurrent runs", .serialized)
struct PipelineConcurrencyTests {
    /// A flag several threads read and set.
    final class Flag: @unchecked Sendable {
        private let lock = NSLock()
        private var raised = false
        var isSet: Bool { lock.withLock { raised } }
        func set() { lock.withLock { raised = true } }
    }

    /// Polls `condition` (every millisecond) until it holds or `seconds` pass; whether it held.
    static func waitUntil(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date(timeIntervalSinceNow: seconds)
        while !condition() {
            if Date() > deadline { return false }
            usleep(1000)
        }
        return true
    }

    /// ``waitUntil(_:_:)`` for async code: sleeps between polls instead of blocking the thread.
    static func eventually(_ seconds: Double, _ condition: () -> Bool) async -> Bool {
        let deadline = Date(timeIntervalSinceNow: seconds)
        while !condition() {
            if Date() > deadline { return false }
            try? await Task.sleep(nanoseconds: 1_000_000)
        }
        return true
    }

    /// `body` on a thread of its own, awaited without holding a thread of the cooperative pool (the holders of
    /// the pipeline below block their thread on purpose).
    static func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<T, Error>) in
            Thread { done.resume(with: Result { try body() }) }.start()
        }
    }

    /// Two LCM runs with different LoRA sets: the fixture's two LoRAs at 0.35 / 0.45, and the style LoRA alone
    /// at UNet 0.8 / text encoder 0.5 with another seed.
    static func requests(_ pipeline: DiffusionPipeline) throws -> (GenerationRequest, GenerationRequest) {
        let c = try PipelineLCMRecipeTests.fixture()
        var a = PipelineLCMRecipeTests.request(c)
        a.loras = try PipelineLCMRecipeTests.loras(c, in: pipeline)
        var b = PipelineLCMRecipeTests.request(c)
        b.seed = 7
        b.loras = [PipelineLoRA(name: "style", file: try pipeline.openLoRA(at: PipelineLCMRecipeTests.url(c.loras[1])),
                                unetStrength: 0.8, textEncoderStrength: 0.5)]
        return (a, b)
    }

    /// Bit for bit.
    static func expectSame(_ got: GenerationResult, _ want: GenerationResult, _ label: String,
                           sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(got.latents == want.latents, "\(label): latents", sourceLocation: sourceLocation)
        #expect(got.images == want.images, "\(label): images", sourceLocation: sourceLocation)
        #expect(got.loras == want.loras, "\(label): LoRAs", sourceLocation: sourceLocation)
    }

    /// Within 1e-5 of the scale: what two runs agree to when another test may switch the kernels' path between them.
    static func expectClose(_ got: GenerationResult, _ want: GenerationResult, _ label: String,
                            sourceLocation: SourceLocation = #_sourceLocation) {
        let latents = PipelineLoRATests.close(got.latents, want.latents, relative: 1e-5)
        let images = PipelineLoRATests.close(got.images, want.images, relative: 1e-5)
        #expect(latents.ok, "\(label): latents off by \(latents.worst)", sourceLocation: sourceLocation)
        #expect(images.ok, "\(label): images off by \(images.worst)", sourceLocation: sourceLocation)
        #expect(got.loras == want.loras, "\(label): LoRAs", sourceLocation: sourceLocation)
    }

    @Test("Two generations with different LoRA sets from separate tasks give exactly their runs one after another")
    func concurrentRunsQueue() async throws {
        let pipeline = try PipelineLCMRecipeTests.pipeline()
        let (a, b) = try Self.requests(pipeline)
        let runs = try await KernelPaths.steady { () async throws -> (GenerationResult, GenerationResult, GenerationResult, GenerationResult, Bool) in
            let aloneA = try pipeline.generate(a)
            let aloneB = try pipeline.generate(b)
            let aRunning = Flag(), bAsking = Flag(), bQueued = Flag()
            let taskA = Task.detached {
                try pipeline.generate(a, onEvent: { event in
                    guard case .step(index: 1, count: _, timestep: _) = event else { return }
                    // B asks while A is between two steps, its LoRA set applied.
                    aRunning.set()
                    _ = Self.waitUntil(300) { bAsking.isSet }
                    if Self.waitUntil(30, { pipeline.runLock.waiting == 1 }) { bQueued.set() }
                })
            }
            let taskB = Task.detached {
                _ = Self.waitUntil(300) { aRunning.isSet }
                bAsking.set()
                return try pipeline.generate(b)
            }
            return (aloneA, aloneB, try await taskA.value, try await taskB.value, bQueued.isSet)
        }
        let (aloneA, aloneB, togetherA, togetherB, bQueued) = try #require(runs, "no try free of kernel-path switches")
        #expect(aloneA.latents != aloneB.latents)
        #expect(bQueued, "B waited for its turn while A ran")
        Self.expectSame(togetherA, aloneA, "A run beside B")
        Self.expectSame(togetherB, aloneB, "B run beside A")
        #expect(pipeline.activeLoRAs == b.loras)
        #expect(pipeline.runLock.waiting == 0)
    }

    @Test("Cancelling a queued run takes it out of the queue at once; the run ahead and later runs are undisturbed")
    func cancelQueuedRun() async throws {
        let pipeline = try PipelineLCMRecipeTests.pipeline()
        let (a, b) = try Self.requests(pipeline)
        let aloneA = try pipeline.generate(a)
        let aloneB = try pipeline.generate(b)

        // A holds its turn until the queued B has given up: B cannot be waiting for A to finish. B is a
        // synchronous call on a thread of its own (a queued synchronous call blocks its thread).
        let aRunning = Flag(), bGaveUp = Flag(), cancelB = Flag()
        let taskA = Task {
            try await Self.onThread { try pipeline.generate(a, onEvent: { event in
                guard case .step(index: 1, count: _, timestep: _) = event else { return }
                aRunning.set()
                _ = Self.waitUntil(300) { bGaveUp.isSet }
            }) }
        }
        #expect(await Self.eventually(300) { aRunning.isSet })
        let outcome = LockedValue<Result<GenerationResult, PipelineError>?>(nil)
        let cancelledAt = LockedValue<Date?>(nil), leftAt = LockedValue<Date?>(nil)
        let threadB = Thread {
            let result = Result { () throws(PipelineError) -> GenerationResult in
                try pipeline.generate(b, isCancelled: {
                    guard cancelB.isSet else { return false }
                    cancelledAt.withLock { if $0 == nil { $0 = Date() } }
                    return true
                })
            }
            leftAt.withLock { $0 = Date() }
            outcome.withLock { $0 = result }
            bGaveUp.set()
        }
        threadB.start()
        #expect(await Self.eventually(300) { pipeline.runLock.waiting == 1 })
        cancelB.set()
        #expect(await Self.eventually(300) { bGaveUp.isSet }, "B gave up while A still held its turn")
        // B saw the cancellation at its first look and left at once (A was still holding its turn).
        let left = leftAt.read { $0 }, seen = cancelledAt.read { $0 }
        let reaction = try #require(left).timeIntervalSince(try #require(seen))
        #expect(reaction < 1, "a cancelled waiter leaves the queue without waiting for the run ahead (\(reaction) s)")
        #expect(throws: PipelineError.cancelled) { try outcome.read { $0 }?.get() }
        #expect(pipeline.runLock.waiting == 0)
        Self.expectClose(try await taskA.value, aloneA, "the run ahead of the cancelled one")

        // The same through the event stream: its consumer cancelled while the run waits for its turn.
        let streamQueued = Flag(), streamGone = Flag()
        let cRunning = Flag()
        let taskC = Task {
            try await Self.onThread { try pipeline.generate(a, onEvent: { event in
                guard case .step(index: 1, count: _, timestep: _) = event else { return }
                cRunning.set()
                _ = Self.waitUntil(300) { streamGone.isSet }
            }) }
        }
        #expect(await Self.eventually(300) { cRunning.isSet })
        let consumer = Task.detached {
            var events = 0
            for try await _ in pipeline.events(b) { events += 1 }
            return events
        }
        #expect(await Self.eventually(300) { pipeline.runLock.waiting == 1 })
        streamQueued.set()
        consumer.cancel()
        #expect(await Self.eventually(300) { pipeline.runLock.waiting == 0 }, "the stream's run left the queue")
        streamGone.set()
        _ = await consumer.result
        Self.expectClose(try await taskC.value, aloneA, "the run ahead of the cancelled stream")
        #expect(streamQueued.isSet)

        // Nothing is left holding the pipeline.
        Self.expectClose(try pipeline.generate(b), aloneB, "a run after the cancelled ones")
        #expect(pipeline.runLock.waiting == 0)
    }

    @Test("A LoRA change asked for during a run waits for it; the run keeps its set")
    func fuseWaitsForRun() async throws {
        let pipeline = try PipelineLCMRecipeTests.pipeline()
        let (a, b) = try Self.requests(pipeline)
        let aloneA = try pipeline.generate(a)
        let aRunning = Flag(), changeAsked = Flag()
        let taskA = Task {
            try await Self.onThread { try pipeline.generate(a, onEvent: { event in
                guard case .step(index: 1, count: _, timestep: _) = event else { return }
                aRunning.set()
                _ = Self.waitUntil(300) { changeAsked.isSet }
                _ = Self.waitUntil(30) { pipeline.runLock.waiting == 1 }
            }) }
        }
        let change = Task {
            try await Self.onThread {
                _ = Self.waitUntil(300) { aRunning.isSet }
                changeAsked.set()
                return try pipeline.setLoRAs(b.loras)
            }
        }
        Self.expectClose(try await taskA.value, aloneA, "a run while setLoRAs was asked for")
        _ = try await change.value
        #expect(pipeline.loras == b.loras && pipeline.activeLoRAs == b.loras)
    }

    @Test("A LoRA change, a run or a decoder change asked for from inside a run's own callbacks is refused; the run keeps its set")
    func reentrantCallsRefused() throws {
        let pipeline = try PipelineLCMRecipeTests.pipeline()
        let (a, b) = try Self.requests(pipeline)
        let aloneA = try pipeline.generate(a)
        var errors: [String: PipelineError] = [:]
        var calls = 0
        func attempt(_ name: String, _ body: () throws(PipelineError) -> Void) {
            calls += 1
            do { try body() } catch { errors[name] = error }
        }
        let result = try pipeline.generate(a, onEvent: { event in
            guard case .step(index: 1, count: _, timestep: _) = event else { return }
            attempt("setLoRAs") { () throws(PipelineError) in _ = try pipeline.setLoRAs(b.loras) }
            attempt("fuse") { () throws(PipelineError) in _ = try pipeline.fuse(b.loras) }
            attempt("generate") { () throws(PipelineError) in _ = try pipeline.generate(b) }
            attempt("setTinyAutoencoder") { () throws(PipelineError) in try pipeline.setTinyAutoencoder(nil) }
        }, isCancelled: {
            attempt("fuse from isCancelled") { () throws(PipelineError) in _ = try pipeline.fuse([]) }
            return false
        })
        #expect(calls > 5)
        for name in ["setLoRAs", "fuse", "generate", "setTinyAutoencoder"] {
            #expect(errors[name] == .calledDuringOwnRun(operation: name), "\(name)")
        }
        #expect(errors["fuse from isCancelled"] == .calledDuringOwnRun(operation: "fuse"))
        Self.expectClose(result, aloneA, "a run whose callback asked for another LoRA set")
        #expect(pipeline.loras.isEmpty && pipeline.activeLoRAs == a.loras)
        #expect(pipeline.runLock.waiting == 0)
        // Once the run has returned, the same calls go through.
        _ = try pipeline.setLoRAs(b.loras)
        #expect(pipeline.loras == b.loras && pipeline.activeLoRAs == b.loras)
    }
}
