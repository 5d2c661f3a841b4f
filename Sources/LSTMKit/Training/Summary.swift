/// Keras 3's model.summary() table, drawn with the same box characters and column layout.
extension Model {
    var summary: String {
        var rows: [[String]] = []
        func shapeText(_ out: FeatureShape) -> String {
            "(" + (["None"] + out.map { $0.map(String.init) ?? "None" }).joined(separator: ", ") + ")"
        }
        func paramText(_ layer: Layer) -> String {
            layer.isBuilt ? groupedThousands(layer.params.reduce(0) { $0 + $1.count }) : "0 (unbuilt)"
        }
        if let graph {
            // Keras's functional table: the input first, and what each layer is connected to
            let input = builtInput ?? declaredInput
            let shapes = input.flatMap { try? graph.walkShapes(layers, input: $0) }
            rows.append(["\(graph.inputName) (InputLayer)", input.map(shapeText) ?? "?", "0", "-"])
            for (i, layer) in layers.enumerated() {
                var text = "?"
                if let outs = shapes?[i] {
                    text = outs.count == 1 ? shapeText(outs[0]) : "[" + outs.map(shapeText).joined(separator: ", ") + "]"
                }
                rows.append(["\(layer.name) (\(layer.className))", text, paramText(layer), graph.connections(i, layers)])
            }
        } else {
            var shape: FeatureShape? = builtInput ?? declaredInput
            for layer in layers {
                var text = "?"
                if let s = shape, let out = try? layer.outputShape(for: s) {
                    text = shapeText(out)
                    shape = out
                } else {
                    shape = nil
                }
                rows.append(["\(layer.name) (\(layer.className))", text, paramText(layer)])
            }
        }
        return table(rows, connected: graph != nil)
    }

    private func table(_ rows: [[String]], connected: Bool) -> String {
        let header = ["Layer (type)", "Output Shape", "Param #"] + (connected ? ["Connected to"] : [])
        let minimum = [31, 22, 13, 20]
        let widths = header.indices.map { c in max(minimum[c], ([header] + rows).map { $0[c].count }.max()!) }
        func pad(_ s: String, _ c: Int) -> String {
            let fill = String(repeating: " ", count: max(0, widths[c] - s.count))
            return c == 2 ? fill + s : s + fill
        }
        func rule(_ l: String, _ m: String, _ r: String, _ f: String) -> String {
            l + widths.map { String(repeating: f, count: $0 + 2) }.joined(separator: m) + r
        }
        func line(_ cells: [String], _ bar: String) -> String {
            bar + " " + cells.indices.map { pad(cells[$0], $0) }.joined(separator: " \(bar) ") + " " + bar
        }
        var lines = ["Model: \"\(name)\""]
        lines.append(rule("┏", "┳", "┓", "━"))
        lines.append(line(header, "┃"))
        lines.append(rule("┡", "╇", "┩", "━"))
        for (i, row) in rows.enumerated() {
            if i > 0 { lines.append(rule("├", "┼", "┤", "─")) }
            lines.append(line(row, "│"))
        }
        lines.append(rule("└", "┴", "┘", "─"))
        let total = paramCount, trainable = trainableParamCount
        lines.append(" Total params: \(groupedThousands(total)) (\(memorySize(total * 4)))")
        lines.append(" Trainable params: \(groupedThousands(trainable)) (\(memorySize(trainable * 4)))")
        lines.append(" Non-trainable params: \(groupedThousands(total - trainable)) (\(memorySize((total - trainable) * 4)))")
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
