import CLSTMKitABI

// The C entry points for streams (lstmkit_state_*): argument checks and the handle rules; the
// work is in Training/Streaming.swift. A state's calls have the state to themselves (two
// threads stepping one state wait for each other) and read the model as predict does (beside
// other states' steps and predicts; set_weight and compile wait for them; refused while another
// thread fits the model).

private func withState<R>(_ h: OpaquePointer?, _ body: (StreamState) throws -> R) throws -> R {
    try HandleRegistry.with(h, as: StreamState.self, "state", .read, body)
}

@_cdecl("lstmkit_state_create")
public func lstmkit_state_create(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    apiCall {
        let out = try requirePointer(out, "out")
        out.pointee = nil
        let (m, entry) = try HandleRegistry.entry(model, as: Model.self, "model")
        try entry.use(.shared, "model") { try m.checkStreamable() }
        out.pointee = HandleRegistry.register(StreamState(model: m, modelEntry: entry))
    }
}

@_cdecl("lstmkit_state_free")
public func lstmkit_state_free(_ h: OpaquePointer?) {
    HandleRegistry.release(h, as: StreamState.self)
}

@_cdecl("lstmkit_state_reset")
public func lstmkit_state_reset(_ h: OpaquePointer?) -> Int32 {
    apiCall { try withState(h) { $0.reset() } }
}

@_cdecl("lstmkit_state_copy")
public func lstmkit_state_copy(_ h: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    apiCall {
        let out = try requirePointer(out, "out")
        out.pointee = nil
        let copy = try withState(h) { $0.copy() }
        out.pointee = HandleRegistry.register(copy)
    }
}

@_cdecl("lstmkit_state_step")
public func lstmkit_state_step(_ h: OpaquePointer?, _ x: UnsafePointer<lstmkit_array>?,
                               _ out: UnsafeMutablePointer<Float>?, _ capacity: Int, _ count: UnsafeMutablePointer<Int>?,
                               _ outShape: UnsafeMutablePointer<Int64>?, _ shapeCapacity: Int32,
                               _ outNdim: UnsafeMutablePointer<Int32>?) -> Int32 {
    apiCall {
        try withState(h) { state in
            let xv = try dataView(x, "x")
            try state.modelEntry.use(.shared, "the state's model") {
                let shape = try state.model.stepShape(xv)
                try writeShape(shape, outShape, shapeCapacity, outNdim)
                let total = try elementCount(shape, "the output")
                guard let buf = try outputBuffer(out, capacity: capacity, count: total, count) else { return }
                try state.model.step(state, x: xv, into: buf)
            }
        }
    }
}
