import Core
import Foundation

/// CLIP-style BPE files (`vocab.json`, `merges.txt`, `tokenizer_config.json`) whose merges are
/// learnt from the world's words, so each grammar word is one token and any other text falls
/// back to byte-level characters. `CLIPTokenizer` and transformers' `CLIPTokenizer` read them.
public enum WorldTokenizerFiles {
    /// Every word the caption grammar uses, plus a few common prompt words.
    public static var words: [String] {
        Shape.allCases.map(\.rawValue) + ObjectColor.allCases.map(\.rawValue) + Ground.allCases.map(\.rawValue)
            + ["a", "and", "on", "at", "sunset", "night", "day", ",", "the", "an", "of", "photo", "with", "in"]
    }

    /// Learns merges: repeatedly merge the most frequent adjacent pair (ties: first in order)
    /// until every word is a single symbol.
    public static func merges(for words: [String]) -> [(String, String)] {
        let encoder = CLIPTokenizer.byteEncoder
        var segmented: [[String]] = words.map { word in
            var symbols = word.utf8.map { String(encoder[Int($0)]) }
            symbols[symbols.count - 1] += "</w>"
            return symbols
        }
        var result = [(String, String)]()
        while true {
            var counts = [String: (Int, Int, String, String)]()  // key → (count, first seen, a, b)
            var order = 0
            for symbols in segmented where symbols.count > 1 {
                for k in 0..<(symbols.count - 1) {
                    let key = symbols[k] + "\u{0}" + symbols[k + 1]
                    if let c = counts[key] { counts[key] = (c.0 + 1, c.1, c.2, c.3) } else { counts[key] = (1, order, symbols[k], symbols[k + 1]) }
                    order += 1
                }
            }
            guard let best = counts.values.max(by: { ($0.0, -$0.1) < ($1.0, -$1.1) }) else { break }
            result.append((best.2, best.3))
            segmented = segmented.map { symbols in
                var merged = [String]()
                var k = 0
                while k < symbols.count {
                    if k < symbols.count - 1, symbols[k] == best.2, symbols[k + 1] == best.3 {
                        merged.append(best.2 + best.3); k += 2
                    } else {
                        merged.append(symbols[k]); k += 1
                    }
                }
                return merged
            }
        }
        return result
    }

    /// Writes the three files into `folder` (created if needed).
    public static func write(to folder: String, maxLength: Int = 32) throws {
        try AtomicFile.createFolder(folder)
        let encoder = CLIPTokenizer.byteEncoder.map { String($0) }
        let learnt = merges(for: words)
        var vocabulary = encoder + encoder.map { $0 + "</w>" } + learnt.map { $0.0 + $0.1 } + ["<|startoftext|>", "<|endoftext|>"]
        var seen = Set<String>()
        vocabulary = vocabulary.filter { seen.insert($0).inserted }
        let ids = Dictionary(uniqueKeysWithValues: vocabulary.enumerated().map { ($0.element, $0.offset) })
        let vocabJSON = try JSONSerialization.data(withJSONObject: ids, options: [.sortedKeys])
        try AtomicFile.write(vocabJSON, to: "\(folder)/vocab.json")
        let mergesText = "#version: 0.2\n" + learnt.map { "\($0.0) \($0.1)" }.joined(separator: "\n") + "\n"
        try AtomicFile.write(Data(mergesText.utf8), to: "\(folder)/merges.txt")
        let config: [String: Any] = ["model_max_length": maxLength, "pad_token": "<|endoftext|>", "bos_token": "<|startoftext|>",
                                     "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>", "tokenizer_class": "CLIPTokenizer"]
        try AtomicFile.write(try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys, .prettyPrinted]),
                             to: "\(folder)/tokenizer_config.json")
    }
}
