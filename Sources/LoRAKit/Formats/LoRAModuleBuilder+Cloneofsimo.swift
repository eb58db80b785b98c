import Foundation

extension LoRAModuleBuilder {
    /// cloneofsimo/lora modules are numbered, not named: the base model is read from the
    /// widths (cross-attention 768 → SD1, 1024 → SD2; text width likewise), then index N is
    /// the N-th module of ``CloneofsimoKeyMapping/order(component:base:targetClasses:)``. The
    /// order is checked against the shapes; if it does not fit, nothing is merged.
    mutating func buildCloneofsimo(_ infos: [TensorInfo], metadata: [String: String]) {
        var pairs: [ModelComponent: [Int: [TensorRole: TensorInfo]]] = [:]
        for info in infos {
            guard let p = CloneofsimoKeyMapping.parse(info.name) else { continue }
            pairs[p.component, default: [:]][p.index, default: [:]][p.role] = info
        }
        let downWidths = Set(infos.filter { $0.name.hasSuffix(":down") && $0.shape.count == 2 }.map { $0.shape[1] })
        let base: BaseModel
        if downWidths.contains(2048) || pairs[.textEncoder2] != nil { base = .sdxl }
        else if downWidths.contains(1024) { base = .sd2 }
        else { base = .sd1 }
        cloneofsimoBase = base
        for (component, byIndex) in pairs.sorted(by: { $0.key < $1.key }) {
            let classes = Self.targetClasses(metadata[component.rawValue])
                ?? (component == .unet ? CloneofsimoKeyMapping.defaultUNetClasses : CloneofsimoKeyMapping.defaultTextEncoderClasses)
            let order = CloneofsimoKeyMapping.order(component: component, base: base, targetClasses: classes)
            var built: [LoRAModule] = []
            var problems: [String] = []
            for (index, roles) in byIndex.sorted(by: { $0.key < $1.key }) {
                let keys = roles.values.map(\.name).sorted()
                guard let up = roles[.up], let down = roles[.down] else {
                    problems.append("\(component.rawValue):\(index) lacks up or down"); continue
                }
                guard index < order.count else {
                    problems.append("\(component.rawValue):\(index) is past the \(order.count) modules of a \(base.displayName) \(component.rawValue)"); continue
                }
                let path = order[index]
                guard up.shape.count == 2, down.shape.count == 2, up.shape[1] == down.shape[0],
                      Self.widthsFit(path: path, out: up.shape[0], in: down.shape[1], base: base, component: component) else {
                    problems.append("\(component.rawValue):\(index) (\(LoRAError.format(up.shape))·\(LoRAError.format(down.shape))) does not fit \(path)"); continue
                }
                let rank = down.shape[0]
                let target = ModuleTarget(component: component, path: path)
                built.append(LoRAModule(target: target, family: .lora, rank: rank, alpha: nil, scale: 1, isDoRA: false,
                                        sourceKeys: keys, tensors: [.up: file.tensor(up), .down: file.tensor(down)]))
            }
            if problems.isEmpty {
                modules += built
                formatCounts[.cloneofsimo, default: 0] += built.count
            } else {
                let keys = byIndex.values.flatMap { $0.values.map(\.name) }.sorted()
                unrecognized.append(.init(module: "\(component.rawValue):*", keys: keys,
                    reason: "cloneofsimo module order does not match the shapes (\(problems.first!)); not mergeable"))
            }
        }
    }

    /// Target class names from metadata such as `["GEGLU", "CrossAttention", "Attention"]`.
    static func targetClasses(_ value: String?) -> Set<String>? {
        guard let value, let list = try? JSONSerialization.jsonObject(with: Data(value.utf8)) as? [String] else { return nil }
        return Set(list)
    }

    /// Checks a numbered module's widths against the layer the order says it is.
    static func widthsFit(path: String, out: Int, in inWidth: Int, base: BaseModel, component: ModelComponent) -> Bool {
        guard component == .unet else {
            let hidden = component == .textEncoder2 ? 1280 : (base == .sd2 ? 1024 : 768)
            if path.hasSuffix("mlp.fc1") { return inWidth == hidden }
            if path.hasSuffix("mlp.fc2") { return out == hidden }
            return out == hidden && inWidth == hidden
        }
        let cross = UNetArchitecture.forBase(base).crossAttentionDim
        if path.hasSuffix("attn2.to_k") || path.hasSuffix("attn2.to_v") { return inWidth == cross }
        if path.hasSuffix("ff.net.0.proj") { return out == 8 * inWidth }
        return out == inWidth
    }
}
