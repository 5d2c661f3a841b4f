import Glibc

/// One named float32 tensor as stored in a model file. `values` are row-major.
public struct TensorRecord: Equatable, Sendable {
    public var name: String
    public var shape: [Int]
    public var values: [Float]
    public init(name: String, shape: [Int], values: [Float]) {
        self.name = name
        self.shape = shape
        self.values = values
    }
}

/// The model-file container: the safetensors format (readable by Python's `safetensors` and by a
/// plain `json.loads` of the header), restricted to F32 and carrying a CRC-32 in its metadata.
public enum Safetensors {
    public static let checksumKey = "lstmkit.crc32"

    /// Same limit as the reference implementation, so anything we accept it accepts too.
    static let maxHeaderBytes: UInt64 = 100_000_000
    static let maxFileBytes: Int = 4 << 30
    static let metadataKey = "__metadata__"
    /// The fuzzing build (fuzz/run.sh, -DLSTMKIT_FUZZING) accepts any well-formed checksum, so
    /// mutated files get past it to the configuration, weights and tokenizer they carry.
    #if LSTMKIT_FUZZING
    static let ignoresChecksum = true
    #else
    static let ignoresChecksum = false
    #endif

    // MARK: Encode

    /// Tensors are laid out in the given order. Adds metadata[checksumKey] = 8 hex digits of the CRC-32
    /// (IEEE, as zlib) over: every other metadata value in sorted key order (UTF-8), then the data section.
    /// "Sorted" is UTF-8 byte order, which is also code point order.
    public static func encode(metadata: [String: String], tensors: [TensorRecord]) throws -> [UInt8] {
        var names = Set<String>()
        var dataSize = 0
        for t in tensors {
            guard t.name != metadataKey else {
                throw LSTMKitError(.invalidArgument, "tensor name '\(metadataKey)' is reserved")
            }
            guard names.insert(t.name).inserted else {
                throw LSTMKitError(.invalidArgument, "duplicate tensor name '\(t.name)'")
            }
            let count = try elementCount(t.shape) { LSTMKitError(.invalidArgument, "tensor '\(t.name)': \($0)") }
            guard count == t.values.count else {
                throw LSTMKitError(.invalidArgument,
                    "tensor '\(t.name)': shape \(t.shape) holds \(count) values but \(t.values.count) were given")
            }
            let (sum, overflow) = dataSize.addingReportingOverflow(count * 4)
            guard !overflow else { throw LSTMKitError(.invalidArgument, "tensors too large to encode") }
            dataSize = sum
        }

        var data = [UInt8](repeating: 0, count: dataSize)
        var header: [String: JSON] = [:]
        var offset = 0
        data.withUnsafeMutableBytes { out in
            for t in tensors {
                let n = t.values.count * 4
                t.values.withUnsafeBytes { src in
                    #if _endian(little)
                    if n > 0 { out.baseAddress!.advanced(by: offset).copyMemory(from: src.baseAddress!, byteCount: n) }
                    #else
                    for (i, v) in t.values.enumerated() {
                        out.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: offset + 4 * i, as: UInt32.self)
                    }
                    #endif
                }
                header[t.name] = .object([
                    "dtype": "F32",
                    "shape": .array(t.shape.map { .number(Double($0)) }),
                    "data_offsets": [.number(Double(offset)), .number(Double(offset + n))],
                ])
                offset += n
            }
        }

        var meta = metadata
        meta[checksumKey] = nil
        let crc = data.withUnsafeBytes { checksum(metadata: meta, data: $0) }
        meta[checksumKey] = hex8(crc)
        header[metadataKey] = .object(meta.mapValues { .string($0) })

        var headerBytes = Array(JSON.object(header).serialized().utf8)
        // Padding keeps the data section 8-byte aligned for readers that map the file.
        while headerBytes.count % 8 != 0 { headerBytes.append(UInt8(ascii: " ")) }

        var file: [UInt8] = []
        file.reserveCapacity(8 + headerBytes.count + data.count)
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(contentsOf: headerBytes)
        file.append(contentsOf: data)
        return file
    }

    // MARK: Decode

    /// Validates everything and throws LSTMKitError(.format, ...) on any problem. Returns tensors in
    /// data-offset order.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws -> (metadata: [String: String], tensors: [TensorRecord]) {
        func bad(_ message: String) -> LSTMKitError { LSTMKitError(.format, message) }

        guard bytes.count >= 8 else {
            throw bad("file too short: \(bytes.count) bytes, the header length alone takes 8")
        }
        let headerLength = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
        guard headerLength <= maxHeaderBytes else {
            throw bad("header length \(headerLength) exceeds the \(maxHeaderBytes)-byte limit")
        }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw bad("header length \(headerLength) runs past the end of the \(bytes.count)-byte file")
        }
        let dataStart = 8 + Int(headerLength)
        let dataSize = bytes.count - dataStart
        let headerBytes = UnsafeRawBufferPointer(rebasing: bytes[8..<dataStart])
        guard headerBytes.first == UInt8(ascii: "{") else {
            throw bad("header does not start with '{'")
        }

        let header: JSON
        do {
            header = try JSON.parse(bytes: headerBytes)
        } catch let e as LSTMKitError {
            throw bad("header: \(e.message)")
        }
        guard let entries = header.objectValue else { throw bad("header is not a JSON object") }

        var metadata: [String: String] = [:]
        if let m = entries[metadataKey] {
            guard let fields = m.objectValue else { throw bad("\(metadataKey) is not an object") }
            for (k, v) in fields {
                guard let s = v.stringValue else { throw bad("\(metadataKey) value for '\(k)' is not a string") }
                metadata[k] = s
            }
        }

        struct Entry {
            var name: String
            var shape: [Int]
            var begin: Int
            var end: Int
        }
        var layout: [Entry] = []
        layout.reserveCapacity(entries.count)
        for (name, info) in entries where name != metadataKey {
            guard let fields = info.objectValue else { throw bad("tensor '\(name)': entry is not an object") }
            for key in fields.keys where key != "dtype" && key != "shape" && key != "data_offsets" {
                throw bad("tensor '\(name)': unexpected field '\(key)'")
            }
            guard let dtype = fields["dtype"] else { throw bad("tensor '\(name)': missing dtype") }
            guard dtype == "F32" else {
                throw bad("tensor '\(name)': unsupported dtype \(dtype.serialized()) (only F32)")
            }
            guard let shapeArray = fields["shape"]?.arrayValue else {
                throw bad("tensor '\(name)': missing or non-array shape")
            }
            var shape: [Int] = []
            for d in shapeArray {
                guard let n = d.intValue, n >= 0 else {
                    throw bad("tensor '\(name)': shape dimension \(d.serialized()) is not a non-negative integer")
                }
                shape.append(n)
            }
            let count = try elementCount(shape) { bad("tensor '\(name)': \($0)") }
            guard let offsets = fields["data_offsets"]?.arrayValue, offsets.count == 2,
                  let begin = offsets[0].intValue, let end = offsets[1].intValue
            else { throw bad("tensor '\(name)': data_offsets must be two integers") }
            guard begin >= 0, begin <= end else {
                throw bad("tensor '\(name)': data_offsets [\(begin), \(end)] are not an ascending non-negative range")
            }
            guard end <= dataSize else {
                throw bad("tensor '\(name)': data_offsets [\(begin), \(end)] run past the \(dataSize)-byte data section")
            }
            let (byteCount, overflow) = count.multipliedReportingOverflow(by: 4)
            guard !overflow, end - begin == byteCount else {
                throw bad("tensor '\(name)': data_offsets [\(begin), \(end)] span \(end - begin) bytes but shape \(shape) needs \(count) x 4")
            }
            layout.append(Entry(name: name, shape: shape, begin: begin, end: end))
        }

        // Tensors must tile the data section exactly: no overlaps, no gaps, nothing after the last.
        layout.sort {
            if $0.begin != $1.begin { return $0.begin < $1.begin }
            if $0.end != $1.end { return $0.end < $1.end }
            return $0.name.utf8.lexicographicallyPrecedes($1.name.utf8)  // deterministic order for empty tensors
        }
        var cursor = 0
        for e in layout {
            if e.begin < cursor {
                throw bad("tensor '\(e.name)': data_offsets [\(e.begin), \(e.end)] overlap the previous tensor, which ends at \(cursor)")
            }
            if e.begin > cursor {
                throw bad("data section bytes \(cursor)..<\(e.begin) are not covered by any tensor")
            }
            cursor = e.end
        }
        if cursor != dataSize {
            throw bad("data section bytes \(cursor)..<\(dataSize) are not covered by any tensor")
        }

        let data = UnsafeRawBufferPointer(rebasing: bytes[dataStart...])
        guard let stored = metadata[checksumKey] else { throw bad("missing checksum (\(checksumKey))") }
        var others = metadata
        others[checksumKey] = nil
        let actual = checksum(metadata: others, data: data)
        guard let expected = parseHex8(stored), expected == actual || ignoresChecksum else {
            throw bad("checksum mismatch: the file is corrupt")
        }

        var tensors: [TensorRecord] = []
        tensors.reserveCapacity(layout.count)
        for e in layout {
            let n = (e.end - e.begin) / 4
            let values = [Float](unsafeUninitializedCapacity: n) { buffer, initialized in
                #if _endian(little)
                if n > 0 {
                    UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: data.baseAddress! + e.begin, byteCount: n * 4)
                }
                #else
                for i in 0..<n {
                    let bits = data.loadUnaligned(fromByteOffset: e.begin + 4 * i, as: UInt32.self)
                    buffer[i] = Float(bitPattern: UInt32(littleEndian: bits))
                }
                #endif
                initialized = n
            }
            tensors.append(TensorRecord(name: e.name, shape: e.shape, values: values))
        }
        return (metadata, tensors)
    }

    // MARK: Files

    /// Atomic write through FileReplace (Support/FileReplace.swift): an existing `path` is either
    /// replaced whole or, on failure, left untouched; throws LSTMKitError(.io, "cannot write <path>: ...").
    public static func write(path: String, metadata: [String: String], tensors: [TensorRecord]) throws {
        try FileReplace.replace(path: path, with: encode(metadata: metadata, tensors: tensors))
    }

    /// Reads the whole file (.io if it cannot be opened/read, .format for content problems; refuses
    /// files over 4 GiB) and decodes it.
    public static func read(path: String) throws -> (metadata: [String: String], tensors: [TensorRecord]) {
        func fail(_ err: Int32) -> LSTMKitError {
            LSTMKitError(.io, "cannot read \(path): \(FileReplace.errorText(err))")
        }
        let fd = try FileReplace.openForReading(path)
        defer { close(fd) }

        var st = stat()
        guard fstat(fd, &st) == 0 else { throw fail(errno) }
        guard st.st_size <= maxFileBytes else {
            throw LSTMKitError(.format, "cannot read \(path): \(st.st_size) bytes is over the 4 GiB limit for a model file")
        }
        let size = Int(st.st_size)

        var err: Int32 = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            // Stops early at EOF if the file shrank meanwhile; decode then reports what is missing.
            while initialized < size {
                let n = Glibc.read(fd, buffer.baseAddress! + initialized, size - initialized)
                if n < 0 {
                    if errno == EINTR { continue }
                    err = errno
                    return
                }
                if n == 0 { return }
                initialized += n
            }
        }
        if err != 0 { throw fail(err) }
        return try bytes.withUnsafeBytes { try decode($0) }
    }

    // MARK: Helpers

    /// Product of the dimensions, or an error if it overflows or cannot be addressed as bytes.
    private static func elementCount(_ shape: [Int], _ error: (String) -> LSTMKitError) throws -> Int {
        var count = 1
        for d in shape {
            guard d >= 0 else { throw error("negative dimension in shape \(shape)") }
            let (p, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow else { throw error("shape \(shape) overflows") }
            count = p
        }
        guard count <= Int.max / 4 else { throw error("shape \(shape) overflows") }
        return count
    }

    static func checksum(metadata: [String: String], data: UnsafeRawBufferPointer) -> UInt32 {
        var crc = CRC32()
        for key in metadata.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            var value = metadata[key]!
            value.withUTF8 { crc.update(UnsafeRawBufferPointer($0)) }
        }
        crc.update(data)
        return crc.value
    }

    private static func hex8(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 8 - s.count) + s
    }

    private static func parseHex8(_ s: String) -> UInt32? {
        guard s.utf8.count == 8 else { return nil }
        return UInt32(s, radix: 16)
    }

}

extension Safetensors {
    /// CRC-32 (IEEE 802.3 polynomial, reflected), identical to zlib's crc32(). Slicing-by-8,
    /// because a checksum over a large model file should not dominate its load time.
    struct CRC32 {
        private static let tables: [UInt32] = {
            var t = [UInt32](repeating: 0, count: 8 * 256)
            for i in 0..<256 {
                var c = UInt32(i)
                for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
                t[i] = c
            }
            for i in 0..<256 {
                for k in 1..<8 {
                    let prev = t[(k - 1) * 256 + i]
                    t[k * 256 + i] = t[Int(prev & 0xFF)] ^ (prev >> 8)
                }
            }
            return t
        }()

        private var state: UInt32 = 0xFFFF_FFFF

        mutating func update(_ bytes: UnsafeRawBufferPointer) {
            var c = state
            var i = 0
            let n = bytes.count
            Self.tables.withUnsafeBufferPointer { t in
                while n - i >= 8 {
                    let lo = c ^ UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt32.self))
                    let hi = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self))
                    c = t[7 * 256 + Int(lo & 0xFF)] ^ t[6 * 256 + Int((lo >> 8) & 0xFF)]
                        ^ t[5 * 256 + Int((lo >> 16) & 0xFF)] ^ t[4 * 256 + Int(lo >> 24)]
                        ^ t[3 * 256 + Int(hi & 0xFF)] ^ t[2 * 256 + Int((hi >> 8) & 0xFF)]
                        ^ t[1 * 256 + Int((hi >> 16) & 0xFF)] ^ t[Int(hi >> 24)]
                    i += 8
                }
                while i < n {
                    c = t[Int((c ^ UInt32(bytes[i])) & 0xFF)] ^ (c >> 8)
                    i += 1
                }
            }
            state = c
        }

        var value: UInt32 { state ^ 0xFFFF_FFFF }
    }
}
