import Glibc
import CLSTMKitABI

// The C entry points for models: argument checks and conversions only; the work is in Model.

private func withModel<R>(_ h: OpaquePointer?, _ access: HandleEntry.Access = .read, _ body: (Model) throws -> R) throws -> R {
    try HandleRegistry.with(h, as: Model.self, "model", access, body)
}

/// For predict and evaluate: beside other shared calls once the model is built and has no
/// stateful layer (whose carried states every predict advances), else to itself.
private func withModelForPasses<R>(_ h: OpaquePointer?, _ body: (Model) throws -> R) throws -> R {
    try HandleRegistry.with(h, as: Model.self, "model", { $0.runsPassesConcurrently ? .shared : .read }, body)
}

@_cdecl("lstmkit_version")
public func lstmkit_version() -> Int32 { libraryVersion }

@_cdecl("lstmkit_version_string")
public func lstmkit_version_string() -> UnsafePointer<CChar> { versionCString }
private let versionCString: UnsafePointer<CChar> = UnsafePointer(strdup(libraryVersionString)!)

@_cdecl("lstmkit_last_error")
public func lstmkit_last_error() -> UnsafePointer<CChar> { lastErrorPointer() }

@_cdecl("lstmkit_model_create")
public func lstmkit_model_create(_ config: UnsafePointer<CChar>?, _ seed: UInt64,
                                 _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    apiCall {
        let out = try requirePointer(out, "out")
        out.pointee = nil
        let json = try parseJSONArgument(config, "config_json")!
        let m: Model
        do {
            m = try Model(config: json, seed: seed)
        } catch let e as LSTMKitError where e.status == .invalidArgument {
            // Layers that do not fit together (checked when an input shape is declared) are a
            // configuration problem here; the same check on fit/predict data is an argument one.
            throw LSTMKitError(.badConfig, e.message)
        }
        out.pointee = HandleRegistry.register(m)
    }
}

@_cdecl("lstmkit_model_free")
public func lstmkit_model_free(_ h: OpaquePointer?) {
    HandleRegistry.release(h, as: Model.self)
}

@_cdecl("lstmkit_model_compile")
public func lstmkit_model_compile(_ h: OpaquePointer?, _ settings: UnsafePointer<CChar>?) -> Int32 {
    apiCall {
        let json = try parseJSONArgument(settings, "compile_json")!
        try withModel(h, .reconfigure) { try $0.compile(json) }
    }
}

@_cdecl("lstmkit_model_summary")
public func lstmkit_model_summary(_ h: OpaquePointer?, _ buf: UnsafeMutablePointer<CChar>?, _ capacity: Int,
                                  _ needed: UnsafeMutablePointer<Int>?) -> Int32 {
    apiCall { try writeText(withModel(h, .shared) { $0.summary }, buf, capacity, needed) }
}

@_cdecl("lstmkit_model_config")
public func lstmkit_model_config(_ h: OpaquePointer?, _ buf: UnsafeMutablePointer<CChar>?, _ capacity: Int,
                                 _ needed: UnsafeMutablePointer<Int>?) -> Int32 {
    apiCall { try writeText(withModel(h, .shared) { $0.config.serialized() }, buf, capacity, needed) }
}

@_cdecl("lstmkit_model_count_params")
public func lstmkit_model_count_params(_ h: OpaquePointer?, _ out: UnsafeMutablePointer<Int64>?) -> Int32 {
    apiCall {
        let n = try withModel(h, .shared) { $0.paramCount }
        try requirePointer(out, "out").pointee = Int64(n)
    }
}

@_cdecl("lstmkit_model_input_spec")
public func lstmkit_model_input_spec(_ h: OpaquePointer?, _ shape: UnsafeMutablePointer<Int64>?, _ capacity: Int32,
                                     _ ndim: UnsafeMutablePointer<Int32>?, _ dtype: UnsafeMutablePointer<Int32>?) -> Int32 {
    apiCall {
        let (known, ids) = try withModel(h, .shared) { m in (m.expectedInput, m.inputIsIds) }
        let dims = [-1] + (known ?? []).map { $0 ?? -1 }
        try writeShape(known == nil ? [-1] : dims, shape, capacity, ndim)
        dtype?.pointee = ids ? Int32(LSTMKIT_INT32) : Int32(LSTMKIT_FLOAT32)
    }
}

@_cdecl("lstmkit_model_fit")
public func lstmkit_model_fit(_ h: OpaquePointer?, _ x: UnsafePointer<lstmkit_array>?, _ y: UnsafePointer<lstmkit_array>?,
                              _ options: UnsafePointer<CChar>?, _ progress: lstmkit_progress_fn?,
                              _ user: UnsafeMutableRawPointer?) -> Int32 {
    apiCall { try fit(h, x, y, { nil }, options, progress, user) }
}

@_cdecl("lstmkit_model_fit_validation")
public func lstmkit_model_fit_validation(_ h: OpaquePointer?, _ x: UnsafePointer<lstmkit_array>?,
                                         _ y: UnsafePointer<lstmkit_array>?, _ xVal: UnsafePointer<lstmkit_array>?,
                                         _ yVal: UnsafePointer<lstmkit_array>?, _ options: UnsafePointer<CChar>?,
                                         _ progress: lstmkit_progress_fn?, _ user: UnsafeMutableRawPointer?) -> Int32 {
    apiCall { try fit(h, x, y, { (try dataView(xVal, "x_val"), try dataView(yVal, "y_val")) }, options, progress, user) }
}

private func fit(_ h: OpaquePointer?, _ x: UnsafePointer<lstmkit_array>?, _ y: UnsafePointer<lstmkit_array>?,
                 _ validationData: () throws -> (x: DataView, y: DataView)?, _ options: UnsafePointer<CChar>?,
                 _ progress: lstmkit_progress_fn?, _ user: UnsafeMutableRawPointer?) throws {
    do {
        let xv = try dataView(x, "x"), yv = try dataView(y, "y")
        let validation = try validationData()   // checked after x and y, in the parameters' order
        let opts = try FitOptions(json: parseJSONArgument(options, "options_json", allowNull: true))
        var report: ((Progress) -> Bool)? = nil
        var cNames: [String: UnsafeMutablePointer<CChar>] = [:]
        defer { cNames.values.forEach { free($0) } }
        if let progress {
            report = { p in
                let names: [UnsafePointer<CChar>?] = p.names.map { name in
                    if cNames[name] == nil { cNames[name] = strdup(name) }
                    return UnsafePointer(cNames[name]!)
                }
                return names.withUnsafeBufferPointer { np in
                    p.values.withUnsafeBufferPointer { vp in
                        var info = lstmkit_progress(
                            event: p.event == .batchEnd ? Int32(LSTMKIT_EVENT_BATCH_END) : Int32(LSTMKIT_EVENT_EPOCH_END),
                            epoch: Int32(p.epoch), epochs: Int32(p.epochs), step: Int64(p.step), steps: Int64(p.steps),
                            elapsed_seconds: p.elapsedSeconds, n_values: Int32(p.values.count),
                            names: np.baseAddress, values: vp.baseAddress)
                        return progress(&info, user) != 0
                    }
                }
            }
        }
        try withModel(h, .train) { try $0.fit(x: xv, y: yv, options: opts, validation: validation, progress: report) }
    }
}

@_cdecl("lstmkit_model_reset_states")
public func lstmkit_model_reset_states(_ h: OpaquePointer?, _ layerName: UnsafePointer<CChar>?) -> Int32 {
    apiCall {
        let layer = try layerName.map { try cString($0, "layer_name") }
        try withModel(h) { try $0.resetStates(layer: layer) }
    }
}

@_cdecl("lstmkit_model_set_trainable")
public func lstmkit_model_set_trainable(_ h: OpaquePointer?, _ layerName: UnsafePointer<CChar>?, _ trainable: Int32) -> Int32 {
    apiCall {
        let layer = try cString(layerName, "layer_name")
        try withModel(h, .reconfigure) { try $0.setTrainable(layer: layer, trainable != 0) }
    }
}

@_cdecl("lstmkit_model_build")
public func lstmkit_model_build(_ h: OpaquePointer?, _ shape: UnsafePointer<Int64>?, _ ndim: Int32) -> Int32 {
    apiCall {
        try require(ndim >= 2 && ndim <= 8, "ndim must be 2 to 8 (the batch dimension first), got \(ndim)")
        let dims = try requirePointer(shape, "shape")
        var features: FeatureShape = []
        for i in 1..<Int(ndim) {
            let d = dims[i]
            try require(d == -1 || (d >= 1 && d <= 1 << 28), "shape[\(i)] is \(d); dimensions are -1 (unknown) or 1 to 2^28")
            features.append(d == -1 ? nil : Int(d))
        }
        try require(dims[0] == -1 || dims[0] >= 1, "shape[0] (the batch size) is \(dims[0]); it is -1 (unknown) or at least 1")
        try withModel(h, .reconfigure) { try $0.build(declared: features) }
    }
}

@_cdecl("lstmkit_model_evaluate")
public func lstmkit_model_evaluate(_ h: OpaquePointer?, _ x: UnsafePointer<lstmkit_array>?, _ y: UnsafePointer<lstmkit_array>?,
                                   _ batchSize: Int64, _ results: UnsafeMutablePointer<Double>?, _ capacity: Int,
                                   _ count: UnsafeMutablePointer<Int>?) -> Int32 {
    apiCall {
        try require(batchSize >= 1 && batchSize <= 1 << 24, "batch_size must be 1 to 2^24, got \(batchSize)")
        try withModelForPasses(h) { m in
            guard let compiled = m.compiled else { throw LSTMKitError(.wrongState, "the model must be compiled before evaluate") }
            let n = 1 + compiled.metrics.count
            guard let out = try outputBuffer(results, capacity: capacity, count: n, count) else { return }
            let values = try m.evaluate(x: dataView(x, "x"), y: dataView(y, "y"), batchSize: Int(batchSize))
            for (i, v) in values.enumerated() { out[i] = v }
        }
    }
}

@_cdecl("lstmkit_model_predict")
public func lstmkit_model_predict(_ h: OpaquePointer?, _ x: UnsafePointer<lstmkit_array>?, _ batchSize: Int64,
                                  _ out: UnsafeMutablePointer<Float>?, _ capacity: Int, _ count: UnsafeMutablePointer<Int>?,
                                  _ outShape: UnsafeMutablePointer<Int64>?, _ shapeCapacity: Int32,
                                  _ outNdim: UnsafeMutablePointer<Int32>?) -> Int32 {
    apiCall {
        let xv = try dataView(x, "x")
        try require(batchSize >= 1 && batchSize <= 1 << 24, "batch_size must be 1 to 2^24, got \(batchSize)")
        try withModelForPasses(h) { m in
            let shape = try m.predictShape(x: xv, batchSize: Int(batchSize))
            try writeShape(shape, outShape, shapeCapacity, outNdim)
            let total = try elementCount(shape, "the output")
            guard let buf = try outputBuffer(out, capacity: capacity, count: total, count) else { return }
            try m.predict(x: xv, batchSize: Int(batchSize), into: buf)
        }
    }
}

private func weight(_ m: Model, _ index: Int32) throws -> (String, Param) {
    let params = m.params, names = m.weightNames
    guard m.isBuilt else { throw LSTMKitError(.wrongState, "the model has no weights yet: give it an input_shape, or fit or predict once") }
    guard index >= 0 && Int(index) < params.count else {
        throw LSTMKitError(.invalidArgument, "weight index \(index) is out of range 0..<\(params.count)")
    }
    return (names[Int(index)], params[Int(index)])
}

@_cdecl("lstmkit_model_weight_count")
public func lstmkit_model_weight_count(_ h: OpaquePointer?, _ n: UnsafeMutablePointer<Int32>?) -> Int32 {
    apiCall {
        let count = try withModel(h, .shared) { $0.params.count }
        try requirePointer(n, "n").pointee = Int32(count)
    }
}

@_cdecl("lstmkit_model_weight_info")
public func lstmkit_model_weight_info(_ h: OpaquePointer?, _ index: Int32, _ name: UnsafeMutablePointer<CChar>?,
                                      _ nameCapacity: Int, _ nameNeeded: UnsafeMutablePointer<Int>?,
                                      _ shape: UnsafeMutablePointer<Int64>?, _ shapeCapacity: Int32,
                                      _ ndim: UnsafeMutablePointer<Int32>?) -> Int32 {
    apiCall {
        let (n, p) = try withModel(h, .shared) { try weight($0, index) }
        try writeText(n, name, nameCapacity, nameNeeded)
        try writeShape(p.shape, shape, shapeCapacity, ndim)
    }
}

@_cdecl("lstmkit_model_get_weight")
public func lstmkit_model_get_weight(_ h: OpaquePointer?, _ index: Int32, _ out: UnsafeMutablePointer<Float>?,
                                     _ capacity: Int, _ count: UnsafeMutablePointer<Int>?) -> Int32 {
    apiCall {
        try withModel(h, .shared) { m in
            let (_, p) = try weight(m, index)
            guard let buf = try outputBuffer(out, capacity: capacity, count: p.count, count) else { return }
            p.withValue { buf.update(from: $0.baseAddress!, count: p.count) }
        }
    }
}

@_cdecl("lstmkit_model_set_weight")
public func lstmkit_model_set_weight(_ h: OpaquePointer?, _ index: Int32, _ values: UnsafePointer<Float>?,
                                     _ count: Int) -> Int32 {
    apiCall {
        try withModel(h) { m in
            let (name, p) = try weight(m, index)
            let values = try requirePointer(values, "values")
            guard count == p.count else {
                throw LSTMKitError(.invalidArgument, "weight '\(name)' has \(p.count) values (shape \(p.shape)), got \(count)")
            }
            let new = Array(UnsafeBufferPointer(start: values, count: count))
            if let bad = new.firstIndex(where: { !$0.isFinite }) {
                throw LSTMKitError(.invalidArgument, "values[\(bad)] is \(new[bad]); weights must be finite")
            }
            p.value = new
        }
    }
}

@_cdecl("lstmkit_model_save")
public func lstmkit_model_save(_ h: OpaquePointer?, _ path: UnsafePointer<CChar>?) -> Int32 {
    apiCall {
        let path = try cString(path, "path")
        try require(!path.isEmpty, "path is empty")
        try withModel(h, .shared) { try $0.save(path: path) }
    }
}

@_cdecl("lstmkit_model_load")
public func lstmkit_model_load(_ path: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    apiCall {
        let out = try requirePointer(out, "out")
        out.pointee = nil
        let path = try cString(path, "path")
        try require(!path.isEmpty, "path is empty")
        out.pointee = HandleRegistry.register(try Model.load(path: path))
    }
}

@_cdecl("lstmkit_model_set_tokenizer")
public func lstmkit_model_set_tokenizer(_ h: OpaquePointer?, _ t: OpaquePointer?) -> Int32 {
    apiCall {
        let copy = try t.map { try HandleRegistry.with($0, as: Tokenizer.self, "tokenizer") { $0.sharedCopy() } }
        try withModel(h) { $0.tokenizer = copy }
    }
}

@_cdecl("lstmkit_model_get_tokenizer")
public func lstmkit_model_get_tokenizer(_ h: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    apiCall {
        let out = try requirePointer(out, "out")
        out.pointee = nil
        if let t = try withModel(h, .shared, { $0.tokenizer?.copy() }) { out.pointee = HandleRegistry.register(t) }
    }
}
