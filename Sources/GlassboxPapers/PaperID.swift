import Foundation

/// A catalog id: an arXiv identifier (new style `2209.10652`, old style `hep-th/9901001`,
/// each optionally with a version) or a non-arXiv work `web/<slug>`.
///
/// The catalog key is always the unversioned form (`base`); the file name replaces `/`
/// with `_` (`hep-th_9901001.md`, `web_toy-slug.md`).
public struct PaperID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable { case newStyle, oldStyle, web }

    public let kind: Kind
    /// The unversioned id, e.g. `2209.10652`, `hep-th/9901001` or `web/logit-lens`.
    public let base: String
    /// The version when one was given (`2209.10652v2` → 2).
    public let version: Int?

    /// Parses and normalises an id. Accepts the prefixes `arXiv:`, `http(s)://arxiv.org/abs/`
    /// (and `export.`/`www.` hosts) and `oai:arXiv.org:`; lower-cases the archive of old-style ids.
    public init(_ raw: String) throws {
        var s = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        for prefix in ["oai:arXiv.org:", "arXiv:", "arxiv:"] where s.hasPrefix(prefix) {
            s.removeFirst(prefix.count)
        }
        for scheme in ["https://", "http://"] where s.hasPrefix(scheme) {
            var rest = String(s.dropFirst(scheme.count))
            for host in ["arxiv.org/abs/", "export.arxiv.org/abs/", "www.arxiv.org/abs/"] where rest.hasPrefix(host) {
                rest.removeFirst(host.count)
                s = rest
            }
        }
        if s.hasPrefix("web/") {
            let slug = s.dropFirst(4)
            guard !slug.isEmpty, slug.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }),
                  slug.first != "-", slug.last != "-" else { throw PapersError.invalidID(raw) }
            kind = .web; base = s; version = nil
            return
        }
        // Split off a version suffix `v<digits>` (no leading zero).
        var body = Substring(s)
        var ver: Int?
        if let vIndex = s.lastIndex(of: "v"), vIndex > s.startIndex {
            let digits = s[s.index(after: vIndex)...]
            if !digits.isEmpty, digits.allSatisfy(\.isASCIIDigit) {
                guard digits.first != "0", let v = Int(digits) else { throw PapersError.invalidID(raw) }
                ver = v
                body = s[..<vIndex]
            }
        }
        if let slash = body.firstIndex(of: "/") {
            // Old style: archive[.SubjectClass]/YYMMNNN
            let archivePart = body[..<slash]
            let number = body[body.index(after: slash)...]
            let pieces = archivePart.split(separator: ".", omittingEmptySubsequences: false)
            guard pieces.count <= 2, let archive = pieces.first, archive.count >= 1 else { throw PapersError.invalidID(raw) }
            let archiveOK = archive.allSatisfy { $0.isASCII && ($0.isLetter || $0 == "-") }
                && archive.first?.isLetter == true && archive.last?.isLetter == true
            var subjectOK = true
            if pieces.count == 2 {
                let subject = pieces[1]
                subjectOK = subject.count >= 2 && subject.allSatisfy { $0.isASCII && ($0.isLetter || $0 == "-") }
            }
            guard archiveOK, subjectOK, number.count == 7, number.allSatisfy(\.isASCIIDigit),
                  Self.validMonth(number.prefix(4).suffix(2)) else { throw PapersError.invalidID(raw) }
            var normalised = archive.lowercased()
            if pieces.count == 2 { normalised += "." + pieces[1] }
            kind = .oldStyle; base = normalised + "/" + number; version = ver
            return
        }
        // New style: YYMM.NNNN (0704–1412) or YYMM.NNNNN (1501 on).
        let parts = body.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 4, parts[0].allSatisfy(\.isASCIIDigit),
              parts[1].allSatisfy(\.isASCIIDigit), Self.validMonth(parts[0].suffix(2)),
              let yymm = Int(parts[0]) else { throw PapersError.invalidID(raw) }
        let width = parts[1].count
        guard yymm >= 704, (width == 4 && yymm <= 1412) || (width == 5 && yymm >= 1501) else {
            throw PapersError.invalidID(raw)
        }
        kind = .newStyle; base = String(body); version = ver
    }

    private static func validMonth(_ mm: Substring) -> Bool {
        guard let m = Int(mm) else { return false }
        return (1...12).contains(m)
    }

    /// The id with its version, when it has one (`2209.10652v2`).
    public var versioned: String { version.map { "\(base)v\($0)" } ?? base }
    /// The same id without a version.
    public var unversioned: PaperID { PaperID(kind: kind, base: base, version: nil) }
    public var isArxiv: Bool { kind != .web }
    /// The catalog file name: `/` becomes `_`, plus `.md`.
    public var fileName: String { base.replacingOccurrences(of: "/", with: "_") + ".md" }
    /// arXiv's abstract page (nil for web works).
    public var abstractURL: String? { isArxiv ? "https://arxiv.org/abs/\(versioned)" : nil }
    public var description: String { versioned }

    private init(kind: Kind, base: String, version: Int?) {
        self.kind = kind; self.base = base; self.version = version
    }

    /// The id a catalog file name stands for (`hep-th_9901001.md` → `hep-th/9901001`).
    public static func fromFileName(_ name: String) throws -> PaperID {
        guard name.hasSuffix(".md") else { throw PapersError.invalidID(name) }
        let stem = String(name.dropLast(3))
        return try PaperID(stem.replacingOccurrences(of: "_", with: "/"))
    }

    public static func < (a: PaperID, b: PaperID) -> Bool { a.versioned < b.versioned }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
