import Glibc
import XCTest
@testable import LSTMKit

final class SafetensorsTests: XCTestCase {
    // MARK: Helpers

    private let sample: [TensorRecord] = [
        TensorRecord(name: "lstm/kernel", shape: [2, 3], values: [1, -2, 3.5, 0, -0.0, 1e-30]),
        TensorRecord(name: "lstm/bias", shape: [3], values: [0.25, .greatestFiniteMagnitude, -.infinity]),
        TensorRecord(name: "scalar", shape: [], values: [42]),
        TensorRecord(name: "empty", shape: [0, 5], values: []),
        TensorRecord(name: "dense/κ 😀", shape: [1, 1, 2], values: [.leastNonzeroMagnitude, 7]),
    ]
    private let sampleMetadata = ["format": "lstmkit", "config": #"{"units": 3}"#, "note": "é"]

    private func decode(_ bytes: [UInt8]) throws -> (metadata: [String: String], tensors: [TensorRecord]) {
        try bytes.withUnsafeBytes { try Safetensors.decode($0) }
    }

    /// Asserts decode fails with .format; returns the message for further checks.
    @discardableResult
    private func assertFormatError(_ bytes: [UInt8], mentioning phrase: String? = nil, _ label: String = "",
                                   file: StaticString = #filePath, line: UInt = #line) -> String? {
        do {
            _ = try decode(bytes)
            XCTFail("decode accepted a bad file \(label)", file: file, line: line)
        } catch let e as LSTMKitError {
            XCTAssertEqual(e.status, .format, "\(label): \(e.message)", file: file, line: line)
            if let phrase {
                XCTAssertTrue(e.message.contains(phrase), "\(label): '\(e.message)' lacks '\(phrase)'",
                              file: file, line: line)
            }
            return e.message
        } catch {
            XCTFail("\(label): unexpected error \(error)", file: file, line: line)
        }
        return nil
    }

    /// A file from a hand-written header: the length prefix, the header, then `data`.
    private func rawFile(header: String, data: [UInt8] = []) -> [UInt8] {
        let h = Array(header.utf8)
        var out: [UInt8] = []
        withUnsafeBytes(of: UInt64(h.count).littleEndian) { out.append(contentsOf: $0) }
        return out + h + data
    }

    /// A hand-written header for one tensor, with a correct checksum so only the intended
    /// problem can be reported. (The CRC itself is checked against zlib's values separately.)
    private func oneTensorFile(tensorJSON: String, data: [UInt8]) -> [UInt8] {
        let crc = data.withUnsafeBytes { Safetensors.checksum(metadata: [:], data: $0) }
        let hex = String(crc, radix: 16)
        let crcText = String(repeating: "0", count: 8 - hex.count) + hex
        return rawFile(header: #"{"__metadata__":{"lstmkit.crc32":"\#(crcText)"},"t":\#(tensorJSON)}"#, data: data)
    }

    private func headerRange(of file: [UInt8]) -> Range<Int> {
        let n = file[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        return 8..<(8 + n)
    }

    private func range(of needle: String, in file: [UInt8]) -> Range<Int>? {
        let n = Array(needle.utf8)
        guard n.count <= file.count else { return nil }
        for i in 0...(file.count - n.count) where Array(file[i..<(i + n.count)]) == n {
            return i..<(i + n.count)
        }
        return nil
    }

    private func makeTempDir() -> String {
        var template = Array("/tmp/lstmkit-st-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        XCTAssertNotNil(p)
        return String(cString: template)
    }

    private func removeTree(_ path: String) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if st.st_mode & S_IFMT == S_IFDIR {
            if let dir = opendir(path) {
                while let entry = readdir(dir) {
                    let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                        String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
                    }
                    if name != "." && name != ".." { removeTree(path + "/" + name) }
                }
                closedir(dir)
            }
            rmdir(path)
        } else {
            unlink(path)
        }
    }

    private func listDir(_ path: String) -> [String] {
        var names: [String] = []
        if let dir = opendir(path) {
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
                }
                if name != "." && name != ".." { names.append(name) }
            }
            closedir(dir)
        }
        return names.sorted()
    }

    private func readBytes(_ path: String) -> [UInt8]? {
        guard let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n == 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        return out
    }

    private func writeBytes(_ bytes: [UInt8], to path: String) {
        let f = fopen(path, "wb")!
        XCTAssertEqual(fwrite(bytes, 1, bytes.count, f), bytes.count)
        fclose(f)
    }

    private func assertIOError(_ body: () throws -> Void, prefix: String,
                               file: StaticString = #filePath, line: UInt = #line) {
        do {
            try body()
            XCTFail("expected an I/O error", file: file, line: line)
        } catch let e as LSTMKitError {
            XCTAssertEqual(e.status, .io, e.message, file: file, line: line)
            XCTAssertTrue(e.message.hasPrefix(prefix), "'\(e.message)' should start with '\(prefix)'",
                          file: file, line: line)
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
    }

    // MARK: CRC

    func testCRC32MatchesZlib() {
        func crc(_ s: String) -> UInt32 {
            var c = Safetensors.CRC32()
            Array(s.utf8).withUnsafeBytes { c.update($0) }
            return c.value
        }
        // Standard check values of CRC-32/ISO-HDLC (zlib.crc32).
        XCTAssertEqual(crc(""), 0)
        XCTAssertEqual(crc("123456789"), 0xCBF4_3926)
        XCTAssertEqual(crc("The quick brown fox jumps over the lazy dog"), 0x414F_A339)
        // Fed in pieces of every size, the slicing path must agree with the byte-wise one.
        let text = Array("The quick brown fox jumps over the lazy dog".utf8)
        for split in 0...text.count {
            var c = Safetensors.CRC32()
            text[0..<split].withUnsafeBytes { c.update($0) }
            text[split...].withUnsafeBytes { c.update($0) }
            XCTAssertEqual(c.value, 0x414F_A339, "split at \(split)")
        }
    }

    // MARK: Round trip

    func testRoundTrip() throws {
        let bytes = try Safetensors.encode(metadata: sampleMetadata, tensors: sample)
        let (metadata, tensors) = try decode(bytes)
        // Decoded in data-offset order, which is the order given to encode.
        XCTAssertEqual(tensors.map(\.name), sample.map(\.name))
        for (got, want) in zip(tensors, sample) {
            XCTAssertEqual(got.shape, want.shape, want.name)
            XCTAssertEqual(got.values.map(\.bitPattern), want.values.map(\.bitPattern), want.name)
        }
        XCTAssertEqual(metadata.count, sampleMetadata.count + 1)
        for (k, v) in sampleMetadata { XCTAssertEqual(metadata[k], v) }
        let crc = try XCTUnwrap(metadata[Safetensors.checksumKey])
        XCTAssertEqual(crc.utf8.count, 8)
        XCTAssertTrue(crc.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) })
    }

    func testNaNPayloadSurvives() throws {
        let nan = Float(bitPattern: 0x7FC0_1234)
        let bytes = try Safetensors.encode(metadata: [:], tensors: [TensorRecord(name: "n", shape: [1], values: [nan])])
        XCTAssertEqual(try decode(bytes).tensors[0].values[0].bitPattern, 0x7FC0_1234)
    }

    func testTensorsComeBackInDataOffsetOrder() throws {
        // Names sort the other way round, so a name-ordered decode would be caught.
        let given = [TensorRecord(name: "z", shape: [1], values: [1]),
                     TensorRecord(name: "a", shape: [2], values: [2, 3]),
                     TensorRecord(name: "m", shape: [1], values: [4])]
        let bytes = try Safetensors.encode(metadata: [:], tensors: given)
        XCTAssertEqual(try decode(bytes).tensors, given)
    }

    func testNoTensors() throws {
        let bytes = try Safetensors.encode(metadata: ["a": "b"], tensors: [])
        let (metadata, tensors) = try decode(bytes)
        XCTAssertEqual(metadata["a"], "b")
        XCTAssertTrue(tensors.isEmpty)
    }

    func testCallerChecksumIsReplaced() throws {
        let a = try Safetensors.encode(metadata: ["k": "v"], tensors: sample)
        let b = try Safetensors.encode(metadata: ["k": "v", Safetensors.checksumKey: "deadbeef"], tensors: sample)
        XCTAssertEqual(a, b)
    }

    // MARK: Exact layout

    func testHeaderMatchesHandWrittenLayout() throws {
        let bytes = try Safetensors.encode(metadata: ["k": "v"],
                                           tensors: [TensorRecord(name: "w", shape: [2], values: [1.0, -2.0])])
        // zlib.crc32(b"v" + struct.pack("<ff", 1.0, -2.0)) == 0xc31557ce
        let json = #"{"__metadata__":{"k":"v","lstmkit.crc32":"c31557ce"},"w":{"data_offsets":[0,8],"dtype":"F32","shape":[2]}}"#
        XCTAssertEqual(json.utf8.count, 106)
        var expected: [UInt8] = [112, 0, 0, 0, 0, 0, 0, 0]   // 106 bytes padded to 112
        expected += Array(json.utf8)
        expected += [UInt8](repeating: 0x20, count: 6)
        expected += [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0]   // 1.0f, -2.0f little-endian
        XCTAssertEqual(bytes, expected)
        XCTAssertEqual(String(decoding: bytes[8..<120], as: UTF8.self), json + "      ")
    }

    func testHeaderIsPaddedToMultipleOfEight() throws {
        for nameLength in 1...16 {
            let name = String(repeating: "n", count: nameLength)
            let bytes = try Safetensors.encode(metadata: [:], tensors: [TensorRecord(name: name, shape: [1], values: [1])])
            let h = headerRange(of: bytes)
            XCTAssertEqual(h.upperBound % 8, 0)
            XCTAssertEqual(bytes.count, h.upperBound + 4)
        }
    }

    func testDecodesForeignPaddingAndKeyOrder() throws {
        // Another writer may order keys differently, not pad, or pad with trailing whitespace.
        let data: [UInt8] = [0, 0, 0x80, 0x3F]
        let file = oneTensorFile(tensorJSON: #" {"shape":[1], "data_offsets":[0,4], "dtype":"F32"} "#, data: data)
        XCTAssertEqual(try decode(file).tensors, [TensorRecord(name: "t", shape: [1], values: [1])])
    }

    // MARK: Corruption

    func testTruncationAtEveryPositionIsAFormatError() throws {
        let bytes = try Safetensors.encode(metadata: ["k": "value"], tensors: [
            TensorRecord(name: "a", shape: [2], values: [1, 2]),
            TensorRecord(name: "b", shape: [1, 3], values: [3, 4, 5]),
        ])
        for n in 0..<bytes.count {
            assertFormatError(Array(bytes[0..<n]), "truncated to \(n)")
        }
        XCTAssertNoThrow(try decode(bytes))
    }

    func testBitFlipInDataOrMetadataValueIsDetected() throws {
        let metadata = ["config": #"{"units": 8, "name": "x"}"#, "a": "plain"]
        let bytes = try Safetensors.encode(metadata: metadata, tensors: [
            TensorRecord(name: "w", shape: [2, 2], values: [0.5, -1, 2, 3]),
            TensorRecord(name: "b", shape: [2], values: [0, 0]),
        ])
        let header = headerRange(of: bytes)
        var targets = Array(header.upperBound..<bytes.count)     // the data section
        for value in ["\"plain\"", #""{\"units\": 8, \"name\": \"x\"}""#] {
            let r = try XCTUnwrap(range(of: value, in: bytes), value)
            targets += Array((r.lowerBound + 1)..<(r.upperBound - 1))  // inside the quotes
        }
        for i in targets {
            for bit in 0..<8 {
                var bad = bytes
                bad[i] ^= 1 << bit
                assertFormatError(bad, "bit \(bit) of byte \(i)")
            }
        }
        // Only a change of data is left to the checksum; it must say so.
        var bad = bytes
        bad[bytes.count - 1] ^= 0x01
        assertFormatError(bad, mentioning: "checksum mismatch: the file is corrupt")
    }

    func testBitFlipAnywhereNeverCrashes() throws {
        let bytes = try Safetensors.encode(metadata: ["k": "v"], tensors: [
            TensorRecord(name: "w", shape: [3], values: [1, 2, 3]),
        ])
        for i in 0..<bytes.count {
            for bit in 0..<8 {
                var bad = bytes
                bad[i] ^= 1 << bit
                do {
                    _ = try decode(bad)
                } catch let e as LSTMKitError {
                    XCTAssertEqual(e.status, .format, "byte \(i) bit \(bit): \(e.message)")
                }
            }
        }
    }

    // MARK: Rejections

    func testShortFile() {
        assertFormatError([], mentioning: "too short")
        assertFormatError([1, 0, 0, 0, 0, 0, 0], mentioning: "too short")
    }

    func testHeaderLengthBeyondFile() {
        var file = rawFile(header: "{}")
        file[0] = 3
        assertFormatError(file, mentioning: "past the end")
        assertFormatError([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7B, 0x7D], mentioning: "limit")
    }

    func testHeaderOver100MBIsRefusedBeforeReading() {
        // 100_000_001 as little-endian: refused by the limit even though the file is tiny.
        let n: UInt64 = 100_000_001
        var file: [UInt8] = []
        withUnsafeBytes(of: n.littleEndian) { file.append(contentsOf: $0) }
        file += Array("{}".utf8)
        assertFormatError(file, mentioning: "100000000-byte limit")
    }

    func testBadJSONHeader() {
        assertFormatError(rawFile(header: "{\"a\": }"), mentioning: "invalid JSON")
        assertFormatError(rawFile(header: "{}x"), mentioning: "invalid JSON")
        assertFormatError(rawFile(header: "[]"), mentioning: "'{'")
        assertFormatError(rawFile(header: " {}"), mentioning: "'{'")
        assertFormatError(rawFile(header: ""), mentioning: "'{'")
        assertFormatError(rawFile(header: "{\"t\": 5}"), mentioning: "not an object")
    }

    func testUnknownDtype() {
        let file = oneTensorFile(tensorJSON: #"{"dtype":"F16","shape":[2],"data_offsets":[0,4]}"#, data: [0, 0, 0, 0])
        assertFormatError(file, mentioning: "dtype \"F16\" (only F32)")
        assertFormatError(oneTensorFile(tensorJSON: #"{"dtype":"F64","shape":[1],"data_offsets":[0,8]}"#, data: [UInt8](repeating: 0, count: 8)),
                          mentioning: "only F32")
        assertFormatError(oneTensorFile(tensorJSON: #"{"shape":[1],"data_offsets":[0,4]}"#, data: [0, 0, 0, 0]),
                          mentioning: "missing dtype")
    }

    func testBadShapes() {
        let data: [UInt8] = [0, 0, 0, 0]
        assertFormatError(oneTensorFile(tensorJSON: #"{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}"#, data: data),
                          mentioning: "non-negative")
        assertFormatError(oneTensorFile(tensorJSON: #"{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}"#, data: data),
                          mentioning: "non-negative integer")
        assertFormatError(oneTensorFile(tensorJSON: #"{"dtype":"F32","shape":["1"],"data_offsets":[0,4]}"#, data: data))
        assertFormatError(oneTensorFile(tensorJSON: #"{"dtype":"F32","shape":1,"data_offsets":[0,4]}"#, data: data),
                          mentioning: "shape")
        // 2^32 * 2^32 overflows Int; 2^62 elements overflow the byte count.
        assertFormatError(oneTensorFile(tensorJSON: #"{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}"#, data: data),
                          mentioning: "overflows")
        assertFormatError(oneTensorFile(tensorJSON: #"{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,4]}"#, data: data),
                          mentioning: "overflows")
        assertFormatError(oneTensorFile(tensorJSON: #"{"dtype":"F32","shape":[1e300],"data_offsets":[0,4]}"#, data: data))
    }

    func testBadOffsets() {
        let data = [UInt8](repeating: 0, count: 8)
        assertFormatError(oneTensorFile(tensorJSON: #"{"dtype":"F32","shape":[2],"data_offsets":[0,12]}"#, data: data),
                          mentioning: "run past")
        assertFormatError(oneTensorFile(tensorJSON: #"{"dtype":"F32","shape":[1],"data_offsets":[8,4]}"#, data: data),
                          mentioning: "ascending")
        assertFormatError(oneTensorFile(tensorJSON: #"{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}"#, data: data),
                          mentioning: "ascending")
        assertFormatError(oneTensorFile(tensorJSON: #"{"dtype":"F32","shape":[1],"data_offsets":[0,8]}"#, data: data),
                          mentioning: "needs 1 x 4")
        assertFormatError(oneTensorFile(tensorJSON: #"{"dtype":"F32","shape":[2],"data_offsets":[0]}"#, data: data),
                          mentioning: "two integers")
        assertFormatError(oneTensorFile(tensorJSON: #"{"dtype":"F32","shape":[2],"data_offsets":[0,8,8]}"#, data: data),
                          mentioning: "two integers")
        assertFormatError(oneTensorFile(tensorJSON: #"{"dtype":"F32","shape":[2],"data_offsets":[0.5,8]}"#, data: data),
                          mentioning: "two integers")
        assertFormatError(oneTensorFile(tensorJSON: #"{"dtype":"F32","shape":[2]}"#, data: data),
                          mentioning: "two integers")
    }

    func testOverlapGapsAndUncoveredBytes() {
        func file(_ tensors: String, dataCount: Int) -> [UInt8] {
            rawFile(header: #"{"__metadata__":{"lstmkit.crc32":"00000000"}"# + (tensors.isEmpty ? "" : ",") + tensors + "}",
                    data: [UInt8](repeating: 0, count: dataCount))
        }
        assertFormatError(file(#""a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}"#,
                               dataCount: 12), mentioning: "overlap")
        assertFormatError(file(#""a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#,
                               dataCount: 8), mentioning: "overlap")
        assertFormatError(file(#""a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}"#,
                               dataCount: 12), mentioning: "bytes 4..<8 are not covered")
        assertFormatError(file(#""a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}"#,
                               dataCount: 8), mentioning: "bytes 0..<4 are not covered")
        assertFormatError(file(#""a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}"#,
                               dataCount: 6), mentioning: "bytes 4..<6 are not covered")
        assertFormatError(file("", dataCount: 4), mentioning: "bytes 0..<4 are not covered")
        // An empty tensor placed inside another one.
        assertFormatError(file(#""a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}"#,
                               dataCount: 8), mentioning: "overlap")
    }

    func testMalformedEntries() {
        let data: [UInt8] = [0, 0, 0, 0]
        assertFormatError(oneTensorFile(tensorJSON: #"[1]"#, data: data), mentioning: "not an object")
        assertFormatError(oneTensorFile(tensorJSON: #"{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}"#, data: data),
                          mentioning: "unexpected field 'x'")
        assertFormatError(rawFile(header: #"{"__metadata__":{"lstmkit.crc32":5}}"#), mentioning: "not a string")
        assertFormatError(rawFile(header: #"{"__metadata__":["x"]}"#), mentioning: "not an object")
    }

    func testChecksumRules() throws {
        let data: [UInt8] = [0, 0, 0x80, 0x3F]
        let tensor = #""t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}"#
        assertFormatError(rawFile(header: "{" + tensor + "}", data: data), mentioning: "missing checksum")
        assertFormatError(rawFile(header: #"{"__metadata__":{"a":"b"},"# + tensor + "}", data: data),
                          mentioning: "missing checksum")
        // zlib.crc32(bytes([0, 0, 0x80, 0x3f])) == 0xaca16a6a
        let good = rawFile(header: #"{"__metadata__":{"lstmkit.crc32":"aca16a6a"},"# + tensor + "}", data: data)
        XCTAssertEqual(try decode(good).tensors, [TensorRecord(name: "t", shape: [1], values: [1])])
        for wrong in ["00000000", "aca16a6b", "xyz", "", "aca16a6a0", "0aca16a6a", " aca16a6", "+aca16a6", "0xaca16a"] {
            assertFormatError(rawFile(header: #"{"__metadata__":{"lstmkit.crc32":"\#(wrong)"},"# + tensor + "}", data: data),
                              mentioning: "checksum mismatch: the file is corrupt", wrong)
        }
    }

    func testChecksumCoversMetadataValuesInSortedKeyOrder() throws {
        // zlib.crc32(b"12" + bytes(4)) == 0xa5059e4d (values of keys "a" < "b"); b"21..." gives 0x64319633.
        let data: [UInt8] = [0, 0, 0, 0]
        let tensor = #""t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}"#
        let good = rawFile(header: #"{"__metadata__":{"b":"2","a":"1","lstmkit.crc32":"a5059e4d"},"# + tensor + "}", data: data)
        XCTAssertEqual(try decode(good).metadata, ["a": "1", "b": "2", Safetensors.checksumKey: "a5059e4d"])
        let upper = rawFile(header: #"{"__metadata__":{"b":"2","a":"1","lstmkit.crc32":"A5059E4D"},"# + tensor + "}", data: data)
        XCTAssertNoThrow(try decode(upper))
        let swapped = rawFile(header: #"{"__metadata__":{"b":"1","a":"2","lstmkit.crc32":"a5059e4d"},"# + tensor + "}", data: data)
        assertFormatError(swapped, mentioning: "checksum mismatch")
    }

    func testEncodeRejectsInvalidTensors() {
        func assertInvalid(_ tensors: [TensorRecord], _ phrase: String, line: UInt = #line) {
            XCTAssertThrowsError(try Safetensors.encode(metadata: [:], tensors: tensors), line: line) { error in
                let e = error as? LSTMKitError
                XCTAssertEqual(e?.status, .invalidArgument, line: line)
                XCTAssertTrue(e?.message.contains(phrase) ?? false, "\(String(describing: e))", line: line)
            }
        }
        assertInvalid([TensorRecord(name: "__metadata__", shape: [1], values: [1])], "reserved")
        assertInvalid([TensorRecord(name: "a", shape: [1], values: [1]), TensorRecord(name: "a", shape: [1], values: [2])],
                      "duplicate")
        assertInvalid([TensorRecord(name: "a", shape: [2, 2], values: [1, 2, 3])], "holds 4 values but 3")
        assertInvalid([TensorRecord(name: "a", shape: [-1], values: [])], "negative")
        assertInvalid([TensorRecord(name: "a", shape: [Int.max, 2], values: [])], "overflows")
    }

    // MARK: Files

    func testWriteThenRead() throws {
        let dir = makeTempDir()
        defer { removeTree(dir) }
        let path = dir + "/model.safetensors"
        try Safetensors.write(path: path, metadata: sampleMetadata, tensors: sample)
        let expected = try Safetensors.encode(metadata: sampleMetadata, tensors: sample)
        XCTAssertEqual(readBytes(path), expected)
        let (metadata, tensors) = try Safetensors.read(path: path)
        XCTAssertEqual(tensors.map(\.name), sample.map(\.name))
        XCTAssertEqual(metadata["format"], "lstmkit")
        XCTAssertEqual(listDir(dir), ["model.safetensors"])  // no temp file left behind

        // Overwriting replaces the content.
        let smaller = [TensorRecord(name: "x", shape: [1], values: [9])]
        try Safetensors.write(path: path, metadata: [:], tensors: smaller)
        XCTAssertEqual(try Safetensors.read(path: path).tensors, smaller)
        XCTAssertEqual(listDir(dir), ["model.safetensors"])
    }

    func testWriteRelativePath() throws {
        let dir = makeTempDir()
        defer { removeTree(dir) }
        var old = [CChar](repeating: 0, count: 4096)
        XCTAssertNotNil(getcwd(&old, old.count))
        XCTAssertEqual(chdir(dir), 0)
        defer { chdir(old) }
        try Safetensors.write(path: "rel.safetensors", metadata: [:], tensors: sample)
        XCTAssertEqual(try Safetensors.read(path: "rel.safetensors").tensors.count, sample.count)
    }

    func testFailedWriteOverDirectoryLeavesItIntact() throws {
        let dir = makeTempDir()
        defer { removeTree(dir) }
        let path = dir + "/target"
        XCTAssertEqual(mkdir(path, 0o755), 0)
        writeBytes([1, 2, 3], to: path + "/inside")
        assertIOError({ try Safetensors.write(path: path, metadata: [:], tensors: sample) },
                      prefix: "cannot write \(path): ")
        XCTAssertEqual(listDir(dir), ["target"])       // the temp file was removed
        XCTAssertEqual(listDir(path), ["inside"])
        XCTAssertEqual(readBytes(path + "/inside"), [1, 2, 3])
    }

    func testFailedWriteLeavesOldFileIntact() throws {
        let dir = makeTempDir()
        defer { removeTree(dir) }
        let path = dir + "/model.safetensors"
        try Safetensors.write(path: path, metadata: ["v": "1"], tensors: sample)
        let before = try XCTUnwrap(readBytes(path))
        // Writes past 64 bytes fail with EFBIG (SIGXFSZ ignored, so the process lives).
        var limit = rlimit()
        XCTAssertEqual(getrlimit(Int32(RLIMIT_FSIZE.rawValue), &limit), 0)
        let oldHandler = signal(SIGXFSZ, SIG_IGN)
        var small = limit
        small.rlim_cur = 64
        XCTAssertEqual(setrlimit(Int32(RLIMIT_FSIZE.rawValue), &small), 0)
        assertIOError({ try Safetensors.write(path: path, metadata: ["v": "2"], tensors: sample) },
                      prefix: "cannot write \(path): File too large")
        XCTAssertEqual(setrlimit(Int32(RLIMIT_FSIZE.rawValue), &limit), 0)
        signal(SIGXFSZ, oldHandler)
        XCTAssertEqual(readBytes(path), before)
        XCTAssertEqual(try Safetensors.read(path: path).metadata["v"], "1")
        XCTAssertEqual(listDir(dir), ["model.safetensors"])   // the temp file was removed
    }

    func testWriteIntoMissingDirectoryFails() {
        let dir = makeTempDir()
        defer { removeTree(dir) }
        let path = dir + "/no/such/dir/model.safetensors"
        assertIOError({ try Safetensors.write(path: path, metadata: [:], tensors: sample) },
                      prefix: "cannot write \(path): No such file or directory")
        XCTAssertEqual(listDir(dir), [])
    }

    func testWriteIntoReadOnlyDirectoryFails() throws {
        // Root ignores directory permissions, so only an unprivileged run can check this.
        try XCTSkipIf(geteuid() == 0, "running as root: permissions are not enforced")
        let dir = makeTempDir()
        defer { chmod(dir, 0o755); removeTree(dir) }
        let path = dir + "/model.safetensors"
        try Safetensors.write(path: path, metadata: ["v": "1"], tensors: sample)
        let before = readBytes(path)
        XCTAssertEqual(chmod(dir, 0o555), 0)
        assertIOError({ try Safetensors.write(path: path, metadata: [:], tensors: []) },
                      prefix: "cannot write \(path): Permission denied")
        XCTAssertEqual(readBytes(path), before)
        XCTAssertEqual(listDir(dir), ["model.safetensors"])
    }

    func testReadErrors() throws {
        let dir = makeTempDir()
        defer { removeTree(dir) }
        assertIOError({ _ = try Safetensors.read(path: dir + "/missing") },
                      prefix: "cannot read \(dir)/missing: No such file or directory")
        assertIOError({ _ = try Safetensors.read(path: dir) }, prefix: "cannot read \(dir): Is a directory")

        let empty = dir + "/empty"
        writeBytes([], to: empty)
        XCTAssertThrowsError(try Safetensors.read(path: empty)) { error in
            XCTAssertEqual((error as? LSTMKitError)?.status, .format)
        }
        let corrupt = dir + "/corrupt"
        var bytes = try Safetensors.encode(metadata: [:], tensors: sample)
        bytes[bytes.count - 3] ^= 0x10
        writeBytes(bytes, to: corrupt)
        XCTAssertThrowsError(try Safetensors.read(path: corrupt)) { error in
            XCTAssertEqual((error as? LSTMKitError)?.status, .format)
            XCTAssertEqual((error as? LSTMKitError)?.message, "checksum mismatch: the file is corrupt")
        }
    }

    func testNULInAPathIsRefused() throws {
        let dir = makeTempDir()
        defer { removeTree(dir) }
        for attempt in [{ try Safetensors.write(path: dir + "/a\u{0}b", metadata: [:], tensors: self.sample) },
                        { _ = try Safetensors.read(path: dir + "/a\u{0}b") }] {
            XCTAssertThrowsError(try attempt()) { error in
                XCTAssertEqual((error as? LSTMKitError)?.status, .invalidArgument)
                XCTAssertEqual((error as? LSTMKitError)?.message, "path contains a NUL byte")
            }
        }
        XCTAssertEqual(listDir(dir), [])
    }

    func testReadingAFIFOIsRefusedWithoutBlocking() throws {
        let dir = makeTempDir()
        defer { removeTree(dir) }
        let fifo = dir + "/pipe"
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        assertIOError({ _ = try Safetensors.read(path: fifo) },
                      prefix: "cannot read \(fifo): it is a FIFO, not a regular file")
    }

    func testTempFileNamesAreRecognisedExactly() {
        XCTAssertEqual(FileReplace.tempOwner("m.lstmkit.tmp.123", base: "m.lstmkit"), 123)
        XCTAssertEqual(FileReplace.tempOwner("m.lstmkit.tmp.123.4", base: "m.lstmkit"), 123)
        for name in ["m.lstmkit", "m.lstmkit.tmp.", "m.lstmkit.tmp.12a", "m.lstmkit.tmp.1.2.3",
                     "m.lstmkit.tmp.1.", "m.lstmkit.tmp.0", "x.m.lstmkit.tmp.5", "m.lstmkit.tmp.-5",
                     "m.lstmkit.tmp.99999999999999999999"] {
            XCTAssertNil(FileReplace.tempOwner(name, base: "m.lstmkit"), name)
        }
    }
}
