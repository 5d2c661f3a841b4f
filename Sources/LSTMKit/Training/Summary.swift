/// Keras 3's model.summary() table, drawn with the same box characters and column layout.
extension Model {
    var summary: String {
        var rows: [(String, String, String)] = []
        var shape: FeatureShape? = builtInput ?? declaredInput
        for layer in layers {
            var shapeText = "?"
            if let s = shape, let out = try? layer.outputShape(for: s) {
                shapeText = "(" + (["None"] + out.map { $0.map(String.init) ?? "None" }).joined(separator: ", ") + ")"
                shape = out
            } else {
                shape = nil
            }
            let count = layer.isBuilt ? groupedThousands(layer.params.reduce(0) { $0 + $1.count }) : "0 (unbuilt)"
            rows.append(("\(layer.name) (\(layer.className))", shapeText, count))
        }
        let header = ("Layer (type)", "Output Shape", "Param #")
        let w0 = max(31, ([header] + rows).map { $0.0.count }.max()!)
        let w1 = max(22, ([header] + rows).map { $0.1.count }.max()!)
        let w2 = max(13, ([header] + rows).map { $0.2.count }.max()!)
        func pad(_ s: String, _ w: Int, right: Bool = false) -> String {
            let fill = String(repeating: " ", count: max(0, w - s.count))
            return right ? fill + s : s + fill
        }
        func rule(_ l: String, _ m: String, _ r: String, _ f: String) -> String {
            l + String(repeating: f, count: w0 + 2) + m + String(repeating: f, count: w1 + 2) + m
                + String(repeating: f, count: w2 + 2) + r
        }
        var lines = ["Model: \"\(name)\""]
        lines.append(rule("┏", "┳", "┓", "━"))
        lines.append("┃ \(pad(header.0, w0)) ┃ \(pad(header.1, w1)) ┃ \(pad(header.2, w2, right: true)) ┃")
        lines.append(rule("┡", "╇", "┩", "━"))
        for (i, row) in rows.enumerated() {
            if i > 0 { lines.append(rule("├", "┼", "┤", "─")) }
            lines.append("│ \(pad(row.0, w0)) │ \(pad(row.1, w1)) │ \(pad(row.2, w2, right: true)) │")
        }
        lines.append(rule("└", "┴", "┘", "─"))
        let total = paramCount
        lines.append(" Total params: \(groupedThousands(total)) (\(memorySize(total * 4)))")
        lines.append(" Trainable params: \(groupedThousands(total)) (\(memorySize(total * 4)))")
        lines.append(" Non-trainable params: 0 (0.00 B)")
        return lines.joined(separator: "\n") + "\n"
    }
}

func groupedThousands(_ n: Int) -> String {
    let digits = String(n.magnitude)
    var out = ""
    for (i, ch) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(ch)
    }
    return (n < 0 ? "-" : "") + out
}

/// Keras's readable_memory_size: powers of 1024 with two decimals.
func memorySize(_ bytes: Int) -> String {
    let units = ["B", "KB", "MB", "GB", "TB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024 && unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    let hundredths = Int((value * 100).rounded())
    let frac = hundredths % 100
    return "\(hundredths / 100).\(frac < 10 ? "0" : "")\(frac) \(units[unit])"
}
