import Foundation

/// The CLIP byte-level BPE tokenizer, reading `vocab.json` and `merges.txt`. Ids match
/// transformers' `CLIPTokenizer` (5.x, backed by `tokenizers`): special tokens split out first,
/// then NFC + whitespace runs to one space + lower case, the CLIP regex split, byte-to-unicode,
/// BPE with `</w>` word ends; then start/end tokens and padding/truncation.
public final class CLIPTokenizer {
    public let vocabulary: [String: Int]
    let ranks: [Pair: Int]
    public let startToken = "<|startoftext|>", endToken = "<|endoftext|>"
    public let startId: Int, endId: Int, padId: Int
    /// Sequence length after padding/truncation (`model_max_length`).
    public let maxLength: Int
    private var cache: [String: [String]] = [:]
    private let cacheLock = NSLock()
    public static let byteEncoder: [Character] = CLIPTokenizer.bytesToUnicode()

    struct Pair: Hashable { var a: String; var b: String }

    /// Reads `vocab.json` and `merges.txt` from `folder` (and `tokenizer_config.json` for the pad
    /// token and `model_max_length` when present).
    public convenience init(folder: String, defaultMaxLength: Int = 77) throws {
        var maxLength = defaultMaxLength
        var padToken: String? = nil
        let configPath = "\(folder)/tokenizer_config.json"
        if let data = FileManager.default.contents(atPath: configPath) {
            guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw InputError(configPath, "is not a JSON object")
            }
            if let m = json["model_max_length"] as? Int, m > 0, m < 1_000_000 { maxLength = m }
            if let p = json["pad_token"] as? String { padToken = p }
            if let p = json["pad_token"] as? [String: Any], let content = p["content"] as? String { padToken = content }
        }
        try self.init(vocabularyPath: "\(folder)/vocab.json", mergesPath: "\(folder)/merges.txt",
                      maxLength: maxLength, padToken: padToken)
    }

    public init(vocabularyPath: String, mergesPath: String, maxLength: Int = 77, padToken: String? = nil) throws {
        guard let vocabData = FileManager.default.contents(atPath: vocabularyPath) else {
            throw InputError(vocabularyPath, FileManager.default.fileExists(atPath: vocabularyPath) ? "cannot be read" : "no such file")
        }
        guard let vocab = try? JSONSerialization.jsonObject(with: vocabData) as? [String: Int] else {
            throw InputError(vocabularyPath, "is not a JSON object of token → id")
        }
        guard let mergesText = try? String(contentsOfFile: mergesPath, encoding: .utf8) else {
            throw InputError(mergesPath, FileManager.default.fileExists(atPath: mergesPath) ? "is not UTF-8 text" : "no such file")
        }
        var ranks = [Pair: Int]()
        var rank = 0
        for (lineNumber, line) in mergesText.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.hasPrefix("#version") || line.isEmpty { continue }
            let parts = line.split(separator: " ")
            guard parts.count == 2 else { throw InputError(mergesPath, "line \(lineNumber + 1) is not two symbols") }
            ranks[Pair(a: String(parts[0]), b: String(parts[1]))] = rank
            rank += 1
        }
        guard let s = vocab[startToken], let e = vocab[endToken] else {
            throw InputError(vocabularyPath, "lacks \(startToken) or \(endToken)")
        }
        vocabulary = vocab
        self.ranks = ranks
        (startId, endId) = (s, e)
        padId = padToken.flatMap { vocab[$0] } ?? e
        self.maxLength = maxLength
    }

    /// Ids of `text` with start/end tokens, truncated and padded to `maxLength` (as the
    /// Stable Diffusion pipelines call it: `padding="max_length", truncation=True`).
    public func encode(_ text: String) -> [Int] {
        var ids = [startId] + Array(tokenIds(text).prefix(maxLength - 2)) + [endId]
        ids += Array(repeating: padId, count: maxLength - ids.count)
        return ids
    }

    /// Ids of `text` without special tokens, padding or truncation.
    public func tokenIds(_ text: String) -> [Int] {
        var ids = [Int]()
        for piece in splitOnSpecialTokens(text) {
            if piece == startToken { ids.append(startId); continue }
            if piece == endToken { ids.append(endId); continue }
            let cleaned = Self.normalize(piece)
            for word in Self.clipSplit(cleaned) {
                for token in bpe(word) { ids.append(vocabulary[token] ?? endId) }
            }
        }
        return ids
    }

    /// Splits out literal `<|startoftext|>` / `<|endoftext|>`, which transformers never splits.
    func splitOnSpecialTokens(_ text: String) -> [String] {
        var pieces = [String]()
        var rest = Substring(text)
        while let first = [rest.range(of: startToken), rest.range(of: endToken)].compactMap({ $0 })
            .min(by: { $0.lowerBound < $1.lowerBound }) {
            pieces.append(String(rest[..<first.lowerBound]))
            pieces.append(String(rest[first]))
            rest = rest[first.upperBound...]
        }
        pieces.append(String(rest))
        return pieces
    }

    // MARK: Normalisation (the tokenizer.json normaliser transformers builds for CLIP)

    /// Oniguruma's Unicode `\s`: tab to carriage return, NEL, and the Zs, Zl, Zp categories.
    static func isRegexSpace(_ s: Unicode.Scalar) -> Bool {
        if (0x09...0x0D).contains(s.value) || s.value == 0x85 { return true }
        switch s.properties.generalCategory {
        case .spaceSeparator, .lineSeparator, .paragraphSeparator: return true
        default: return false
        }
    }

    /// NFC, then every run of whitespace to one space, then per-character full lower-case
    /// mapping (as the `Lowercase` normaliser does: no final-sigma rule).
    static func normalize(_ text: String) -> String {
        let nfc = text.precomposedStringWithCanonicalMapping
        var out = String.UnicodeScalarView()
        var inSpace = false
        for s in nfc.unicodeScalars {
            if isRegexSpace(s) {
                if !inSpace { out.append(" ") }
                inSpace = true
            } else {
                inSpace = false
                out.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars)
            }
        }
        return String(out)
    }

    // MARK: The CLIP regex split

    static func isLetter(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    static func isNumber(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    /// `'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`, in that order of preference.
    static func clipSplit(_ text: String) -> [String] {
        let s = Array(text.unicodeScalars)
        var pieces = [String]()
        var i = 0
        func piece(_ a: Int, _ b: Int) -> String {
            var v = String.UnicodeScalarView(); v.append(contentsOf: s[a..<b]); return String(v)
        }
        func lower(_ k: Int) -> Unicode.Scalar? { k < s.count ? Unicode.Scalar(s[k].properties.lowercaseMapping.unicodeScalars.first!.value) : nil }
        while i < s.count {
            let c = s[i]
            if isRegexSpace(c) { i += 1; continue }
            if c == "'" {
                let n1 = lower(i + 1), n2 = lower(i + 2)
                if n1 == "r" && n2 == "e" || n1 == "v" && n2 == "e" || n1 == "l" && n2 == "l" {
                    pieces.append(piece(i, i + 3)); i += 3; continue
                }
                if n1 == "s" || n1 == "t" || n1 == "m" || n1 == "d" {
                    pieces.append(piece(i, i + 2)); i += 2; continue
                }
            }
            if isLetter(c) {
                var j = i + 1
                while j < s.count, isLetter(s[j]) { j += 1 }
                pieces.append(piece(i, j)); i = j; continue
            }
            if isNumber(c) { pieces.append(piece(i, i + 1)); i += 1; continue }
            var j = i + 1
            while j < s.count, !isRegexSpace(s[j]), !isLetter(s[j]), !isNumber(s[j]) {
                j += 1
            }
            pieces.append(piece(i, j)); i = j
        }
        return pieces
    }

    // MARK: Byte-level BPE

    /// GPT-2's reversible byte → printable character map.
    static func bytesToUnicode() -> [Character] {
        var bs = Array(33...126) + Array(161...172) + Array(174...255)
        var cs = bs
        var n = 0
        for b in 0..<256 where !bs.contains(b) {
            bs.append(b); cs.append(256 + n); n += 1
        }
        var map = [Character](repeating: " ", count: 256)
        for (b, c) in zip(bs, cs) { map[b] = Character(Unicode.Scalar(UInt32(c))!) }
        return map
    }

    /// BPE of one pre-split word, as vocabulary tokens.
    func bpe(_ word: String) -> [String] {
        cacheLock.lock()
        if let hit = cache[word] { cacheLock.unlock(); return hit }
        cacheLock.unlock()
        var symbols = word.utf8.map { String(Self.byteEncoder[Int($0)]) }
        guard !symbols.isEmpty else { return [] }
        symbols[symbols.count - 1] += "</w>"
        while symbols.count > 1 {
            var best: (rank: Int, index: Int)? = nil
            for k in 0..<(symbols.count - 1) {
                if let r = ranks[Pair(a: symbols[k], b: symbols[k + 1])], best == nil || r < best!.rank { best = (r, k) }
            }
            guard let chosen = best else { break }
            let (first, second) = (symbols[chosen.index], symbols[chosen.index + 1])
            var merged = [String]()
            var k = 0
            while k < symbols.count {
                if k < symbols.count - 1, symbols[k] == first, symbols[k + 1] == second {
                    merged.append(first + second); k += 2
                } else {
                    merged.append(symbols[k]); k += 1
                }
            }
            symbols = merged
        }
        cacheLock.lock(); cache[word] = symbols; cacheLock.unlock()
        return symbols
    }
}
