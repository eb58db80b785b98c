import Testing
@testable import DiffusionCore

@Suite("Tensor storage and views")
struct TensorTests {
    private func iota(_ shape: [Int]) throws -> Tensor {
        try Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map(Float.init))
    }

    @Test("storage is 64-byte aligned")
    func alignment() throws {
        for n in [1, 3, 17, 1000] {
            let t = try Tensor(shape: [n], repeating: 1)
            #expect(Int(bitPattern: t.storage.base) % 64 == 0)
        }
    }

    @Test("a shape that cannot hold the data is a typed error")
    func hostileShapes() {
        #expect(throws: TensorError.elementCountMismatch(shape: [2, 3], count: 5)) { try Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5]) }
        #expect(throws: TensorError.negativeDimension(shape: [2, -1])) { try Tensor(shape: [2, -1], repeating: 0) }
        #expect(throws: TensorError.shapeOverflow(shape: [Int.max, 2])) { try Tensor(shape: [Int.max, 2], repeating: 0) }
        #expect(throws: TensorError.shapeOverflow(shape: [1 << 40, 1 << 30])) { try Tensor(shape: [1 << 40, 1 << 30], repeating: 0) }
    }

    @Test("reshape, slice and chunk are views; writing to one copies (copy-on-write)")
    func viewsShareUntilWritten() throws {
        let x = try iota([2, 6, 2, 3])
        let halves = try x.chunked(2, axis: 0)
        #expect(halves[1].storage === x.storage)
        #expect(halves[1].scalars == Array(36..<72).map(Float.init))
        let channels = try x.chunked(3, axis: 1)
        #expect(channels[1].storage === x.storage)
        #expect(!channels[1].isContiguous)
        #expect(channels[1].scalars == (Array(12..<24) + Array(48..<60)).map(Float.init))
        var v = channels[1]
        v.withUnsafeMutableBufferPointer { $0[0] = -1 }
        #expect(v.storage !== x.storage)
        #expect(x.scalars[12] == 12)
        #expect(v.scalars[0] == -1)
        let r = try x.reshaped([12, -1])
        #expect(r.storage === x.storage && r.shape == [12, 6])
        // A non-contiguous view reshaped where the layout allows it stays a view, else it is copied.
        let merged = try channels[1].reshaped([2, 2, 6])
        #expect(merged.storage === x.storage)
        #expect(merged.scalars == channels[1].scalars)
        let flat = try channels[1].reshaped([24])
        #expect(flat.isContiguous && flat.scalars == channels[1].scalars)
    }

    @Test("views with bad axes, ranges or part counts are typed errors")
    func viewErrors() throws {
        let x = try iota([2, 3])
        #expect(throws: TensorError.elementCountMismatch(shape: [4, 2], count: 6)) { try x.reshaped([4, 2]) }
        #expect(throws: TensorError.self) { try x.reshaped([-1, -1]) }
        #expect(throws: TensorError.self) { try x.reshaped([-1, 4]) }
        #expect(throws: TensorError.invalidAxis(operation: "slice", axis: 2, rank: 2)) { try x.slice(axis: 2, 0..<1) }
        #expect(throws: TensorError.self) { try x.slice(axis: 1, 2..<4) }
        #expect(throws: TensorError.self) { try x.chunked(2, axis: 1) }
        #expect(throws: TensorError.self) { try x.chunked(0, axis: 0) }
    }

    @Test("the element count cannot change through the mutable buffer")
    func mutableBufferKeepsCount() throws {
        var x = try Tensor(shape: [3, 5], repeating: 2)
        x.withUnsafeMutableBufferPointer { #expect($0.count == 15) }
        #expect(x.count == 15 && x.scalars.count == 15)
    }
}

@Suite("Ops reject hostile shapes with typed errors")
struct OpsHostileShapeTests {
    @Test("linear: wrong width, empty input, wrong bias, wrong output")
    func linear() throws {
        let w = try WeightMatrix(Tensor(shape: [4, 3], repeating: 1))
        #expect(throws: TensorError.self) { try Ops.linear(Tensor(shape: [2, 5], repeating: 1), weight: w) }
        #expect(throws: TensorError.emptyTensor(operation: "linear", shape: [0, 3])) { try Ops.linear(Tensor(shape: [0, 3], repeating: 1), weight: w) }
        #expect(throws: TensorError.self) { try Ops.linear(Tensor(shape: [2, 3], repeating: 1), weight: w, bias: Tensor(shape: [3], repeating: 0)) }
        var out = try Tensor(shape: [2, 5], repeating: 0)
        #expect(throws: TensorError.self) { try Ops.linear(Tensor(shape: [2, 3], repeating: 1), weight: w, into: &out) }
        #expect(throws: TensorError.self) { try WeightMatrix(Tensor(shape: [4], repeating: 1)) }
        #expect(throws: TensorError.self) { try WeightMatrix(Tensor(shape: [0, 3], repeating: 1)) }
    }

    @Test("normalisations: groups not dividing channels, wrong parameters, empty input")
    func norms() throws {
        let x = try Tensor(shape: [1, 6, 2, 2], repeating: 1)
        #expect(throws: TensorError.self) { try Ops.groupNorm(x, groups: 4, weight: nil, bias: nil) }
        #expect(throws: TensorError.self) { try Ops.groupNorm(x, groups: 0, weight: nil, bias: nil) }
        #expect(throws: TensorError.self) { try Ops.groupNorm(x, groups: 3, weight: Tensor(shape: [5], repeating: 1), bias: nil) }
        #expect(throws: TensorError.self) { try Ops.groupNorm(Tensor(shape: [1, 6, 0, 2], repeating: 1), groups: 3, weight: nil, bias: nil) }
        #expect(throws: TensorError.self) { try Ops.groupNorm(x, groups: 3, weight: nil, bias: nil, eps: .nan) }
        #expect(throws: TensorError.self) { try Ops.layerNorm(x, weight: Tensor(shape: [3], repeating: 1), bias: nil) }
        #expect(throws: TensorError.self) { try Ops.layerNorm(Tensor(shape: [2, 0], repeating: 1), weight: nil, bias: nil) }
    }

    @Test("attention: heads not dividing, mismatched batches or widths, no keys")
    func attention() throws {
        let q = try Tensor(shape: [2, 5, 12], repeating: 1)
        let kv = try Tensor(shape: [2, 7, 12], repeating: 1)
        #expect(throws: TensorError.self) { try Ops.attention(query: q, key: kv, value: kv, options: .init(heads: 5)) }
        #expect(throws: TensorError.self) { try Ops.attention(query: q, key: kv, value: kv, options: .init(heads: 0)) }
        let otherBatch = try Tensor(shape: [1, 7, 12], repeating: 1)
        #expect(throws: TensorError.self) { try Ops.attention(query: q, key: otherBatch, value: otherBatch, options: .init(heads: 3)) }
        let narrow = try Tensor(shape: [2, 7, 8], repeating: 1)
        #expect(throws: TensorError.self) { try Ops.attention(query: q, key: narrow, value: kv, options: .init(heads: 4)) }
        let noKeys = try Tensor(shape: [2, 0, 12], repeating: 1)
        #expect(throws: TensorError.self) { try Ops.attention(query: q, key: noKeys, value: noKeys, options: .init(heads: 3)) }
        #expect(throws: TensorError.self) { try Ops.attention(query: q, key: kv, value: kv, options: .init(heads: 3, scale: .infinity)) }
    }

    @Test("layout ops: wrong ranks, mismatched concat parts, odd GEGLU width, bad embeddings")
    func layout() throws {
        #expect(throws: TensorError.self) { try Ops.upsampleNearest2x(Tensor(shape: [2, 3, 4], repeating: 1)) }
        #expect(throws: TensorError.self) {
            try Ops.concatChannels([Tensor(shape: [1, 2, 3, 3], repeating: 1), Tensor(shape: [1, 2, 3, 4], repeating: 1)])
        }
        #expect(throws: TensorError.self) { try Ops.concatChannels([]) }
        #expect(throws: TensorError.self) { try Ops.geglu(Tensor(shape: [2, 7], repeating: 1)) }
        #expect(throws: TensorError.self) { try Ops.add(Tensor(shape: [2, 7], repeating: 1), Tensor(shape: [7, 2], repeating: 1)) }
        #expect(throws: TensorError.self) { try Ops.timestepEmbedding([1], dim: 1) }
        #expect(throws: TensorError.self) { try Ops.timestepEmbedding([], dim: 8) }
        #expect(throws: TensorError.self) { try Ops.timestepEmbedding([1], dim: 8, downscaleFreqShift: 4) }
        #expect(throws: TensorError.self) { try Ops.softmax(Tensor(shape: [3, 0], repeating: 1)) }
    }

    @Test("a workspace reused across calls allocates nothing after the first")
    func workspaceSteadyState() throws {
        let workspace = Workspace()
        let x = try Tensor(shape: [2, 33, 40], repeating: 0.5)
        let w = try WeightMatrix(Tensor(shape: [40, 40], repeating: 0.01))
        var q = try workspace.tensor(shape: [2, 33, 40]), out = try workspace.tensor(shape: [2, 33, 40])
        var counts: [Int] = []
        // Each kernel path sizes its scratch differently: hold the path still against tests that switch it.
        try KernelPaths.pinned {
            for _ in 0..<4 {
                try Ops.linear(x, weight: w, into: &q, workspace: workspace)
                try Ops.attention(query: q, key: q, value: q, options: .init(heads: 5), into: &out, workspace: workspace)
                try Ops.layerNorm(out, weight: nil, bias: nil, into: &q)
                counts.append(workspace.allocationCount)
            }
        }
        #expect(counts.last == counts[1])
        workspace.recycle(&q)
        workspace.recycle(&out)
        #expect(q.shape == [0])
        #expect(workspace.pooledElementCount >= 2 * 2 * 33 * 40)
    }
}
