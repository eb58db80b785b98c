/// The ranks a rank tool records in kohya metadata (`ss_network_dim`, `conv_dim`): the requested ones,
/// lowered to the largest rank actually written when every module was capped below the request (a
/// `--rank` above a layer's full rank keeps the layer at its full rank, so 10¹² is never recorded).
enum RecordedRanks {
    /// - Parameters:
    ///   - written: per module, whether it was ranked by `convRank` and the rank written.
    static func effective(rank: Int, convRank: Int?, written: [(usesConvRank: Bool, rank: Int)]) -> (rank: Int, convRank: Int?) {
        let linear = written.filter { !$0.usesConvRank || convRank == nil }.map(\.rank).max()
        let conv = written.filter(\.usesConvRank).map(\.rank).max()
        return (linear.map { min(rank, $0) } ?? rank, convRank.map { c in conv.map { min(c, $0) } ?? c })
    }
}
