import Foundation

/// Builds the guided tour (`docs/tour.md`) from its sections (`docs/tour/NN-<topic>.md`).
///
/// Sections are plain Markdown, concatenated in file-name order. Every fenced block whose info
/// string is `glassbox-run` holds one command per line, each starting with `glassbox ` (no
/// shell: words separated by spaces, double quotes group words, `\"` and `\\` escape inside
/// quotes). The generator runs every command through `runner` and replaces the block with a
/// `text` block holding `$ <command>` and the command's standard output (trimmed, ANSI escape
/// sequences removed, the repository root's absolute path replaced by `.`). Everything else is
/// copied verbatim. Commands that run reproduction targets (`reproduce`, `check`) are rejected.
/// After all commands have run, every local Markdown image link
/// (`![alt](path)`) must name an existing file relative to the output file's folder.
public struct TourGenerator {
    /// What running one command gave.
    public struct CommandOutput: Sendable, Equatable {
        public var status: Int32
        public var standardOutput: String
        public var standardError: String
        public init(status: Int32, standardOutput: String, standardError: String = "") {
            self.status = status
            self.standardOutput = standardOutput
            self.standardError = standardError
        }
    }

    /// Runs `glassbox` with the arguments (without the leading `glassbox`) in the repository root.
    public typealias CommandRunner = (_ arguments: [String], _ workingDirectory: URL) throws -> CommandOutput

    /// Subcommands that run reproduction targets: a tour block may not call them, because the
    /// tour is generated right after `make reproduce` has run the targets; it reads their
    /// results instead (`glassbox results`).
    public static let targetRunningCommands: Set<String> = ["reproduce", "check"]

    /// The info string that marks a block to run.
    public static let runInfoString = "glassbox-run"

    public var root: URL
    public var sectionsDirectory: URL
    public var output: URL
    public var runner: CommandRunner
    /// Called before each command runs (section file name, command line).
    public var onCommand: ((String, String) -> Void)?

    /// `sectionsDirectory` and `output` default to `docs/tour` and `docs/tour.md` under `root`.
    public init(root: URL, sectionsDirectory: URL? = nil, output: URL? = nil, runner: @escaping CommandRunner) {
        self.root = root.standardizedFileURL
        self.sectionsDirectory = (sectionsDirectory ?? root.appendingPathComponent("docs/tour", isDirectory: true)).standardizedFileURL
        self.output = (output ?? root.appendingPathComponent("docs/tour.md")).standardizedFileURL
        self.runner = runner
    }

    /// What was generated.
    public struct Summary: Sendable, Equatable {
        public var sections: [String]
        public var commands: Int
        public var images: Int
    }

    // MARK: Sections

    /// Section file names (`NN-<topic>.md`, NN two or more digits) in order.
    public func sectionFiles() throws -> [String] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: sectionsDirectory.path)
        } catch {
            throw TourError.io(path: sectionsDirectory.path, reason: "cannot list the tour sections: \(error.localizedDescription)")
        }
        let sections = names.filter(Self.isSectionName).sorted()
        if sections.isEmpty {
            throw TourError.io(path: sectionsDirectory.path, reason: "no section files (expected names like 10-toy-models.md)")
        }
        return sections
    }

    /// `NN-<topic>.md`: two or more digits, a dash, a non-empty topic.
    public static func isSectionName(_ name: String) -> Bool {
        guard name.hasSuffix(".md") else { return false }
        let stem = name.dropLast(3)
        let digits = stem.prefix { $0.isASCII && $0.isNumber }
        guard digits.count >= 2 else { return false }
        let rest = stem.dropFirst(digits.count)
        return rest.hasPrefix("-") && rest.count > 1
    }

    // MARK: Generating

    /// Renders the tour (running every command) and checks the image links.
    public func render() throws -> (text: String, summary: Summary) {
        let files = try sectionFiles()
        let relativeSections = files.map { displayPath(sectionsDirectory.appendingPathComponent($0)) }
        var parts: [String] = []
        var commands = 0
        for file in files {
            let url = sectionsDirectory.appendingPathComponent(file)
            guard let text = try? String(contentsOf: url, encoding: .utf8) else {
                throw TourError.io(path: displayPath(url), reason: "cannot read the section as UTF-8 text")
            }
            let (rendered, count) = try renderSection(text, file: displayPath(url))
            commands += count
            parts.append(rendered.trimmingCharacters(in: .newlines))
        }
        let header = """
            <!-- Generated by `glassbox tour` from \(relativeSections.joined(separator: ", ")). Do not edit: edit the sections and regenerate. -->

            > *This file is generated by `glassbox tour` from the sections in \(displayPath(sectionsDirectory))/ (\(files.joined(separator: ", "))); every command output below comes from running it. Edit the sections, not this file.*
            """
        let text = header + "\n\n" + parts.joined(separator: "\n\n") + "\n"
        let images = try checkImages(in: text)
        return (text, Summary(sections: files, commands: commands, images: images))
    }

    /// Renders and writes the output file atomically.
    @discardableResult
    public func write() throws -> Summary {
        let (text, summary) = try render()
        do {
            try writeAtomically(text, to: output)
        } catch let error as ReproductionError {
            throw TourError.io(path: output.path, reason: error.description)
        }
        return summary
    }

    /// One section with its `glassbox-run` blocks replaced by their output.
    func renderSection(_ text: String, file: String) throws -> (String, Int) {
        let lines = text.components(separatedBy: "\n")
        var out: [String] = []
        var commands = 0
        var i = 0
        while i < lines.count {
            let line = lines[i]
            guard let fence = Self.openingFence(line) else {
                out.append(line)
                i += 1
                continue
            }
            // Find the closing fence: the same character, at least as long, nothing after it.
            var j = i + 1
            while j < lines.count && !Self.isClosingFence(lines[j], for: fence) { j += 1 }
            let body = Array(lines[(i + 1)..<min(j, lines.count)])
            if fence.info != Self.runInfoString {
                out.append(contentsOf: lines[i..<min(j + 1, lines.count)])
                i = j + 1
                continue
            }
            guard j < lines.count else {
                throw TourError.section(file: file, line: i + 1, problem: "the glassbox-run block opened here is never closed")
            }
            var transcript: [String] = []
            for (offset, raw) in body.enumerated() {
                let command = raw.trimmingCharacters(in: .whitespaces)
                if command.isEmpty { continue }
                let lineNumber = i + 2 + offset
                let words = try Self.parseCommand(command, file: file, line: lineNumber)
                if words.count > 1, Self.targetRunningCommands.contains(words[1]) {
                    throw TourError.section(file: file, line: lineNumber, problem: "`\(command)`: the tour does not run reproduction targets (`make reproduce` has just run them); show their stored results with `glassbox results <slug>`")
                }
                onCommand?(file, command)
                let result: CommandOutput
                do {
                    result = try runner(Array(words.dropFirst()), root)
                } catch {
                    throw TourError.commandFailed(file: file, line: lineNumber, command: command, reason: "could not start: \(error)")
                }
                if result.status != 0 {
                    let detail = clean(result.standardError.isEmpty ? result.standardOutput : result.standardError)
                    let lastLines = detail.split(separator: "\n", omittingEmptySubsequences: false).suffix(12).joined(separator: "\n")
                    throw TourError.commandFailed(file: file, line: lineNumber, command: command,
                                                  reason: "exit status \(result.status)" + (lastLines.isEmpty ? "" : ":\n" + lastLines))
                }
                if !transcript.isEmpty { transcript.append("") }
                transcript.append("$ " + command)
                let stdout = clean(result.standardOutput)
                if !stdout.isEmpty { transcript.append(stdout) }
                commands += 1
            }
            if transcript.isEmpty {
                throw TourError.section(file: file, line: i + 1, problem: "the glassbox-run block holds no command")
            }
            // A fence longer than any backtick run in the output, so the output cannot close it.
            let longestRun = transcript.joined(separator: "\n").split(omittingEmptySubsequences: true) { $0 != "`" }.map(\.count).max() ?? 0
            let ticks = String(repeating: "`", count: max(3, longestRun + 1))
            out.append(fence.indent + ticks + "text")
            out.append(contentsOf: transcript)
            out.append(fence.indent + ticks)
            i = j + 1
        }
        return (out.joined(separator: "\n"), commands)
    }

    // MARK: Commands

    /// Splits a command line into words: spaces separate, double quotes group (with `\"` and
    /// `\\` inside), and the first word must be `glassbox`. Shell syntax is rejected.
    public static func parseCommand(_ line: String, file: String = "(command)", line lineNumber: Int = 0) throws -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false, quoted = false
        var chars = Array(line)[...]
        func fail(_ problem: String) -> TourError { .section(file: file, line: lineNumber, problem: "`\(line)`: \(problem)") }
        while let c = chars.popFirst() {
            if quoted {
                if c == "\\", let next = chars.first, next == "\"" || next == "\\" {
                    current.append(next); chars.removeFirst()
                } else if c == "\"" {
                    quoted = false
                } else {
                    current.append(c)
                }
                continue
            }
            switch c {
            case " ", "\t":
                if inWord { words.append(current); current = ""; inWord = false }
            case "\"":
                quoted = true; inWord = true
            case "|", "&", ";", "<", ">", "`", "$", "'", "\\", "*", "?", "(", ")", "{", "}", "~", "#":
                throw fail("'\(c)' is shell syntax; tour commands run without a shell (quote the argument with \"…\" if it is literal text)")
            default:
                current.append(c); inWord = true
            }
        }
        if quoted { throw fail("unclosed double quote") }
        if inWord { words.append(current) }
        guard words.first == "glassbox" else {
            throw fail("every command in a glassbox-run block must start with `glassbox `")
        }
        return words
    }

    // MARK: Output cleaning

    /// Removes ANSI escape sequences and carriage-return overdraws, replaces the repository root
    /// with `.`, and trims surrounding blank lines and trailing spaces.
    func clean(_ text: String) -> String {
        var s = Self.stripANSI(text)
        // A status line redrawn with '\r' keeps only what was drawn last.
        s = s.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            String(line.split(separator: "\r", omittingEmptySubsequences: false).last(where: { !$0.isEmpty }) ?? "")
        }.joined(separator: "\n")
        for path in rootSpellings() {
            s = s.replacingOccurrences(of: path + "/", with: "./")
            s = s.replacingOccurrences(of: path, with: ".")
        }
        let lines = s.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            var l = Substring(line)
            while l.last == " " || l.last == "\t" { l = l.dropLast() }
            return String(l)
        }
        return lines.joined(separator: "\n").trimmingCharacters(in: .newlines)
    }

    /// The root as the output may spell it: standardized, with symlinks resolved; longest first.
    func rootSpellings() -> [String] {
        var paths = [root.path, root.resolvingSymlinksInPath().path]
        paths = paths.map { $0.count > 1 && $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        return Array(Set(paths.filter { $0.count > 1 })).sorted { $0.count > $1.count }
    }

    /// Removes CSI (`ESC [ … final`) and OSC (`ESC ] … BEL/ST`) sequences and other two-byte escapes.
    public static func stripANSI(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        var scalars = text.unicodeScalars[...]
        while let c = scalars.popFirst() {
            guard c == "\u{1B}" else { out.append(c); continue }
            guard let kind = scalars.popFirst() else { break }
            switch kind {
            case "[":
                while let x = scalars.popFirst(), !(0x40...0x7E).contains(x.value) {}
            case "]":
                while let x = scalars.popFirst() {
                    if x == "\u{07}" { break }
                    if x == "\u{1B}", scalars.first == "\\" { scalars.removeFirst(); break }
                }
            default:
                break
            }
        }
        return String(out)
    }

    // MARK: Images

    /// Checks every local image link outside code blocks; returns how many were checked.
    func checkImages(in text: String) throws -> Int {
        let base = output.deletingLastPathComponent()
        var checked = 0
        for target in Self.imageTargets(in: text) {
            let lower = target.lowercased()
            if lower.hasPrefix("http://") || lower.hasPrefix("https://") || lower.hasPrefix("data:") || lower.hasPrefix("#") { continue }
            var path = target
            if let cut = path.firstIndex(where: { $0 == "#" || $0 == "?" }) { path = String(path[..<cut]) }
            path = path.removingPercentEncoding ?? path
            let url = path.hasPrefix("/") ? URL(fileURLWithPath: path) : base.appendingPathComponent(path)
            if !FileManager.default.fileExists(atPath: url.standardizedFileURL.path) {
                throw TourError.missingImage(link: target, path: displayPath(url.standardizedFileURL))
            }
            checked += 1
        }
        return checked
    }

    /// The targets of `![alt](target "title")` links outside fenced code blocks.
    static func imageTargets(in text: String) -> [String] {
        var targets: [String] = []
        var fence: Fence?
        for line in text.components(separatedBy: "\n") {
            if let open = fence {
                if isClosingFence(line, for: open) { fence = nil }
                continue
            }
            if let f = openingFence(line) { fence = f; continue }
            var rest = Substring(line)
            while let start = rest.range(of: "![") {
                rest = rest[start.upperBound...]
                guard let close = rest.range(of: "](") else { break }
                rest = rest[close.upperBound...]
                guard let end = rest.firstIndex(of: ")") else { break }
                var target = rest[..<end].trimmingCharacters(in: .whitespaces)
                if let space = target.firstIndex(of: " ") { target = String(target[..<space]) }   // drop a "title"
                if target.hasPrefix("<") && target.hasSuffix(">") { target = String(target.dropFirst().dropLast()) }
                if !target.isEmpty { targets.append(target) }
                rest = rest[end...]
            }
        }
        return targets
    }

    // MARK: Fences

    struct Fence {
        var indent: String
        var character: Character
        var length: Int
        var info: String
    }

    /// A CommonMark opening fence: up to three spaces, three or more ` or ~, an info string.
    static func openingFence(_ line: String) -> Fence? {
        let indent = line.prefix { $0 == " " }
        guard indent.count <= 3 else { return nil }
        let rest = line.dropFirst(indent.count)
        guard let c = rest.first, c == "`" || c == "~" else { return nil }
        let run = rest.prefix { $0 == c }
        guard run.count >= 3 else { return nil }
        let info = rest.dropFirst(run.count).trimmingCharacters(in: .whitespaces)
        if c == "`" && info.contains("`") { return nil }
        return Fence(indent: String(indent), character: c, length: run.count, info: info.split(separator: " ").first.map(String.init) ?? "")
    }

    static func isClosingFence(_ line: String, for fence: Fence) -> Bool {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        guard line.prefix(while: { $0 == " " }).count <= 3, !trimmed.isEmpty else { return false }
        return trimmed.allSatisfy { $0 == fence.character } && trimmed.count >= fence.length
    }

    /// A path relative to the repository root when it lies inside it.
    public func displayPath(_ url: URL) -> String {
        let path = url.standardizedFileURL.path
        for r in rootSpellings() where path.hasPrefix(r + "/") { return String(path.dropFirst(r.count + 1)) }
        return path
    }
}

/// Errors of the tour generator; each names the section file (and line) or the missing file.
public enum TourError: Error, Equatable, Sendable, CustomStringConvertible {
    case io(path: String, reason: String)
    case section(file: String, line: Int, problem: String)
    case commandFailed(file: String, line: Int, command: String, reason: String)
    case missingImage(link: String, path: String)

    public var description: String {
        switch self {
        case let .io(path, reason):
            return "\(path): \(reason)"
        case let .section(file, line, problem):
            return "\(file):\(line): \(problem)"
        case let .commandFailed(file, line, command, reason):
            return "\(file):\(line): command `\(command)` failed: \(reason)"
        case let .missingImage(link, path):
            return "the tour links the image '\(link)', but \(path) does not exist (run the command that draws it first, or fix the link)"
        }
    }
}
