import Glibc

/// The constructor arguments of keras.preprocessing.text.Tokenizer (Keras 2 / tf.keras legacy).
public struct TokenizerOptions: Equatable, Sendable {
    /// Keras's default `filters`: ASCII punctuation except the apostrophe, plus TAB and LF.
    public static let kerasFilters = "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n"

    /// Keep only indices below this in `texts_to_sequences`; nil keeps all.
    public var numWords: Int?
    /// Every code point of this string is replaced by `split` before splitting.
    public var filters: String
    public var lower: Bool
    /// Separator for Python's `str.split(split)`: an exact string, not "any whitespace".
    public var split: String
    /// Every (lowercased) code point is a token; `filters` and `split` are then unused, as in Keras.
    public var charLevel: Bool
    public var oovToken: String?

    public init(numWords: Int? = nil, filters: String = TokenizerOptions.kerasFilters, lower: Bool = true,
                split: String = " ", charLevel: Bool = false, oovToken: String? = nil) {
        self.numWords = numWords
        self.filters = filters
        self.lower = lower
        self.split = split
        self.charLevel = charLevel
        self.oovToken = oovToken
    }

    // Python compares strings by code points; Swift's String == would equate canonically
    // equivalent spellings ("é" vs "e" + U+0301), which Keras treats as different.
    public static func == (a: TokenizerOptions, b: TokenizerOptions) -> Bool {
        a.numWords == b.numWords && a.lower == b.lower && a.charLevel == b.charLevel
            && a.filters.utf8.elementsEqual(b.filters.utf8) && a.split.utf8.elementsEqual(b.split.utf8)
            && (a.oovToken?.utf8).map { x in (b.oovToken?.utf8).map { x.elementsEqual($0) } ?? false }
                ?? (b.oovToken == nil)
    }
}

/// keras.preprocessing.text.Tokenizer with the same vocabulary, index order and sequences.
///
/// Words are UTF-8 byte strings compared by code points, as Python compares `str`.
/// Known differences from Python: `str.lower()` applies the Final_Sigma rule (a capital sigma
/// at the end of a word becomes "ς"); this always gives "σ". Lowercase mappings come from
/// Swift's Unicode tables, which may be a newer Unicode version than the Python's.
/// Before any fit, Keras's `word_index` is empty and an OOV word would yield `None`; here the
/// index is that of `fit_on_texts([])` (only the OOV token, at 1), so OOV words give 1.
///
/// Not thread-safe for concurrent mutation; `fit(texts:)` rebuilds the word index before it
/// returns, so a fitted tokenizer can be read from several threads.
public final class Tokenizer {
    private var core: TokenizerCore

    public init(options: TokenizerOptions = .init()) {
        core = TokenizerCore(options: options)
    }

    private init(core: TokenizerCore) {
        self.core = core
    }

    public var options: TokenizerOptions { core.options }

    /// `fit_on_texts(texts)` for UTF-8 documents, all or nothing: if any text is not valid UTF-8
    /// nothing is counted.
    public func fit(texts: [UnsafeBufferPointer<UInt8>]) throws {
        try core.checkUsable()
        for (n, text) in texts.enumerated() {
            if let bad = firstInvalidUTF8(text) {
                throw LSTMKitError(.invalidArgument, "text \(n) is not valid UTF-8 (byte \(bad))")
            }
        }
        for text in texts { try core.fit(text) }
        core.rebuildIndexIfNeeded()
    }


    /// `texts_to_sequences([text])[0]`. Invalid UTF-8 throws `.invalidArgument`.
    public func sequence(for text: UnsafeBufferPointer<UInt8>) throws -> [Int32] {
        try core.checkUsable()
        core.rebuildIndexIfNeeded()
        return try core.sequence(text)
    }

    public func copy() -> Tokenizer {
        Tokenizer(core: core)
    }

    /// A copy whose word index is up to date, so that `sequenceFresh` and `text(for:)` on it only
    /// read: a model stores its tokenizers this way and may then tokenize on several threads.
    func sharedCopy() -> Tokenizer {
        let t = copy()
        t.core.rebuildIndexIfNeeded()
        return t
    }

    /// `sequence(for:)` on a tokenizer made by `sharedCopy` (or `fromJSON`): reads only.
    func sequenceFresh(for text: UnsafeBufferPointer<UInt8>) throws -> [Int32] {
        try core.checkUsable()
        guard !core.indexStale else { throw LSTMKitError(.internal, "tokenizer index is stale in a shared tokenizer") }
        return try core.sequence(text)
    }

    /// Keras's `sequences_to_texts([ids])[0]` as UTF-8, except for the padding id: the word of
    /// each id joined by " " ("" when char_level). An id the index does not hold (0, negative,
    /// beyond the vocabulary) or at least num_words becomes the OOV token when there is one and is
    /// skipped otherwise, as in Keras, but 0 is always skipped: it is padding, which Keras would
    /// turn into the OOV token.
    func text(for ids: UnsafeBufferPointer<Int32>) -> [UInt8] {
        core.rebuildIndexIfNeeded()
        return core.text(ids)
    }
}

// MARK: - JSON

extension Tokenizer {
    /// Parses Keras Tokenizer arguments: {"num_words", "filters", "lower", "split", "char_level",
    /// "oov_token"}, all optional. Unknown keys are rejected, as Keras's constructor rejects
    /// unknown keyword arguments.
    public static func options(fromJSON json: JSON) throws -> TokenizerOptions {
        guard let object = json.objectValue else {
            throw LSTMKitError(.badConfig, "tokenizer options must be a JSON object")
        }
        return try parseOptions(object, extraKeys: [])
    }

    private static let optionKeys: Set<String> = ["num_words", "filters", "lower", "split", "char_level", "oov_token"]
    private static let stateKeys: Set<String> = ["document_count", "word_counts", "word_docs", "word_index"]

    private static func parseOptions(_ object: [String: JSON], extraKeys: Set<String>) throws -> TokenizerOptions {
        for key in object.keys where !optionKeys.contains(key) && !extraKeys.contains(key) {
            throw LSTMKitError(.badConfig, "unknown tokenizer option \"\(key)\"")
        }
        var options = TokenizerOptions()
        if let v = object["num_words"], !v.isNull {
            guard let n = exactInteger(v), n >= 1 else {
                throw LSTMKitError(.badConfig, "tokenizer num_words must be null or an integer >= 1")
            }
            options.numWords = n
        }
        if let v = object["filters"] {
            guard let s = v.stringValue else { throw LSTMKitError(.badConfig, "tokenizer filters must be a string") }
            options.filters = s
        }
        if let v = object["lower"] {
            guard let b = v.boolValue else { throw LSTMKitError(.badConfig, "tokenizer lower must be true or false") }
            options.lower = b
        }
        if let v = object["split"] {
            guard let s = v.stringValue, !s.isEmpty else {
                throw LSTMKitError(.badConfig, "tokenizer split must be a non-empty string")
            }
            options.split = s
        }
        if let v = object["char_level"] {
            guard let b = v.boolValue else { throw LSTMKitError(.badConfig, "tokenizer char_level must be true or false") }
            options.charLevel = b
        }
        if let v = object["oov_token"], !v.isNull {
            guard let s = v.stringValue else { throw LSTMKitError(.badConfig, "tokenizer oov_token must be null or a string") }
            options.oovToken = s
        }
        return options
    }

    /// A non-negative integer that a Double holds exactly (counts are stored as JSON numbers).
    private static func exactInteger(_ v: JSON) -> Int? {
        guard let d = v.doubleValue, d.isFinite, d >= 0, d <= 9_007_199_254_740_992, d.rounded(.towardZero) == d
        else { return nil }
        return Int(d)
    }

    /// {"class_name": "Tokenizer", "config": {options..., "document_count", "word_counts": [[w, c], ...]
    /// in first-seen order, "word_docs": [[w, n], ...] in the same order, "word_index": [[w, i], ...]
    /// in index order}}. Lists, not objects, because the order matters and words are compared by
    /// code points. word_index is derived (for readers); fromJSON checks it but does not need it.
    public func toJSON() -> JSON {
        // Checked before the mutating call: a model's stored tokenizer is fresh, and saves of
        // one model run side by side (they only read it).
        if core.indexStale { core.rebuildIndexIfNeeded() }
        let o = core.options
        let vocab = core.vocab
        var counts = [JSON](), docs = [JSON]()
        counts.reserveCapacity(vocab.count)
        docs.reserveCapacity(vocab.count)
        for id in 0..<vocab.count {
            let w = JSON.string(vocab.word(id))
            counts.append(.array([w, .number(Double(vocab.counts[id]))]))
            docs.append(.array([w, .number(Double(vocab.docs[id]))]))
        }
        let index = core.wordIndexList().map { JSON.array([.string($0.word), .number(Double($0.index))]) }
        let config: [String: JSON] = [
            "num_words": o.numWords.map { .number(Double($0)) } ?? .null,
            "filters": .string(o.filters),
            "lower": .bool(o.lower),
            "split": .string(o.split),
            "char_level": .bool(o.charLevel),
            "oov_token": o.oovToken.map { .string($0) } ?? .null,
            "document_count": .number(Double(core.documentCount)),
            "word_counts": .array(counts),
            "word_docs": .array(docs),
            "word_index": .array(index),
        ]
        return .object(["class_name": .string("Tokenizer"), "config": .object(config)])
    }

    /// The inverse of toJSON. Throws `.badConfig` on anything malformed or inconsistent.
    public static func fromJSON(_ json: JSON) throws -> Tokenizer {
        func bad(_ message: String) -> LSTMKitError { LSTMKitError(.badConfig, "tokenizer JSON: " + message) }
        guard let root = json.objectValue else { throw bad("not an object") }
        guard root["class_name"]?.stringValue == "Tokenizer" else { throw bad("class_name must be \"Tokenizer\"") }
        for key in root.keys where key != "class_name" && key != "config" { throw bad("unknown key \"\(key)\"") }
        guard let config = root["config"]?.objectValue else { throw bad("config must be an object") }
        let options = try parseOptions(config, extraKeys: stateKeys)
        if options.split.isEmpty { throw bad("split must be non-empty") }

        guard let documentCount = config["document_count"].flatMap(exactInteger) else {
            throw bad("document_count must be an integer >= 0")
        }
        func pairs(_ key: String) throws -> [(word: [UInt8], value: Int)] {
            guard let list = config[key]?.arrayValue else { throw bad("\(key) must be a list of [word, number] pairs") }
            return try list.map { item in
                guard let pair = item.arrayValue, pair.count == 2, let word = pair[0].stringValue,
                      let value = exactInteger(pair[1]) else {
                    throw bad("\(key) must be a list of [word, number] pairs")
                }
                return (Array(word.utf8), value)
            }
        }
        let counts = try pairs("word_counts")
        let docs = try pairs("word_docs")

        var core = TokenizerCore(options: options)
        core.documentCount = documentCount
        for (word, count) in counts {
            guard !word.isEmpty else { throw bad("word_counts holds an empty word") }
            guard count >= 1 else { throw bad("word_counts must be >= 1") }
            guard core.vocab.count < TokenizerCore.maxWords else { throw LSTMKitError(.noMemory, "tokenizer vocabulary too large") }
            let id = word.withUnsafeBufferPointer { core.vocab.findOrInsert($0.baseAddress!, $0.count) }
            guard id == core.vocab.count - 1 else { throw bad("word_counts lists a word twice") }
            core.vocab.counts[id] = count
        }
        guard docs.count == counts.count else { throw bad("word_docs and word_counts list different words") }
        var seen = [Bool](repeating: false, count: counts.count)
        for (word, n) in docs {
            let id = word.withUnsafeBufferPointer { Int(core.vocab.find($0.baseAddress!, $0.count)) }
            guard id >= 0, !seen[id] else { throw bad("word_docs and word_counts list different words") }
            seen[id] = true
            guard n >= 1, n <= core.vocab.counts[id], n <= documentCount else {
                throw bad("word_docs count out of range for a word")
            }
            core.vocab.docs[id] = n
        }
        core.rebuildIndexIfNeeded()

        if let v = config["word_index"] {
            let expected = core.wordIndexList()
            guard let list = v.arrayValue, list.count == expected.count else { throw bad("word_index does not match word_counts") }
            for (item, want) in zip(list, expected) {
                guard let pair = item.arrayValue, pair.count == 2, let word = pair[0].stringValue,
                      word.utf8.elementsEqual(want.word.utf8), exactInteger(pair[1]) == want.index else {
                    throw bad("word_index does not match word_counts")
                }
            }
        }
        return Tokenizer(core: core)
    }
}

// MARK: - Implementation

/// All mutable state in one struct, so a whole document is processed inside one mutating call
/// (one exclusivity check per document, not per word) and copy() is a value copy.
struct TokenizerCore {
    /// Indices are Int32 and start at 2 with an OOV token.
    static let maxWords = Int(Int32.max) - 2

    let options: TokenizerOptions
    let normalizer: TextNormalizer
    let oovBytes: [UInt8]?
    var vocab = Vocabulary()
    var documentCount = 0
    /// Keras index of each word id; valid while !indexStale.
    var indexOfWord: [Int32] = []
    /// Word ids in index order.
    var ranked: [Int32] = []
    var oovIndex: Int32?
    var indexStale = true
    /// Reused normalisation buffer for fitting.
    var scratch: [UInt8] = []

    init(options: TokenizerOptions) {
        self.options = options
        normalizer = TextNormalizer(options)
        oovBytes = options.oovToken.map { Array($0.utf8) }
    }

    func checkUsable() throws {
        // Python's str.split("") raises ValueError; char_level never splits.
        if options.split.isEmpty && !options.charLevel {
            throw LSTMKitError(.badConfig, "tokenizer split must be a non-empty string")
        }
    }

    mutating func fit(_ text: UnsafeBufferPointer<UInt8>) throws {
        var buffer = [UInt8]()
        swap(&buffer, &scratch)
        defer { swap(&buffer, &scratch) }
        buffer.removeAll(keepingCapacity: true)
        if let bad = normalizer.normalize(text, into: &buffer) {
            throw LSTMKitError(.invalidArgument, "text is not valid UTF-8 (byte \(bad))")
        }
        if vocab.count + buffer.count > TokenizerCore.maxWords {
            throw LSTMKitError(.noMemory, "tokenizer vocabulary too large")
        }
        documentCount += 1
        let doc = documentCount
        buffer.withUnsafeBufferPointer { t in
            normalizer.forEachToken(t) { p, n in
                let id = vocab.findOrInsert(p, n)
                vocab.counts[id] += 1
                if vocab.lastDoc[id] != doc {
                    vocab.lastDoc[id] = doc
                    vocab.docs[id] += 1
                }
            }
        }
        indexStale = true
    }

    /// Keras: `sorted(word_counts.items(), key=count, reverse=True)` (stable, so ties keep
    /// first-seen order), OOV token prepended, indices from 1 via `dict(zip(...))`.
    mutating func rebuildIndexIfNeeded() {
        guard indexStale else { return }
        let n = vocab.count
        var order = [Int32](0..<Int32(n))
        // Ties broken by id (= first-seen order) so the result does not rely on sort stability.
        vocab.counts.withUnsafeBufferPointer { c in
            order.sort { a, b in
                let ca = c[Int(a)], cb = c[Int(b)]
                return ca != cb ? ca > cb : a < b
            }
        }
        let first: Int32 = oovBytes == nil ? 1 : 2
        var index = [Int32](repeating: 0, count: n)
        for (rank, id) in order.enumerated() { index[Int(id)] = first + Int32(rank) }
        indexOfWord = index
        ranked = order
        if let oov = oovBytes {
            let id = oov.isEmpty ? -1 : oov.withUnsafeBufferPointer { vocab.find($0.baseAddress!, $0.count) }
            // dict(zip(...)) keeps the later value when the OOV token is also a counted word.
            oovIndex = id >= 0 ? index[Int(id)] : 1
        } else {
            oovIndex = nil
        }
        indexStale = false
    }

    func wordIndexList() -> [(word: String, index: Int)] {
        var list = [(word: String, index: Int)]()
        list.reserveCapacity(ranked.count + 1)
        if let oov = options.oovToken, oovIndex == 1 { list.append((oov, 1)) }
        for id in ranked { list.append((vocab.word(Int(id)), Int(indexOfWord[Int(id)]))) }
        return list
    }

    /// Keras's sequences_to_texts_generator for one sequence (see Tokenizer.text(for:)).
    /// Requires a fresh index.
    func text(_ ids: UnsafeBufferPointer<Int32>) -> [UInt8] {
        let first: Int32 = oovBytes == nil ? 1 : 2
        let limit = options.numWords.flatMap { $0 == 0 ? nil : $0 }
        let separator: [UInt8] = options.charLevel ? [] : [0x20]
        var out = [UInt8]()
        var any = false
        func append(_ word: (inout [UInt8]) -> Void) {
            if any { out.append(contentsOf: separator) }
            any = true
            word(&out)
        }
        for i in ids where i != 0 {
            // index_word.get(i): index 1 is the OOV token only when no counted word took its place.
            var known: Int32? = nil
            if i == 1, oovBytes != nil, oovIndex == 1 {
                known = -1
            } else if i >= first, Int(i - first) < ranked.count {
                known = ranked[Int(i - first)]
            }
            if let id = known, !(limit.map { Int(i) >= $0 } ?? false) {
                if id < 0 { append { $0.append(contentsOf: oovBytes!) } } else { append { vocab.appendWord(Int(id), to: &$0) } }
            } else if let oov = oovBytes {
                append { $0.append(contentsOf: oov) }
            }
        }
        return out
    }

    /// Keras's texts_to_sequences_generator for one text. Requires a fresh index.
    func sequence(_ text: UnsafeBufferPointer<UInt8>) throws -> [Int32] {
        var buffer = [UInt8]()
        if let bad = normalizer.normalize(text, into: &buffer) {
            throw LSTMKitError(.invalidArgument, "text is not valid UTF-8 (byte \(bad))")
        }
        // Keras tests `if num_words and i >= num_words`, so 0 means no limit too.
        let limit = options.numWords.flatMap { $0 == 0 ? nil : $0 }
        let oov = oovIndex
        var out = [Int32]()
        buffer.withUnsafeBufferPointer { t in
            normalizer.forEachToken(t) { p, n in
                let id = vocab.find(p, n)
                if id >= 0 {
                    let i = indexOfWord[Int(id)]
                    if let limit, Int(i) >= limit {
                        if let oov { out.append(oov) }
                    } else {
                        out.append(i)
                    }
                } else if let oov {
                    out.append(oov)
                }
            }
        }
        return out
    }
}

/// Keras's text_to_word_sequence (and the char_level path) on UTF-8 bytes: `normalize` does
/// `text.lower()` then `text.translate({c: split for c in filters})`; `forEachToken` does
/// `[w for w in text.split(split) if w]`, or yields each code point when char_level.
struct TextNormalizer {
    private static let filtered: UInt8 = 0xFF
    /// Per ASCII byte: the byte after lowercasing, or `filtered` if the result is a filter.
    private let asciiMap: [UInt8]
    /// Per ASCII code point: whether it is a filter (for ASCII produced by lowercasing non-ASCII).
    private let asciiFilter: [Bool]
    private let wideFilters: Set<UInt32>
    private let lower: Bool
    private let charLevel: Bool
    private let split: [UInt8]

    init(_ options: TokenizerOptions) {
        lower = options.lower
        charLevel = options.charLevel
        split = Array(options.split.utf8)
        var ascii = [Bool](repeating: false, count: 128)
        var wide = Set<UInt32>()
        if !options.charLevel {  // Keras applies no filters at char level
            for s in options.filters.unicodeScalars {
                if s.value < 128 { ascii[Int(s.value)] = true } else { wide.insert(s.value) }
            }
        }
        asciiFilter = ascii
        wideFilters = wide
        let lower = options.lower
        asciiMap = (0..<128).map { (b: Int) -> UInt8 in
            let c = lower && b >= 65 && b <= 90 ? b + 32 : b
            return ascii[c] ? TextNormalizer.filtered : UInt8(c)
        }
    }

    /// Appends the lowered, filtered text to `out`. Returns the offset of the first byte that is
    /// not valid UTF-8 (then `out` is partial), or nil.
    func normalize(_ text: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) -> Int? {
        let n = text.count
        guard n > 0, let p = text.baseAddress else { return nil }
        out.reserveCapacity(out.count + n + n / 8 + 16)
        let split = self.split
        let singleSplit = split.count == 1 ? split[0] : nil
        let noWideWork = wideFilters.isEmpty
        return asciiMap.withUnsafeBufferPointer { map -> Int? in
            var i = 0
            while i < n {
                let b = p[i]
                if b < 0x80 {
                    let m = map[Int(b)]
                    if m != TextNormalizer.filtered {
                        out.append(m)
                    } else if let s = singleSplit {
                        out.append(s)
                    } else {
                        out.append(contentsOf: split)
                    }
                    i += 1
                    continue
                }
                guard let (value, length) = decodeUTF8(p, i, n) else { return i }
                let scalar = Unicode.Scalar(value)!
                if lower && scalar.properties.changesWhenLowercased {
                    // Python's str.lower() uses the full mapping (U+0130 -> "i\u{307}").
                    for s in scalar.properties.lowercaseMapping.unicodeScalars { emit(s.value, &out) }
                } else if noWideWork {
                    out.append(contentsOf: UnsafeBufferPointer(start: p + i, count: length))
                } else {
                    emit(value, &out)
                }
                i += length
            }
            return nil
        }
    }

    /// Appends one already-lowercased code point, or `split` if it is a filter.
    private func emit(_ value: UInt32, _ out: inout [UInt8]) {
        if value < 0x80 {
            if asciiFilter[Int(value)] { out.append(contentsOf: split) } else { out.append(UInt8(value)) }
        } else if wideFilters.contains(value) {
            out.append(contentsOf: split)
        } else {
            var v = value
            if v < 0x800 {
                out.append(UInt8(0xC0 | (v >> 6)))
            } else if v < 0x10000 {
                out.append(UInt8(0xE0 | (v >> 12)))
                out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
            } else {
                out.append(UInt8(0xF0 | (v >> 18)))
                out.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
                out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
            }
            v &= 0x3F
            out.append(UInt8(0x80 | v))
        }
    }

    /// Calls `body` with every token of normalized (valid UTF-8) text.
    @inline(__always)
    func forEachToken(_ t: UnsafeBufferPointer<UInt8>, _ body: (UnsafePointer<UInt8>, Int) -> Void) {
        let n = t.count
        guard n > 0, let p = t.baseAddress else { return }
        if charLevel {
            var i = 0
            while i < n {
                let b = p[i]
                let length = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4
                body(p + i, length)
                i += length
            }
            return
        }
        var start = 0
        if split.count == 1 {
            let s = split[0]
            for i in 0..<n where p[i] == s {
                if i > start { body(p + start, i - start) }
                start = i + 1
            }
        } else {
            // Leftmost, non-overlapping matches, as str.split does. Byte matching equals code point
            // matching because UTF-8 is self-synchronising.
            split.withUnsafeBufferPointer { sp in
                let s = sp.baseAddress!, m = sp.count, first = s[0]
                var i = 0
                while i + m <= n {
                    if p[i] == first && memcmp(p + i, s, m) == 0 {
                        if i > start { body(p + start, i - start) }
                        i += m
                        start = i
                    } else {
                        i += 1
                    }
                }
            }
        }
        if n > start { body(p + start, n - start) }
    }
}

/// Decodes one well-formed UTF-8 sequence at p[i] (i < n), per the Unicode table of well-formed
/// byte sequences: no overlongs, no surrogates, nothing above U+10FFFF.
@inline(__always)
func decodeUTF8(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int) -> (UInt32, Int)? {
    let b0 = p[i]
    if b0 < 0x80 { return (UInt32(b0), 1) }
    @inline(__always) func cont(_ k: Int) -> UInt32? {
        guard i + k < n else { return nil }
        let b = p[i + k]
        return b & 0xC0 == 0x80 ? UInt32(b & 0x3F) : nil
    }
    switch b0 {
    case 0xC2...0xDF:
        guard let c1 = cont(1) else { return nil }
        return ((UInt32(b0 & 0x1F) << 6) | c1, 2)
    case 0xE0...0xEF:
        guard let c1 = cont(1), let c2 = cont(2) else { return nil }
        let v = (UInt32(b0 & 0x0F) << 12) | (c1 << 6) | c2
        guard v >= 0x800, !(0xD800...0xDFFF).contains(v) else { return nil }
        return (v, 3)
    case 0xF0...0xF4:
        guard let c1 = cont(1), let c2 = cont(2), let c3 = cont(3) else { return nil }
        let v = (UInt32(b0 & 0x07) << 18) | (c1 << 12) | (c2 << 6) | c3
        guard v >= 0x10000, v <= 0x10FFFF else { return nil }
        return (v, 4)
    default:
        return nil
    }
}

/// Offset of the first byte of `text` that is not well-formed UTF-8, or nil.
func firstInvalidUTF8(_ text: UnsafeBufferPointer<UInt8>) -> Int? {
    guard let p = text.baseAddress else { return nil }
    let n = text.count
    var i = 0
    while i < n {
        if p[i] < 0x80 { i += 1; continue }
        guard let (_, length) = decodeUTF8(p, i, n) else { return i }
        i += length
    }
    return nil
}

/// Words as byte strings in one arena, with an open-addressing hash table of word ids.
/// Byte keys give Python's code point equality (Swift String keys would merge canonically
/// equivalent words) and avoid a String allocation per word.
struct Vocabulary {
    private var bytes: [UInt8] = []
    /// Start of each word in `bytes`, plus the end of the last one.
    private var starts: [Int] = [0]
    private var hashes: [UInt64] = []
    /// Word id or -1; power-of-two size, at most half full.
    private var slots = [Int32](repeating: -1, count: 1024)
    var counts: [Int] = []
    var docs: [Int] = []
    /// The last document (by number) that counted each word, for word_docs.
    var lastDoc: [Int] = []

    var count: Int { hashes.count }

    func word(_ id: Int) -> String {
        String(decoding: bytes[starts[id]..<starts[id + 1]], as: UTF8.self)
    }

    func appendWord(_ id: Int, to out: inout [UInt8]) {
        out.append(contentsOf: bytes[starts[id]..<starts[id + 1]])
    }

    /// Word id, or -1.
    func find(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int {
        find(p, n, Vocabulary.hash(p, n)).id
    }

    mutating func findOrInsert(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int {
        let h = Vocabulary.hash(p, n)
        let (id, slot) = find(p, n, h)
        if id >= 0 { return id }
        let newID = hashes.count
        bytes.append(contentsOf: UnsafeBufferPointer(start: p, count: n))
        starts.append(bytes.count)
        hashes.append(h)
        counts.append(0)
        docs.append(0)
        lastDoc.append(0)
        slots[slot] = Int32(newID)
        if hashes.count * 2 > slots.count { grow() }
        return newID
    }

    /// The word's id (or -1) and the slot where probing stopped.
    private func find(_ p: UnsafePointer<UInt8>, _ n: Int, _ h: UInt64) -> (id: Int, slot: Int) {
        slots.withUnsafeBufferPointer { slots in
            starts.withUnsafeBufferPointer { starts in
                hashes.withUnsafeBufferPointer { hashes in
                    bytes.withUnsafeBufferPointer { bytes in
                        let mask = slots.count - 1
                        var slot = Int(truncatingIfNeeded: h) & mask
                        while true {
                            let id = Int(slots[slot])
                            if id < 0 { return (-1, slot) }
                            if hashes[id] == h {
                                let start = starts[id]
                                if starts[id + 1] - start == n && memcmp(bytes.baseAddress! + start, p, n) == 0 {
                                    return (id, slot)
                                }
                            }
                            slot = (slot + 1) & mask
                        }
                    }
                }
            }
        }
    }

    private mutating func grow() {
        var newSlots = [Int32](repeating: -1, count: slots.count * 2)
        let mask = newSlots.count - 1
        for (id, h) in hashes.enumerated() {
            var slot = Int(truncatingIfNeeded: h) & mask
            while newSlots[slot] >= 0 { slot = (slot + 1) & mask }
            newSlots[slot] = Int32(id)
        }
        slots = newSlots
    }

    /// A fast multiply-xorshift hash over 8-byte chunks; words are short.
    @inline(__always)
    static func hash(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
        let k: UInt64 = 0x9E37_79B9_7F4A_7C15
        var h: UInt64 = 0x243F_6A88_85A3_08D3 ^ UInt64(truncatingIfNeeded: n)
        let raw = UnsafeRawPointer(p)
        var i = 0
        while i + 8 <= n {
            h = (h ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* k
            h ^= h >> 29
            i += 8
        }
        if i < n {
            var w: UInt64 = 0
            var shift: UInt64 = 0
            while i < n {
                w |= UInt64(p[i]) << shift
                shift += 8
                i += 1
            }
            h = (h ^ w) &* k
            h ^= h >> 29
        }
        h = (h ^ (h >> 32)) &* 0xD6E8_FEB8_6659_FD93
        return h ^ (h >> 32)
    }
}
