import Foundation
import GlassboxTensor

/// Indirect-object-identification prompts (arXiv 2211.00593 §2): "When Mary and John went
/// to the store, John gave a drink to" → " Mary" (the indirect object, IO) rather than
/// " John" (the subject, S, repeated as S2). The corrupted prompt replaces S2 by IO
/// ("…, Mary gave a drink to"), which flips the answer, as in the patching reference.
public struct IOIPrompt: Sendable, Equatable, Codable {
    public var clean: String
    public var corrupt: String
    /// The indirect object and the subject, with their leading space (" Mary", " John").
    public var indirectObject: String
    public var subject: String
    public var template: Int
}

/// Seeded IOI prompts from templates and name, place and object lists (the paper's templates,
/// both name orders "ABBA" and "BABA").
public struct IOIGenerator: Sendable {
    /// `[A]`, `[B]` are the names of the first clause, `[S]` the repeated subject.
    public static let templates = [
        "When [A] and [B] went to the [PLACE], [S] gave a [OBJECT] to",
        "Then, [A] and [B] went to the [PLACE]. [S] gave a [OBJECT] to",
        "Then, [A] and [B] had a long argument, and afterwards [S] said to",
        "After [A] and [B] went to the [PLACE], [S] gave a [OBJECT] to",
        "When [A] and [B] got a [OBJECT] at the [PLACE], [S] decided to give it to",
        "While [A] and [B] were working at the [PLACE], [S] gave a [OBJECT] to",
        "Friends [A] and [B] found a [OBJECT] at the [PLACE]. [S] gave it to",
        "The [PLACE] [A] and [B] went to had a [OBJECT]. [S] gave it to",
    ]
    public static let names = [
        "Mary", "John", "Tom", "James", "Dan", "Sid", "Martin", "Amy", "Paul", "Kate", "Mark", "Anna",
        "Sarah", "David", "Michael", "Lisa", "Laura", "Peter", "Alex", "Emma", "Jack", "Ben", "Eric", "Adam",
    ]
    public static let places = ["store", "garden", "restaurant", "school", "hospital", "office", "station", "park"]
    public static let objects = ["drink", "ring", "book", "snack", "kiss", "bone", "basketball", "computer"]

    public var names: [String]

    /// `names` may be narrowed (e.g. to names that are one token for a tokenizer).
    public init(names: [String] = IOIGenerator.names) {
        self.names = names
    }

    /// `count` prompts drawn with `seed`; IO and S are two different names.
    public func prompts(count: Int, seed: UInt64) -> [IOIPrompt] {
        precondition(names.count >= 2, "IOIGenerator: need at least two names")
        var g = SeededGenerator(seed: seed)
        return (0..<count).map { _ in
            let t = g.nextInt(below: Self.templates.count)
            let io = names[g.nextInt(below: names.count)]
            var s = names[g.nextInt(below: names.count - 1)]
            if s == io { s = names[names.count - 1] }
            let place = Self.places[g.nextInt(below: Self.places.count)]
            let object = Self.objects[g.nextInt(below: Self.objects.count)]
            let ioFirst = g.nextInt(below: 2) == 0      // ABBA (IO first) or BABA
            func fill(_ s2: String) -> String {
                Self.templates[t]
                    .replacingOccurrences(of: "[A]", with: ioFirst ? io : s)
                    .replacingOccurrences(of: "[B]", with: ioFirst ? s : io)
                    .replacingOccurrences(of: "[S]", with: s2)
                    .replacingOccurrences(of: "[PLACE]", with: place)
                    .replacingOccurrences(of: "[OBJECT]", with: object)
            }
            return IOIPrompt(clean: fill(s), corrupt: fill(io), indirectObject: " " + io, subject: " " + s, template: t)
        }
    }
}
