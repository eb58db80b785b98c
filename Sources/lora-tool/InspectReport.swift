import Foundation
import LoRAKit

/// Formatting of `inspect` output: human text and a JSON object.
enum InspectReport {
    static func json(for file: SafetensorsFile) -> [String: Any] {
        let summary = file.summary
        var metadata: [String: Any] = [:]
        for (k, v) in file.metadata ?? [:] { metadata[k] = MetadataFormatting.decodedJSON(v) ?? v }
        return [
            "path": file.path ?? "",
            "file_size": file.fileSize,
            "header_length": file.headerLength,
            "tensor_count": summary.tensorCount,
            "parameter_count": summary.parameterCount,
            "data_bytes": summary.dataByteCount,
            "dtypes": summary.byDType.map {
                ["dtype": $0.dtype.rawValue, "tensors": $0.tensorCount, "parameters": $0.parameterCount, "bytes": $0.byteCount]
            },
            "tensors": file.tensors.sorted { $0.name < $1.name }.map {
                ["name": $0.name, "dtype": $0.dtype.rawValue, "shape": $0.shape, "data_offsets": [$0.dataOffsets.lowerBound, $0.dataOffsets.upperBound]] as [String: Any]
            },
            "metadata": file.metadata == nil ? NSNull() : metadata,
        ]
    }

    static func text(for file: SafetensorsFile) -> String {
        let summary = file.summary
        var out = ""
        out += "File:        \(file.path ?? "-")\n"
        out += "Size:        \(Formatting.bytes(file.fileSize)) (header \(file.headerLength) bytes)\n"
        out += "Tensors:     \(summary.tensorCount)\n"
        out += "Parameters:  \(Formatting.grouped(summary.parameterCount))\n"
        for t in summary.byDType {
            out += "  \(t.dtype.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)) \(t.tensorCount) tensors, \(Formatting.grouped(t.parameterCount)) parameters, \(Formatting.bytes(t.byteCount))\n"
        }
        out += "\n"
        let rows = file.tensors.sorted { $0.name < $1.name }
        let width = min(rows.map(\.name.count).max() ?? 4, 100)
        out += "NAME".padding(toLength: width, withPad: " ", startingAt: 0) + "  DTYPE    SHAPE\n"
        for info in rows {
            out += info.name.padding(toLength: max(width, info.name.count), withPad: " ", startingAt: 0)
            out += "  " + info.dtype.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)
            out += "  [" + info.shape.map(String.init).joined(separator: ", ") + "]\n"
        }
        if let metadata = file.metadata {
            out += "\nMetadata (\(metadata.count) entries):\n"
            for key in metadata.keys.sorted() {
                out += "  \(key): \(MetadataFormatting.pretty(metadata[key]!, indent: "    "))\n"
            }
        } else {
            out += "\nMetadata: none\n"
        }
        return out
    }
}

enum MetadataFormatting {
    /// The value decoded when it holds a JSON object or array (kohya and diffusers store such values).
    static func decodedJSON(_ value: String) -> Any? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasPrefix("{") || trimmed.hasPrefix("[") else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(trimmed.utf8), options: [.fragmentsAllowed])
    }

    /// JSON-valued metadata pretty-printed on indented lines; other values as they are.
    static func pretty(_ value: String, indent: String) -> String {
        guard let object = decodedJSON(value),
              let data = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]),
              let text = String(data: data, encoding: .utf8)
        else { return value }
        return "\n" + text.split(separator: "\n", omittingEmptySubsequences: false).map { indent + $0 }.joined(separator: "\n")
    }
}

enum Formatting {
    static func grouped(_ n: Int) -> String {
        let s = String(n)
        var out = ""
        for (i, c) in s.reversed().enumerated() {
            if i > 0 && i % 3 == 0 && c != "-" { out.append(",") }
            out.append(c)
        }
        return String(out.reversed())
    }

    static func bytes(_ n: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(n)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(n) B" : String(format: "%.2f %@", value, units[unit])
    }
}
