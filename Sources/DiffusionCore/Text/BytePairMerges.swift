/// CLIP's byte-pair merges as integer tables: the first symbol of each byte, the word-final symbol of
/// each byte (`x</w>`), and for every merge the pair of token ids with its rank and the merged id.
struct BytePairMerges: Sendable {
    /// Token id of each byte's character, indexed by byte.
    let byteIDs: [Int32]
    /// Token id of each byte's character followed by `</w>`.
    let finalByteIDs: [Int32]
    private let table: PairTable

    /// Builds the tables from a vocabulary and merges given as pairs of vocabulary strings.
    /// - Throws: ``TextError/invalidMerge(line:merge:)`` when a merge names a token the vocabulary
    ///   lacks; ``TextError/specialTokenMissing(_:)`` when a byte's character is missing.
    init(vocabulary: [String: Int], merges: [(String, String)], firstMergeLine: Int) throws(TextError) {
        var byteIDs = [Int32](repeating: 0, count: 256)
        var finalByteIDs = [Int32](repeating: 0, count: 256)
        for byte in 0..<256 {
            let char = String(ByteLevelAlphabet.characters[byte])
            guard let id = vocabulary[char] else { throw .specialTokenMissing(char) }
            guard let final = vocabulary[char + "</w>"] else { throw .specialTokenMissing(char + "</w>") }
            byteIDs[byte] = Int32(id)
            finalByteIDs[byte] = Int32(final)
        }
        var table = PairTable(capacity: merges.count)
        for (rank, (a, b)) in merges.enumerated() {
            guard let left = vocabulary[a], let right = vocabulary[b], let merged = vocabulary[a + b] else {
                throw .invalidMerge(line: firstMergeLine + rank, merge: "\(a) \(b)")
            }
            table.insert(left: Int32(left), right: Int32(right), rank: Int32(rank), merged: Int32(merged))
        }
        self.byteIDs = byteIDs
        self.finalByteIDs = finalByteIDs
        self.table = table
    }

    /// The token ids of one word (UTF-8 bytes, not empty), merged lowest rank first.
    func encode(word: [UInt8], into out: inout [Int]) {
        var symbols = [Int32]()
        symbols.reserveCapacity(word.count)
        for (i, byte) in word.enumerated() {
            symbols.append(i == word.count - 1 ? finalByteIDs[Int(byte)] : byteIDs[Int(byte)])
        }
        while symbols.count > 1 {
            var bestRank = Int32.max
            var bestIndex = -1
            var bestMerged: Int32 = 0
            for i in 0..<(symbols.count - 1) {
                if let hit = table.lookup(left: symbols[i], right: symbols[i + 1]), hit.rank < bestRank {
                    bestRank = hit.rank
                    bestIndex = i
                    bestMerged = hit.merged
                }
            }
            if bestIndex < 0 { break }
            symbols[bestIndex] = bestMerged
            symbols.remove(at: bestIndex + 1)
        }
        for s in symbols { out.append(Int(s)) }
    }
}

/// Open-addressing hash table from a pair of token ids to (rank, merged id).
private struct PairTable: Sendable {
    private var keys: [UInt64]
    private var values: [UInt64]
    private let mask: Int
    private static let empty = UInt64.max

    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        keys = [UInt64](repeating: Self.empty, count: size)
        values = [UInt64](repeating: 0, count: size)
        mask = size - 1
    }

    @inline(__always) private static func hash(_ key: UInt64) -> Int {
        var h = key &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 29
        return Int(truncatingIfNeeded: h)
    }

    mutating func insert(left: Int32, right: Int32, rank: Int32, merged: Int32) {
        let key = UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
        var slot = Self.hash(key) & mask
        while keys[slot] != Self.empty {
            if keys[slot] == key { return }  // a repeated merge keeps its first (lowest) rank
            slot = (slot + 1) & mask
        }
        keys[slot] = key
        values[slot] = UInt64(UInt32(bitPattern: rank)) << 32 | UInt64(UInt32(bitPattern: merged))
    }

    @inline(__always) func lookup(left: Int32, right: Int32) -> (rank: Int32, merged: Int32)? {
        let key = UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
        var slot = Self.hash(key) & mask
        while true {
            let k = keys[slot]
            if k == key {
                let v = values[slot]
                return (Int32(truncatingIfNeeded: v >> 32), Int32(truncatingIfNeeded: v))
            }
            if k == Self.empty { return nil }
            slot = (slot + 1) & mask
        }
    }
}
