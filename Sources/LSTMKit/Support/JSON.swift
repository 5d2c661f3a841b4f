/// A JSON value: configs, tokenizer vocabularies and safetensors headers all pass through it.
///
/// Object keys are Swift `String`s, so two keys that differ only by Unicode normalisation
/// (precomposed "é" vs "e" + combining accent) are the same key here; the last one wins.
public enum JSON: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSON])
    case object([String: JSON])
}

extension JSON {
    /// Deepest nesting of arrays/objects accepted. The parser keeps its own stack, so the limit
    /// exists to bound memory and keep recursive consumers (==, serialized(), deinit) safe.
    public static let maxDepth = 512

    public static func parse(_ text: String) throws -> JSON {
        var text = text
        return try text.withUTF8 { try parse(bytes: UnsafeRawBufferPointer($0)) }
    }

    public static func parse(bytes: UnsafeRawBufferPointer) throws -> JSON {
        try bytes.withMemoryRebound(to: UInt8.self) { buffer in
            var parser = JSONParser(buffer)
            return try parser.parseDocument()
        }
    }

    /// Compact form with object keys in UTF-8 byte (= code point) order, so equal values always
    /// produce identical bytes, and the order matches Python's `json.dumps(sort_keys=True)`.
    public func serialized() -> String {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        write(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    public subscript(key: String) -> JSON? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var doubleValue: Double? {
        if case .number(let x) = self { return x }
        return nil
    }

    public var intValue: Int? {
        if case .number(let x) = self { return Int(exactly: x) }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var arrayValue: [JSON]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var objectValue: [String: JSON]? {
        if case .object(let o) = self { return o }
        return nil
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }
}

// MARK: - Literals

extension JSON: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSON...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSON)...) {
        var o: [String: JSON] = [:]
        o.reserveCapacity(elements.count)
        for (k, v) in elements { o[k] = v }  // last wins, as in parsed documents
        self = .object(o)
    }
}

// MARK: - Writer

extension JSON {
    private func write(to out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let x): JSON.writeNumber(x, to: &out)
        case .string(let s): JSON.writeString(s, to: &out)
        case .array(let a):
            out.append(UInt8(ascii: "["))
            for (i, v) in a.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                v.write(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            out.append(UInt8(ascii: "{"))
            let keys = o.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            for (i, k) in keys.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSON.writeString(k, to: &out)
                out.append(UInt8(ascii: ":"))
                o[k]!.write(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static func writeNumber(_ x: Double, to out: inout [UInt8]) {
        guard x.isFinite else {
            out.append(contentsOf: "null".utf8)  // JSON has no NaN/Infinity
            return
        }
        if x.rounded(.towardZero) == x && x.magnitude < 9_007_199_254_740_992 {
            // "-0" keeps the sign of negative zero through a round trip.
            if x == 0 && x.sign == .minus { out.append(UInt8(ascii: "-")) }
            out.append(contentsOf: String(Int64(x)).utf8)
        } else {
            // Swift's description is the shortest string that round-trips, and is always valid
            // JSON for finite values ("1e-05", "1e+20", "9007199254740992.0").
            out.append(contentsOf: x.description.utf8)
        }
    }

    private static func writeString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out.append(UInt8(ascii: "\\")); out.append(b)
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\")); out.append(b)
            case 0x0A: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "n"))
            case 0x09: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "t"))
            case 0x0D: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "r"))
            case 0x08: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "b"))
            case 0x0C: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "f"))
            case 0..<0x20:
                out.append(contentsOf: "\\u00".utf8)
                out.append(hexDigit(b >> 4))
                out.append(hexDigit(b & 0xF))
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    private static func hexDigit(_ v: UInt8) -> UInt8 {
        v < 10 ? UInt8(ascii: "0") + v : UInt8(ascii: "a") + v - 10
    }
}

// MARK: - Parser

/// Iterative (explicit stack) so hostile nesting can never overflow the thread's stack.
private struct JSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    var pos = 0
    /// Reused across strings with escapes to avoid an allocation per string.
    var scratch: [UInt8] = []

    /// One open container. Kept as a struct with both storages (rather than an enum) so that
    /// appending through `stack[top]` mutates in place instead of copying the container.
    struct Frame {
        var isObject: Bool
        var array: [JSON] = []
        var object: [String: JSON] = [:]
        var key = ""
    }

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    func fail(_ what: String, at offset: Int? = nil) -> LSTMKitError {
        LSTMKitError(.badConfig, "invalid JSON at byte \(offset ?? pos): \(what)")
    }

    @inline(__always) func peek() -> UInt8? { pos < bytes.count ? bytes[pos] : nil }

    @inline(__always) mutating func skipWhitespace() {
        while pos < bytes.count {
            switch bytes[pos] {
            case 0x20, 0x0A, 0x0D, 0x09: pos += 1
            default: return
            }
        }
    }

    static func describe(_ b: UInt8?) -> String {
        guard let b else { return "end of input" }
        if b >= 0x21 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
        return "byte 0x" + String(b, radix: 16)
    }

    mutating func parseDocument() throws -> JSON {
        var stack: [Frame] = []
        skipWhitespace()
        while true {
            // Parse one value, or open a container and go round again for its first element.
            var value: JSON
            skipWhitespace()
            guard let c = peek() else { throw fail("expected a value, found end of input") }
            switch c {
            case UInt8(ascii: "{"):
                guard stack.count < JSON.maxDepth else { throw fail("nesting deeper than \(JSON.maxDepth)") }
                pos += 1
                skipWhitespace()
                if peek() == UInt8(ascii: "}") {
                    pos += 1
                    value = .object([:])
                } else {
                    var frame = Frame(isObject: true)
                    frame.key = try parseKey()
                    stack.append(frame)
                    continue
                }
            case UInt8(ascii: "["):
                guard stack.count < JSON.maxDepth else { throw fail("nesting deeper than \(JSON.maxDepth)") }
                pos += 1
                skipWhitespace()
                if peek() == UInt8(ascii: "]") {
                    pos += 1
                    value = .array([])
                } else {
                    stack.append(Frame(isObject: false))
                    continue
                }
            case UInt8(ascii: "\""):
                value = .string(try parseString())
            case UInt8(ascii: "t"): try expectLiteral("true"); value = .bool(true)
            case UInt8(ascii: "f"): try expectLiteral("false"); value = .bool(false)
            case UInt8(ascii: "n"): try expectLiteral("null"); value = .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                value = .number(try parseNumber())
            default:
                throw fail("expected a value, found \(Self.describe(c))")
            }

            // Hand the value to the enclosing containers, closing as many as end here.
            while true {
                guard !stack.isEmpty else {
                    skipWhitespace()
                    if pos != bytes.count { throw fail("unexpected \(Self.describe(peek())) after the value") }
                    return value
                }
                let top = stack.count - 1
                skipWhitespace()
                let next = peek()
                if stack[top].isObject {
                    let key = stack[top].key
                    stack[top].object[key] = value
                    if next == UInt8(ascii: ",") {
                        pos += 1
                        stack[top].key = try parseKey()
                        break
                    } else if next == UInt8(ascii: "}") {
                        pos += 1
                        value = .object(stack.removeLast().object)
                    } else {
                        throw fail("expected ',' or '}' in object, found \(Self.describe(next))")
                    }
                } else {
                    stack[top].array.append(value)
                    if next == UInt8(ascii: ",") {
                        pos += 1
                        break
                    } else if next == UInt8(ascii: "]") {
                        pos += 1
                        value = .array(stack.removeLast().array)
                    } else {
                        throw fail("expected ',' or ']' in array, found \(Self.describe(next))")
                    }
                }
            }
        }
    }

    /// `"key" :` — leaves pos at the value.
    mutating func parseKey() throws -> String {
        skipWhitespace()
        guard peek() == UInt8(ascii: "\"") else {
            throw fail("expected a string key, found \(Self.describe(peek()))")
        }
        let key = try parseString()
        skipWhitespace()
        guard peek() == UInt8(ascii: ":") else {
            throw fail("expected ':' after object key, found \(Self.describe(peek()))")
        }
        pos += 1
        return key
    }

    mutating func expectLiteral(_ word: StaticString) throws {
        let start = pos
        let n = word.utf8CodeUnitCount
        let w = word.utf8Start
        guard bytes.count - pos >= n else { throw fail("invalid literal", at: start) }
        for i in 0..<n where bytes[pos + i] != w[i] {
            throw fail("invalid literal", at: start)
        }
        pos += n
    }

    // MARK: Strings

    /// pos is at the opening quote. Validates UTF-8 as it scans, because `parse(bytes:)` takes
    /// arbitrary bytes and RFC 8259 requires UTF-8.
    mutating func parseString() throws -> String {
        pos += 1
        let start = pos
        var segmentStart = pos
        var escaped = false
        while true {
            guard pos < bytes.count else { throw fail("unterminated string", at: start - 1) }
            let b = bytes[pos]
            if b == UInt8(ascii: "\"") {
                let result: String
                if escaped {
                    scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[segmentStart..<pos]))
                    result = String(decoding: scratch, as: UTF8.self)
                } else {
                    result = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)
                }
                pos += 1
                return result
            } else if b == UInt8(ascii: "\\") {
                if !escaped {
                    escaped = true
                    scratch.removeAll(keepingCapacity: true)
                }
                scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[segmentStart..<pos]))
                try parseEscape()
                segmentStart = pos
            } else if b < 0x20 {
                throw fail("unescaped control character 0x\(String(b, radix: 16)) in string")
            } else if b < 0x80 {
                pos += 1
            } else {
                try skipUTF8Sequence()
            }
        }
    }

    /// pos at the backslash; appends the decoded character to scratch.
    mutating func parseEscape() throws {
        let at = pos
        guard pos + 1 < bytes.count else { throw fail("unterminated escape", at: at) }
        let e = bytes[pos + 1]
        pos += 2
        switch e {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scratch.append(e)
        case UInt8(ascii: "b"): scratch.append(0x08)
        case UInt8(ascii: "f"): scratch.append(0x0C)
        case UInt8(ascii: "n"): scratch.append(0x0A)
        case UInt8(ascii: "r"): scratch.append(0x0D)
        case UInt8(ascii: "t"): scratch.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try hex4(at: at)
            if (0xD800...0xDBFF).contains(scalar) {
                guard pos + 1 < bytes.count, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u")
                else { throw fail("unpaired high surrogate \\u\(String(scalar, radix: 16))", at: at) }
                let lowAt = pos
                pos += 2
                let low = try hex4(at: lowAt)
                guard (0xDC00...0xDFFF).contains(low) else {
                    throw fail("high surrogate not followed by a low surrogate", at: at)
                }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(scalar) {
                throw fail("unpaired low surrogate \\u\(String(scalar, radix: 16))", at: at)
            }
            appendUTF8(scalar)
        default:
            throw fail("invalid escape \\\(Self.describe(e))", at: at)
        }
    }

    /// Four hex digits at pos (after "\u").
    mutating func hex4(at escapeStart: Int) throws -> UInt32 {
        guard bytes.count - pos >= 4 else { throw fail("truncated \\u escape", at: escapeStart) }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[pos]
            let d: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = c - UInt8(ascii: "A") + 10
            default: throw fail("invalid hex digit in \\u escape", at: escapeStart)
            }
            v = v << 4 | UInt32(d)
            pos += 1
        }
        return v
    }

    mutating func appendUTF8(_ s: UInt32) {
        if s < 0x80 {
            scratch.append(UInt8(s))
        } else if s < 0x800 {
            scratch.append(UInt8(0xC0 | s >> 6))
            scratch.append(UInt8(0x80 | s & 0x3F))
        } else if s < 0x10000 {
            scratch.append(UInt8(0xE0 | s >> 12))
            scratch.append(UInt8(0x80 | (s >> 6) & 0x3F))
            scratch.append(UInt8(0x80 | s & 0x3F))
        } else {
            scratch.append(UInt8(0xF0 | s >> 18))
            scratch.append(UInt8(0x80 | (s >> 12) & 0x3F))
            scratch.append(UInt8(0x80 | (s >> 6) & 0x3F))
            scratch.append(UInt8(0x80 | s & 0x3F))
        }
    }

    /// Validates one multi-byte UTF-8 sequence at pos (Unicode Table 3-7: no overlongs,
    /// no encoded surrogates, nothing above U+10FFFF).
    mutating func skipUTF8Sequence() throws {
        let b0 = bytes[pos]
        var lo: UInt8 = 0x80, hi: UInt8 = 0xBF
        let n: Int
        switch b0 {
        case 0xC2...0xDF: n = 2
        case 0xE0: n = 3; lo = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: n = 3
        case 0xED: n = 3; hi = 0x9F
        case 0xF0: n = 4; lo = 0x90
        case 0xF1...0xF3: n = 4
        case 0xF4: n = 4; hi = 0x8F
        default: throw fail("invalid UTF-8 byte 0x\(String(b0, radix: 16))")
        }
        guard bytes.count - pos >= n else { throw fail("truncated UTF-8 sequence") }
        let b1 = bytes[pos + 1]
        guard b1 >= lo && b1 <= hi else { throw fail("invalid UTF-8 sequence") }
        for i in 2..<n where bytes[pos + i] & 0xC0 != 0x80 {
            throw fail("invalid UTF-8 sequence")
        }
        pos += n
    }

    // MARK: Numbers

    mutating func parseNumber() throws -> Double {
        let start = pos
        var negative = false
        if bytes[pos] == UInt8(ascii: "-") {
            negative = true
            pos += 1
        }
        @inline(__always) func isDigit(_ b: UInt8?) -> Bool {
            guard let b else { return false }
            return b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")
        }
        guard isDigit(peek()) else { throw fail("expected a digit", at: pos) }
        var mantissa: UInt64 = 0
        let intStart = pos
        if bytes[pos] == UInt8(ascii: "0") {
            pos += 1
            if isDigit(peek()) { throw fail("leading zero in number", at: start) }
        } else {
            while isDigit(peek()) {
                mantissa = mantissa &* 10 &+ UInt64(bytes[pos] - UInt8(ascii: "0"))
                pos += 1
            }
        }
        let intDigits = pos - intStart
        var isInteger = true
        if peek() == UInt8(ascii: ".") {
            isInteger = false
            pos += 1
            guard isDigit(peek()) else { throw fail("expected a digit after '.'", at: pos) }
            while isDigit(peek()) { pos += 1 }
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            isInteger = false
            pos += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { pos += 1 }
            guard isDigit(peek()) else { throw fail("expected a digit in exponent", at: pos) }
            while isDigit(peek()) { pos += 1 }
        }
        // Up to 15 digits is exact in both UInt64 and Double: the common case needs no conversion.
        if isInteger && intDigits <= 15 {
            let v = Double(mantissa)
            return negative ? -v : v
        }
        // Swift's conversion is correctly rounded and, unlike strtod, ignores the C locale,
        // which a host program may have set to use ',' as the decimal point.
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)
        guard let v = Double(text) else { throw fail("invalid number", at: start) }
        guard v.isFinite else { throw fail("number out of range", at: start) }
        return v
    }
}
