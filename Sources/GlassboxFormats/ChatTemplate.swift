/// One message of a conversation.
public struct ChatMessage: Sendable, Equatable, Codable {
    public var role: String
    public var content: String
    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// ChatML prompts (`<|im_start|>role\ncontent<|im_end|>\n`) for instruct models whose chat
/// template is ChatML. The template text is not executed; it is recognised, and the default
/// system message it inserts when the conversation has none is taken from it.
public struct ChatMLTemplate: Sendable, Equatable {
    /// Inserted as the first message when the conversation does not start with a system message.
    public var defaultSystemMessage: String?

    public init(defaultSystemMessage: String? = nil) {
        self.defaultSystemMessage = defaultSystemMessage
    }

    /// The ChatML template described by a Jinja chat template, or nil when it is not ChatML.
    public init?(jinja template: String) {
        guard template.contains("<|im_start|>"), template.contains("<|im_end|>"),
              template.contains("message['role']") || template.contains("message.role") else { return nil }
        var system: String?
        // A literal default system turn: '<|im_start|>system\n…<|im_end|>' inside the template.
        if template.contains("!= 'system'") || template.contains("!= \"system\"") {
            for opener in ["<|im_start|>system\n", "<|im_start|>system\\n"] {
                if let start = template.range(of: opener), let end = template.range(of: "<|im_end|>", range: start.upperBound..<template.endIndex) {
                    let text = String(template[start.upperBound..<end.lowerBound])
                    system = text.replacingOccurrences(of: "\\n", with: "\n")
                    break
                }
            }
        }
        self.defaultSystemMessage = system
    }

    /// The prompt text; with `addGenerationPrompt` it ends with `<|im_start|>assistant\n`.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool = true) -> String {
        var out = ""
        if let defaultSystemMessage, messages.first?.role != "system" {
            out += "<|im_start|>system\n\(defaultSystemMessage)<|im_end|>\n"
        }
        for m in messages { out += "<|im_start|>\(m.role)\n\(m.content)<|im_end|>\n" }
        if addGenerationPrompt { out += "<|im_start|>assistant\n" }
        return out
    }
}

extension ByteLevelBPETokenizer {
    /// The ChatML template of the model, if its chat template is ChatML.
    public var chatML: ChatMLTemplate? { chatTemplate.flatMap(ChatMLTemplate.init(jinja:)) }
}
