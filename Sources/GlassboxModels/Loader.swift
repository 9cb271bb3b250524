import Foundation
import GlassboxFormats
import GlassboxTensor

/// A model with its tokenizer, ready to run.
public struct LoadedModel: @unchecked Sendable {
    public let name: String
    /// The GGUF file or safetensors folder the weights came from.
    public let path: String
    public let model: any TransformerModel
    /// nil when the file's tokenizer kind is not supported (e.g. SentencePiece GGUFs).
    public let tokenizer: (any Tokenizer)?
    /// The ChatML template, for instruct models that carry one.
    public let chatTemplate: ChatMLTemplate?
    /// Tensor types and counts of the file (e.g. ["F32": 61, "Q4_1": 210]).
    public let tensorTypes: [String: Int]

    /// Token ids of `text` with the tokenizer's own framing (BOS, [CLS]/[SEP]).
    public func encode(_ text: String, prefix: [Int] = []) throws -> [Int] {
        guard let tokenizer else { throw ModelError.invalidInput("\(name): no supported tokenizer in \(path)") }
        return prefix + tokenizer.encode(text)
    }

    /// The prompt text of a single user message (after an optional system message) through the chat template.
    public func chatPrompt(_ message: String, system: String? = nil) throws -> String {
        try chatPrompt(messages: (system.map { [ChatMessage(role: "system", content: $0)] } ?? []) + [ChatMessage(role: "user", content: message)])
    }

    /// The prompt text of a conversation through the chat template, ending with the assistant's turn.
    public func chatPrompt(messages: [ChatMessage]) throws -> String {
        guard let chatTemplate else { throw ModelError.invalidInput("\(name) has no ChatML chat template") }
        return chatTemplate.render(messages)
    }

    /// Ids that end generation (end-of-text / ChatML end-of-turn).
    public var stopTokens: Set<Int> {
        guard let tokenizer else { return [] }
        var s = Set<Int>()
        for t in ["<|im_end|>", "<|endoftext|>", "</s>", "[SEP]"] { if let id = tokenizer.id(of: t), tokenizer.isSpecial(id) { s.insert(id) } }
        if let bpe = tokenizer as? ByteLevelBPETokenizer, let eos = bpe.eosID { s.insert(eos) }
        return s
    }
}

public enum ModelLoader {
    /// Loads a registry name (fetching it into `cache` when `fetch` allows) or a local path: a
    /// GGUF file or a folder with config.json + model.safetensors.
    public static func load(_ nameOrPath: String, cache: ModelCache = .default, fetch: Bool = true,
                            log: (String) -> Void = { _ in }) throws -> LoadedModel {
        if let entry = ModelRegistry.entry(nameOrPath) {
            if !cache.isCached(entry) {
                guard fetch else { throw ModelError.fetchFailed(model: entry.name, reason: "not in the cache \(cache.root) and fetching is off") }
                try cache.fetch(entry, log: log)
            }
            return try load(path: cache.loadPath(entry), name: entry.name)
        }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: nameOrPath, isDirectory: &isDir) else {
            throw ModelError.unknownModel(nameOrPath, known: ModelRegistry.names)
        }
        return try load(path: nameOrPath, name: (nameOrPath as NSString).lastPathComponent)
    }

    /// Loads a GGUF file or a safetensors folder.
    public static func load(path: String, name: String) throws -> LoadedModel {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ModelError.unknownModel(path, known: ModelRegistry.names)
        }
        if isDir.boolValue {
            let weights = try SafetensorsWeights(folder: path)
            let typeName = (weights.config?["model_type"] as? String) ?? "(missing model_type)"
            guard let arch = Architecture(name: typeName) else {
                throw ModelError.unsupportedArchitecture(source: path, architecture: typeName)
            }
            let model = try arch.load(weights)
            let tokJSON = (path as NSString).appendingPathComponent("tokenizer.json")
            let vocab = (path as NSString).appendingPathComponent("vocab.txt")
            var tokenizer: (any Tokenizer)?
            if FileManager.default.fileExists(atPath: tokJSON) {
                tokenizer = try TokenizerLoader.load(tokenizerJSON: tokJSON)
            } else if FileManager.default.fileExists(atPath: vocab) {
                tokenizer = try WordPieceTokenizer(vocabTxt: vocab)
            }
            var types: [String: Int] = [:]
            for t in weights.file.tensors { types[t.dtype.rawValue, default: 0] += 1 }
            return LoadedModel(name: name, path: path, model: model, tokenizer: tokenizer,
                               chatTemplate: (tokenizer as? ByteLevelBPETokenizer)?.chatML, tensorTypes: types)
        }
        let file = try GGUFFile(path: path)
        let archName = try file.string("general.architecture")
        guard let arch = Architecture(name: archName), arch == .llama else {
            throw ModelError.unsupportedArchitecture(source: path, architecture: archName)
        }
        let model = try arch.load(GGUFWeights(file))
        let tokenizer = try? TokenizerLoader.load(gguf: file)
        var types: [String: Int] = [:]
        for t in file.tensors { types[t.type.name, default: 0] += 1 }
        return LoadedModel(name: name, path: path, model: model, tokenizer: tokenizer,
                           chatTemplate: (tokenizer as? ByteLevelBPETokenizer)?.chatML, tensorTypes: types)
    }
}
