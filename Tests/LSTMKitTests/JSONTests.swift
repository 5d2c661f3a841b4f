import Glibc
import XCTest
@testable import LSTMKit

final class JSONTests: XCTestCase {
    // MARK: Helpers

    private func parse(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> JSON? {
        do {
            return try JSON.parse(text)
        } catch {
            XCTFail("parse(\(text.debugDescription)) threw \(error)", file: file, line: line)
            return nil
        }
    }

    private func parseBytes(_ bytes: [UInt8]) throws -> JSON {
        try bytes.withUnsafeBytes { try JSON.parse(bytes: $0) }
    }

    /// Asserts a .badConfig error whose message names the byte offset and, optionally, a phrase.
    private func assertRejects(_ text: String, atByte offset: Int? = nil, mentioning phrase: String? = nil,
                               file: StaticString = #filePath, line: UInt = #line) {
        assertRejects(bytes: Array(text.utf8), label: text.debugDescription, atByte: offset, mentioning: phrase,
                      file: file, line: line)
    }

    private func assertRejects(bytes: [UInt8], label: String? = nil, atByte offset: Int? = nil,
                               mentioning phrase: String? = nil,
                               file: StaticString = #filePath, line: UInt = #line) {
        let label = label ?? "\(bytes)"
        do {
            let v = try parseBytes(bytes)
            XCTFail("\(label) was accepted as \(v)", file: file, line: line)
        } catch let e as LSTMKitError {
            XCTAssertEqual(e.status, .badConfig, label, file: file, line: line)
            XCTAssertTrue(e.message.hasPrefix("invalid JSON at byte "), e.message, file: file, line: line)
            if let offset {
                XCTAssertTrue(e.message.hasPrefix("invalid JSON at byte \(offset):"),
                              "\(label): \(e.message)", file: file, line: line)
            }
            if let phrase {
                XCTAssertTrue(e.message.contains(phrase), "\(label): \(e.message)", file: file, line: line)
            }
        } catch {
            XCTFail("\(label): unexpected error \(error)", file: file, line: line)
        }
    }

    // MARK: Accepted documents

    func testScalars() {
        XCTAssertEqual(parse("null"), .null)
        XCTAssertEqual(parse("true"), .bool(true))
        XCTAssertEqual(parse("false"), .bool(false))
        XCTAssertEqual(parse("\"hi\""), .string("hi"))
        XCTAssertEqual(parse(" \t\r\n 42 \n"), .number(42))
    }

    func testNumbers() {
        XCTAssertEqual(parse("0")?.doubleValue, 0)
        XCTAssertEqual(parse("-7")?.doubleValue, -7)
        XCTAssertEqual(parse("1.5")?.doubleValue, 1.5)
        XCTAssertEqual(parse("-12.5e3")?.doubleValue, -12500)
        XCTAssertEqual(parse("1E2")?.doubleValue, 100)
        XCTAssertEqual(parse("1e+2")?.doubleValue, 100)
        XCTAssertEqual(parse("25e-2")?.doubleValue, 0.25)
        XCTAssertEqual(parse("0.1")?.doubleValue, 0.1)
        XCTAssertEqual(parse("123456789012345")?.doubleValue, 123_456_789_012_345)
        XCTAssertEqual(parse("-999999999999999")?.doubleValue, -999_999_999_999_999)
        // 2^53 + 1 is not representable; correct rounding (ties to even) gives 2^53.
        XCTAssertEqual(parse("9007199254740993")?.doubleValue, 9_007_199_254_740_992)
        XCTAssertEqual(parse("12345678901234567890")?.doubleValue, 12_345_678_901_234_567_890.0)
        XCTAssertEqual(parse("1.7976931348623157e308")?.doubleValue, .greatestFiniteMagnitude)
        XCTAssertEqual(parse("5e-324")?.doubleValue, .leastNonzeroMagnitude)
        XCTAssertEqual(parse("1e-400")?.doubleValue, 0)
        let negZero = parse("-0")?.doubleValue
        XCTAssertEqual(negZero, 0)
        XCTAssertEqual(negZero?.sign, .minus)
        XCTAssertEqual(parse("-0.0")?.doubleValue?.sign, .minus)
    }

    func testNumberOverflowIsRejected() {
        // JSON cannot represent infinity, and the writer would turn it into null: refuse instead.
        assertRejects("1e400", atByte: 0, mentioning: "out of range")
        assertRejects("[-1e309]", atByte: 1, mentioning: "out of range")
    }

    func testContainers() {
        XCTAssertEqual(parse("[]"), .array([]))
        XCTAssertEqual(parse("{}"), .object([:]))
        XCTAssertEqual(parse("[ ]"), .array([]))
        XCTAssertEqual(parse("{ }"), .object([:]))
        XCTAssertEqual(parse("[1, \"a\", [true, null], {\"k\": []}]"),
                       .array([.number(1), .string("a"), .array([.bool(true), .null]),
                               .object(["k": .array([])])]))
        XCTAssertEqual(parse(" { \"a\" : { \"b\" : [ 1 , 2 ] } , \"c\" : false } "),
                       .object(["a": .object(["b": .array([.number(1), .number(2)])]), "c": .bool(false)]))
    }

    func testDuplicateKeysLastWins() {
        XCTAssertEqual(parse("{\"a\": 1, \"b\": 2, \"a\": 3}"), .object(["a": .number(3), "b": .number(2)]))
        XCTAssertEqual(parse("{\"a\": {\"x\": 1}, \"a\": [true]}")?["a"], .array([.bool(true)]))
    }

    func testStringEscapes() {
        XCTAssertEqual(parse(#""\" \\ \/ \b \f \n \r \t""#)?.stringValue, "\" \\ / \u{8} \u{C} \n \r \t")
        XCTAssertEqual(parse(#""\u0041\u00e9\u00E9\u4e2d""#)?.stringValue, "Aéé中")
        XCTAssertEqual(parse(#""a\u0000b""#)?.stringValue, "a\u{0}b")
        // U+1F600 is the pair D83D DE00; U+10FFFF is DBFF DFFF; U+10000 is D800 DC00.
        XCTAssertEqual(parse(#""\ud83d\ude00""#)?.stringValue, "😀")
        XCTAssertEqual(parse(#""\uDBFF\uDFFF""#)?.stringValue, "\u{10FFFF}")
        XCTAssertEqual(parse(#""x\uD800\uDC00y""#)?.stringValue, "x\u{10000}y")
        XCTAssertEqual(parse(#""mixed \"q\" and é raw""#)?.stringValue, "mixed \"q\" and é raw")
    }

    func testRawUTF8PassesThrough() {
        let s = "héllo 日本語 😀 \u{7F}"
        XCTAssertEqual(parse("\"\(s)\"")?.stringValue, s)
        XCTAssertEqual(parse("{\"ключ\": \"значение\"}")?["ключ"], .string("значение"))
    }

    func testParseBytes() throws {
        let bytes: [UInt8] = Array("{\"a\": [1, 2.5]}".utf8)
        XCTAssertEqual(try parseBytes(bytes), .object(["a": .array([.number(1), .number(2.5)])]))
        // A number at the very end of the buffer must not read past it.
        let tail: [UInt8] = Array("[1,22]".utf8)
        try tail.withUnsafeBytes { raw in
            XCTAssertEqual(try JSON.parse(bytes: UnsafeRawBufferPointer(rebasing: raw[3..<5])), .number(22))
        }
    }

    // MARK: Rejections

    func testRejectsTrailingCommas() {
        assertRejects("[1,]", atByte: 3)
        assertRejects("[1, 2, ]", atByte: 7)
        assertRejects("{\"a\": 1,}", atByte: 8, mentioning: "key")
        assertRejects("[,1]", atByte: 1)
        assertRejects("[1,,2]", atByte: 3)
    }

    func testRejectsLeadingZerosAndBadNumbers() {
        assertRejects("01", atByte: 0, mentioning: "leading zero")
        assertRejects("-01", atByte: 0, mentioning: "leading zero")
        assertRejects("00", atByte: 0)
        assertRejects("[007]", atByte: 1)
        for bad in ["+1", ".5", "1.", "1.e5", "1e", "1e+", "-", "- 1", "0x10", "1_000", "--1", "1.5.2", "1e5e5"] {
            assertRejects(bad)
        }
    }

    func testRejectsNonFiniteLiterals() {
        for bad in ["NaN", "nan", "Infinity", "-Infinity", "inf", "[NaN]", "{\"x\": Infinity}"] {
            assertRejects(bad)
        }
    }

    func testRejectsComments() {
        assertRejects("// c\n1", atByte: 0)
        assertRejects("/* c */ 1", atByte: 0)
        assertRejects("[1 /* c */]", atByte: 3)
        assertRejects("1 # c", atByte: 2)
    }

    func testRejectsUnpairedSurrogates() {
        assertRejects(#""\ud800""#, atByte: 1, mentioning: "surrogate")
        assertRejects(#""\udc00""#, atByte: 1, mentioning: "surrogate")
        assertRejects(#""\ude00\ud83d""#, atByte: 1, mentioning: "surrogate")
        assertRejects(#""\ud800x""#, atByte: 1, mentioning: "surrogate")
        assertRejects(#""\ud800\u0041""#, atByte: 1, mentioning: "surrogate")
        assertRejects(#""\ud800\ud800""#, atByte: 1, mentioning: "surrogate")
        assertRejects(#""\ud800\n""#, atByte: 1, mentioning: "surrogate")
    }

    func testRejectsControlCharactersInStrings() {
        for c: UInt8 in [0x00, 0x01, 0x09, 0x0A, 0x0D, 0x1F] {
            assertRejects(bytes: [0x22, 0x61, c, 0x62, 0x22], atByte: 2, mentioning: "control character")
        }
        // DEL is not a control character for JSON's purposes.
        XCTAssertEqual(try? parseBytes([0x22, 0x7F, 0x22]), .string("\u{7F}"))
    }

    func testRejectsBadEscapes() {
        assertRejects(#""\x41""#, atByte: 1, mentioning: "escape")
        assertRejects(#""\'""#, atByte: 1)
        assertRejects(#""\u12G4""#, atByte: 1)
        assertRejects(#""\u12""#, atByte: 1)
        assertRejects(#""\U0041""#, atByte: 1)
        assertRejects("\"abc\\", atByte: 4)
    }

    func testRejectsInvalidUTF8() {
        let cases: [[UInt8]] = [
            [0x22, 0xFF, 0x22],                   // never valid
            [0x22, 0xC0, 0x80, 0x22],             // overlong NUL
            [0x22, 0xE0, 0x80, 0x80, 0x22],       // overlong 3-byte
            [0x22, 0xED, 0xA0, 0x80, 0x22],       // encoded surrogate U+D800
            [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], // above U+10FFFF
            [0x22, 0x80, 0x22],                   // lone continuation byte
            [0x22, 0xE2, 0x82, 0x22],             // truncated sequence
            [0x22, 0xE2, 0x82],                   // truncated at end of input
        ]
        for bytes in cases {
            assertRejects(bytes: bytes, atByte: 1)
        }
        assertRejects(bytes: [0xEF, 0xBB, 0xBF, 0x31], atByte: 0)  // byte order mark is not JSON
        assertRejects(bytes: [0x5B, 0xC3, 0xA9, 0x5D], atByte: 1)  // non-ASCII outside a string
    }

    func testRejectsTrailingGarbage() {
        assertRejects("1 2", atByte: 2, mentioning: "after the value")
        assertRejects("{} x", atByte: 3)
        assertRejects("[]]", atByte: 2)
        assertRejects("null,", atByte: 4)
        assertRejects("\"a\"\"b\"", atByte: 3)
        assertRejects("truex", atByte: 4)
        assertRejects(bytes: [0x31, 0x00], atByte: 1)
    }

    func testRejectsMalformedStructure() {
        assertRejects("", atByte: 0, mentioning: "end of input")
        assertRejects("   ", atByte: 3)
        assertRejects("[", atByte: 1)
        assertRejects("[1", atByte: 2, mentioning: "']'")
        assertRejects("{\"a\":1", atByte: 6, mentioning: "'}'")
        assertRejects("{\"a\" 1}", atByte: 5, mentioning: "':'")
        assertRejects("{a: 1}", atByte: 1, mentioning: "key")
        assertRejects("{1: 1}", atByte: 1)
        assertRejects("{\"a\":}", atByte: 5)
        assertRejects("[1 2]", atByte: 3)
        assertRejects("'a'", atByte: 0)
        assertRejects("\"abc", atByte: 0, mentioning: "unterminated")
        assertRejects("tru", atByte: 0)
        assertRejects("nul", atByte: 0)
        assertRejects("True", atByte: 0)
        assertRejects("[}", atByte: 1)
        assertRejects("{]", atByte: 1)
    }

    // MARK: Depth limit

    func testDepthLimit() {
        let ok = String(repeating: "[", count: 512) + String(repeating: "]", count: 512)
        XCTAssertNotNil(parse(ok))
        let tooDeep = String(repeating: "[", count: 513) + String(repeating: "]", count: 513)
        assertRejects(tooDeep, atByte: 512, mentioning: "nesting")

        let okObjects = String(repeating: "{\"a\":", count: 512) + "1" + String(repeating: "}", count: 512)
        XCTAssertNotNil(parse(okObjects))
        let deepObjects = String(repeating: "{\"a\":", count: 513) + "1" + String(repeating: "}", count: 513)
        assertRejects(deepObjects, atByte: 512 * 5, mentioning: "nesting")
    }

    func testHostileNestingDoesNotOverflowTheStack() {
        // Far beyond what a recursive parser could survive on a thread stack.
        assertRejects(String(repeating: "[", count: 2_000_000), mentioning: "nesting")
        assertRejects(String(repeating: "[{\"k\":", count: 300_000), mentioning: "nesting")
    }

    // MARK: Writer

    func testSerializeIsCompactWithSortedKeys() {
        let v: JSON = ["b": 1, "a": [true, nil, "x", 2.5], "c": ["z": false, "y": [:]]]
        XCTAssertEqual(v.serialized(), #"{"a":[true,null,"x",2.5],"b":1,"c":{"y":{},"z":false}}"#)
        XCTAssertEqual(JSON.array([]).serialized(), "[]")
        XCTAssertEqual(JSON.object([:]).serialized(), "{}")
    }

    func testKeysSortByCodePoint() {
        // Code point order, as Python's sort_keys: uppercase < '_' < lowercase < non-ASCII.
        let v: JSON = ["é": 1, "b": 2, "B": 3, "_": 4, "a": 5, "aa": 6, "😀": 7, "z": 8]
        XCTAssertEqual(v.serialized(), #"{"B":3,"_":4,"a":5,"aa":6,"b":2,"z":8,"é":1,"😀":7}"#)
    }

    func testNumberFormatting() {
        let cases: [(Double, String)] = [
            (5, "5"), (-3, "-3"), (0, "0"), (-0.0, "-0"), (1e15, "1000000000000000"),
            (9_007_199_254_740_991, "9007199254740991"), (-9_007_199_254_740_991, "-9007199254740991"),
            (9_007_199_254_740_992, "9007199254740992.0"), (1e20, "1e+20"),
            (0.001, "0.001"), (1.5, "1.5"), (-0.25, "-0.25"), (0.1 + 0.2, "0.30000000000000004"),
            (1e-7, "1e-07"), (123456.789, "123456.789"), (.leastNonzeroMagnitude, "5e-324"),
            (.greatestFiniteMagnitude, "1.7976931348623157e+308"),
            (.nan, "null"), (.infinity, "null"), (-.infinity, "null"),
        ]
        for (x, expected) in cases {
            XCTAssertEqual(JSON.number(x).serialized(), expected, "\(x)")
        }
    }

    func testNumbersRoundTripExactly() throws {
        let values: [Double] = [0.1, 1.0 / 3, -2.5e-300, 6.02214076e23, 9_007_199_254_740_994,
                                Double(Float(0.1)), -0.0, 1e21, 123456789.123456789, .leastNormalMagnitude]
        for x in values {
            let back = try JSON.parse(JSON.number(x).serialized()).doubleValue
            XCTAssertEqual(back?.bitPattern, x.bitPattern, "\(x)")
        }
    }

    func testStringEscaping() {
        let s = "q\"b\\n\n t\t r\r b\u{8} f\u{C} \u{0}\u{1}\u{1F}\u{7F} / é 😀"
        XCTAssertEqual(JSON.string(s).serialized(),
                       #""q\"b\\n\n t\t r\r b\b f\f \u0000\u0001\u001f"# + "\u{7F} / é 😀\"")
        XCTAssertEqual(JSON.object(["a\"b": 1]).serialized(), #"{"a\"b":1}"#)
    }

    func testRoundTrip() throws {
        let v: JSON = [
            "name": "lstm/kernel \"1\"",
            "shape": [64, 4],
            "lr": 0.001,
            "flags": [true, false, nil],
            "nested": ["deeper": ["deepest": [[], [:], ""]]],
            "unicode": "日本 😀 \u{1} \n",
            "neg": -1.5e-10,
        ]
        let text = v.serialized()
        XCTAssertEqual(try JSON.parse(text), v)
        XCTAssertEqual(try JSON.parse(text).serialized(), text)
        // Whitespace and key order in the input do not change the canonical form.
        let messy = "{ \"b\" : [ 1 , 2.0 ] ,\n \"a\" : \"\\u0041\" }"
        XCTAssertEqual(try JSON.parse(messy).serialized(), #"{"a":"A","b":[1,2]}"#)
    }

    // MARK: Accessors and literals

    func testAccessors() {
        let v: JSON = ["s": "x", "n": 3, "f": 3.5, "b": true, "a": [1], "o": ["k": nil], "z": nil]
        XCTAssertEqual(v["s"]?.stringValue, "x")
        XCTAssertEqual(v["n"]?.intValue, 3)
        XCTAssertEqual(v["n"]?.doubleValue, 3)
        XCTAssertNil(v["f"]?.intValue)
        XCTAssertEqual(v["f"]?.doubleValue, 3.5)
        XCTAssertEqual(v["b"]?.boolValue, true)
        XCTAssertEqual(v["a"]?.arrayValue, [.number(1)])
        XCTAssertEqual(v["o"]?.objectValue, ["k": .null])
        XCTAssertEqual(v["z"]?.isNull, true)
        XCTAssertNil(v["missing"])
        XCTAssertNil(v["a"]?["k"])
        XCTAssertNil(JSON.string("s")["s"])
        XCTAssertNil(v["s"]?.intValue)
        XCTAssertNil(v["n"]?.stringValue)
        XCTAssertNil(v["n"]?.boolValue)
        XCTAssertNil(v["s"]?.arrayValue)
        XCTAssertNil(v["a"]?.objectValue)
        XCTAssertEqual(v["n"]?.isNull, false)
    }

    func testIntValueRange() {
        XCTAssertEqual(JSON.number(-9_223_372_036_854_775_808).intValue, Int.min)
        XCTAssertNil(JSON.number(9_223_372_036_854_775_808).intValue)  // 2^63 does not fit
        XCTAssertNil(JSON.number(1e19).intValue)
        XCTAssertNil(JSON.number(.nan).intValue)
        XCTAssertNil(JSON.number(.infinity).intValue)
        XCTAssertEqual(JSON.number(-0.0).intValue, 0)
        XCTAssertEqual(JSON.number(1e15).intValue, 1_000_000_000_000_000)
    }

    func testLiterals() {
        let v: JSON = ["a": [1, 2.5, "s", true, nil], "a": "dup"]
        XCTAssertEqual(v, .object(["a": .string("dup")]))
        let n: JSON = nil
        XCTAssertEqual(n, .null)
        let i: JSON = -4
        XCTAssertEqual(i, .number(-4))
        let a: JSON = [1, 2.5, "s", true, nil]
        XCTAssertEqual(a, .array([.number(1), .number(2.5), .string("s"), .bool(true), .null]))
    }

    // MARK: Size

    func testLargeVocabularyDocument() throws {
        // Shaped like a tokenizer word index: ~20 MB of "word": index pairs.
        var text: [UInt8] = []
        text.reserveCapacity(21_000_000)
        text.append(UInt8(ascii: "{"))
        let count = 1_000_000
        for i in 0..<count {
            if i > 0 { text.append(contentsOf: ", ".utf8) }
            text.append(contentsOf: "\"word_\(i)_é\\n\": \(i + 1)".utf8)
        }
        text.append(UInt8(ascii: "}"))
        XCTAssertGreaterThan(text.count, 20_000_000)

        var start = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        let v = try parseBytes(text)
        var end = timespec()
        clock_gettime(CLOCK_MONOTONIC, &end)
        let seconds = Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) / 1e9
        print("parsed \(text.count) bytes in \(seconds) s")

        let o = try XCTUnwrap(v.objectValue)
        XCTAssertEqual(o.count, count)
        XCTAssertEqual(o["word_0_é\n"], .number(1))
        XCTAssertEqual(o["word_999999_é\n"], .number(1_000_000))
        // Generous bound that still catches an accidentally quadratic parser, even in debug builds.
        XCTAssertLessThan(seconds, 30)
    }
}
