import XCTest
@testable import LSTMKit

/// Forward-only passes of a recurrent layer that reads an Embedding copy the input projection
/// from a table (ProjectionTable) once the ids projected since the weights changed are as many
/// as the vocabulary. Its predictions must equal the GEMM's to float rounding for every cell,
/// direction and padding plan, and must follow every change of the weights.
final class ProjectionTableTests: XCTestCase {
    let t = 8, vocab = 12

    override func tearDown() { EngineSwitches.current = .fromEnvironment() }

    func model(_ recurrent: JSON, maskZero: Bool) throws -> Model {
        let m = try Model(config: ["layers": [
            ["class_name": "Embedding", "config": ["input_dim": .number(Double(vocab)), "output_dim": 5, "mask_zero": .bool(maskZero)]],
            recurrent,
            ["class_name": "Dense", "config": ["units": 3]]]], seed: 2)
        try m.build(input: [t])
        try m.compile(["loss": "mse"])
        return m
    }

    func predict(_ m: Model, _ ids: [Int32], table: Bool = true) throws -> [Float] {
        EngineSwitches.current.projectionTable = table
        defer { EngineSwitches.current = .fromEnvironment() }
        var out = [Float](repeating: 0, count: ids.count / t * 3)
        try withIds(ids, [ids.count / t, t]) { xv in
            try out.withUnsafeMutableBufferPointer { try m.predict(x: xv, batchSize: 64, into: $0.baseAddress!) }
        }
        return out
    }

    /// Builds of every table in the model (Bidirectional has two).
    func builds(_ m: Model) -> Int {
        m.layers.flatMap { l in [l as? RecurrentLayer, (l as? Bidirectional)?.forwardLayer, (l as? Bidirectional)?.backwardLayer] }
            .compactMap { $0?.projectionTable.builds }.reduce(0, +)
    }

    func assertClose(_ a: [Float], _ b: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        for (u, v) in zip(a, b) { XCTAssertEqual(u, v, accuracy: 1e-5 * max(1, abs(v)), what, file: file, line: line) }
    }

    /// Rows post-padded, pre-padded (the shared padding row when unmasked), all padding, none.
    func paddedIds(rows: Int, _ rng: inout Rng) -> [Int32] {
        var ids = (0..<(rows * t)).map { _ in Int32(1 + rng.below(vocab - 1)) }
        for r in 0..<rows {
            let n = r % (t + 1)
            for s in 0..<n { ids[r * t + (r % 2 == 0 ? s : t - 1 - s)] = 0 }
        }
        return ids
    }

    func testTableGivesTheProductsPredictions() throws {
        let cells: [(String, JSON)] = [("LSTM", [:]), ("GRU", [:]), ("GRU", ["reset_after": false]), ("SimpleRNN", [:])]
        var rng = Rng(seed: 8)
        for (cls, extra) in cells {
            for back in [false, true] {
                var c: [String: JSON] = ["units": 4, "go_backwards": .bool(back)]
                if case .object(let o) = extra { for (k, v) in o { c[k] = v } }
                var layers: [JSON] = [["class_name": .string(cls), "config": .object(c)]]
                if !back {
                    layers.append(["class_name": "Bidirectional", "config": ["layer": ["class_name": .string(cls), "config": .object(c)]]])
                }
                for layer in layers {
                    for maskZero in [false, true] {
                        let m = try model(layer, maskZero: maskZero)
                        var w = Rng(seed: 5)
                        for p in m.params { p.value = (0..<p.count).map { _ in w.uniform(-0.6, 0.6) } }
                        let ids = paddedIds(rows: 10, &rng)
                        let what = "\(layer) mask_zero=\(maskZero)"
                        let plain = try predict(m, ids, table: false)
                        XCTAssertEqual(builds(m), 0, what)
                        assertClose(try predict(m, ids), plain, what)
                        XCTAssertGreaterThan(builds(m), 0, what)
                        if cls == "LSTM", let lstm = m.layers[1] as? RecurrentLayer {
                            // the cell added the table rows itself: z held one step's product
                            XCTAssertEqual(lstm.z.count, lstm.batch * 16, what)
                        }
                    }
                }
            }
        }
    }

    func testTableWaitsForTheVocabularyAndFollowsTheWeights() throws {
        let m = try model(["class_name": "LSTM", "config": ["units": 4]], maskZero: false)
        var rng = Rng(seed: 3)
        let row = paddedIds(rows: 1, &rng)          // 8 ids a call, vocabulary 12
        let first = try predict(m, row)
        XCTAssertEqual(builds(m), 0)
        XCTAssertEqual(try predict(m, row), first)  // 16 ids: built now, and the same predictions
        XCTAssertEqual(builds(m), 1)
        _ = try predict(m, row)
        XCTAssertEqual(builds(m), 1)                // reused while the weights stay

        for p in m.params {
            // any weight changed, through any route, makes the table stale
            p.value = p.value.map { $0 * 1.5 + 0.01 }
            let plain = try predict(m, row, table: false)
            assertClose(try predict(m, row), plain, p.name)
            assertClose(try predict(m, row), plain, p.name)
        }
        let before = builds(m)
        var one = [Float](repeating: 0, count: 3)
        try withIds(row, [1, t]) { xv in try withView([0.5, -0.5, 1], [1, 3]) { yv in
            try m.fit(x: xv, y: yv, options: FitOptions(), progress: nil) } }
        one = try predict(m, row, table: false)
        assertClose(try predict(m, row), one, "after fit")
        assertClose(try predict(m, row), one, "after fit")
        XCTAssertEqual(builds(m), before + 1)
    }
}
