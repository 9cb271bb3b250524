import Foundation

/// Labelled statements for probing, read from CSV text with a header row naming the columns
/// `statement` and `label` (true/false or 1/0), and optionally `item`: the item type each
/// statement is about (e.g. the city), which the control task labels (Hewitt & Liang 2019).
/// Other columns are ignored. Fields may be quoted with `"` (a doubled `""` is a quote).
public struct ProbeDataset: Sendable, Equatable {
    public var statements: [String]
    public var labels: [Bool]
    /// The item type of each statement (the statement itself when the CSV has no `item` column).
    public var items: [String]

    public init(statements: [String], labels: [Bool], items: [String]? = nil) {
        self.statements = statements
        self.labels = labels
        self.items = items ?? statements
    }

    public var count: Int { statements.count }

    /// Parses CSV text; `source` names the file in errors.
    public static func parse(csv text: String, source: String) throws -> ProbeDataset {
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .map(String.init).enumerated().map { ($0 + 1, $1) }
        lines.removeAll { $0.1.trimmingCharacters(in: .whitespaces).isEmpty }
        guard let (_, headerLine) = lines.first else {
            throw SteeringProbeError.invalidData(source: source, line: 0, problem: "empty file; expected a header row with columns statement,label[,item]")
        }
        let header = try fields(headerLine, source: source, line: 1).map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard let si = header.firstIndex(of: "statement"), let li = header.firstIndex(of: "label") else {
            throw SteeringProbeError.invalidData(source: source, line: 1, problem: "header \(header) must name the columns 'statement' and 'label' (and optionally 'item')")
        }
        let ii = header.firstIndex(of: "item")
        var statements: [String] = [], labels: [Bool] = [], items: [String] = []
        for (number, line) in lines.dropFirst() {
            let f = try fields(line, source: source, line: number)
            guard f.count == header.count else {
                throw SteeringProbeError.invalidData(source: source, line: number, problem: "\(f.count) fields, expected \(header.count) (\(header.joined(separator: ",")))")
            }
            let statement = f[si]
            guard !statement.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw SteeringProbeError.invalidData(source: source, line: number, problem: "empty statement")
            }
            switch f[li].trimmingCharacters(in: .whitespaces).lowercased() {
            case "true", "1": labels.append(true)
            case "false", "0": labels.append(false)
            case let other: throw SteeringProbeError.invalidData(source: source, line: number, problem: "label '\(other)' is not true/false or 1/0")
            }
            statements.append(statement)
            items.append(ii.map { f[$0] } ?? statement)
        }
        guard labels.contains(true), labels.contains(false) else {
            throw SteeringProbeError.invalidData(source: source, line: 0, problem: "\(labels.count) rows but only one class; a probe needs true and false statements")
        }
        return ProbeDataset(statements: statements, labels: labels, items: items)
    }

    /// Splits one CSV line into fields.
    public static func fields(_ line: String, source: String, line number: Int) throws -> [String] {
        var out: [String] = [], current = "", quoted = false
        var chars = Array(line)[...]
        while let c = chars.popFirst() {
            if quoted {
                if c == "\"" {
                    if chars.first == "\"" { current.append("\""); chars.removeFirst() } else { quoted = false }
                } else { current.append(c) }
            } else if c == "\"" && current.isEmpty {
                quoted = true
            } else if c == "," {
                out.append(current); current = ""
            } else { current.append(c) }
        }
        guard !quoted else { throw SteeringProbeError.invalidData(source: source, line: number, problem: "unterminated quoted field") }
        out.append(current)
        return out
    }
}
