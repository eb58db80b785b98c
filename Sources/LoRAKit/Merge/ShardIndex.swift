import Foundation

/// Keeps a copied `*.safetensors.index.json` true to the rewritten shards.
enum ShardIndex {
    /// Sets `metadata.total_size` (the shards' tensor bytes) after a dtype conversion changed it; the
    /// `weight_map` is unchanged (tensors keep their names and shards).
    static func updateTotalSize(_ index: String, shards: [String], in folder: URL) throws(MergeError) {
        let url = folder.appendingPathComponent(index)
        do {
            var total = 0
            for shard in shards {
                let file = try SafetensorsFile(contentsOf: folder.appendingPathComponent(shard))
                total += file.tensors.reduce(0) { $0 + $1.byteCount }
            }
            guard var object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any] else { return }
            var metadata = object["metadata"] as? [String: Any] ?? [:]
            metadata["total_size"] = total
            object["metadata"] = metadata
            let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
            try data.write(to: url, options: .atomic)
        } catch let error as SafetensorsError {
            throw .safetensors(error)
        } catch {
            throw .fileSystem(path: url.path, reason: "cannot update the shard index: \(error.localizedDescription)")
        }
    }
}
